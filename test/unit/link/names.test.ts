import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LinkSpec } from '#link/model';
import {
  earlierKubernetesUsernames,
  kubernetesUsername,
  targetRoleName,
  workloadRoleName,
} from '#link/names';

const IAM_ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
const dns1123Label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
const dns1123Subdomain = fc
  .array(fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/), { minLength: 1, maxLength: 10 })
  .map((parts) =>
    parts
      .join('.')
      .slice(0, 253)
      .replace(/[.-]+$/, ''),
  )
  .filter((s) => s.length > 0);
const account = fc.stringMatching(/^[0-9]{12}$/);
const cluster = fc.stringMatching(/^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/);

const spec = fc.record({
  source: fc.record({
    accountId: account,
    region: fc.constant('ap-southeast-1'),
    cluster,
    namespace: dns1123Label,
    serviceAccount: dns1123Subdomain,
  }),
  target: fc.record({ accountId: account, region: fc.constant('eu-west-1'), cluster }),
});

describe('role names', () => {
  it('stay within IAM role-name rules for any accepted input', () => {
    fc.assert(
      fc.property(spec, (s) => {
        expect(workloadRoleName(s.source)).toMatch(IAM_ROLE_NAME);
        expect(targetRoleName(s as unknown as LinkSpec)).toMatch(IAM_ROLE_NAME);
      }),
      { numRuns: 2000 },
    );
  });

  it('differ for workloads that differ only past the readable prefix', () => {
    const base = { accountId: '111111111111', region: 'ap-southeast-1', cluster: 'c', namespace: 'ns' };
    const long = 'a'.repeat(60);
    expect(workloadRoleName({ ...base, serviceAccount: `${long}-x` })).not.toBe(
      workloadRoleName({ ...base, serviceAccount: `${long}-y` }),
    );
  });

  it('are the same for the same workload (deterministic)', () => {
    const w = {
      accountId: '111111111111',
      region: 'ap-southeast-1',
      cluster: 'cluster-a',
      namespace: 'kubeai-chatbot',
      serviceAccount: 'kubeai-chatbot',
    };
    expect(workloadRoleName(w)).toBe(workloadRoleName({ ...w }));
    expect(workloadRoleName(w)).toMatch(/^tether-w-kubeai-chatbot-kubeai-chatbot-[0-9a-f]{10}$/);
  });
});

describe('the default Kubernetes username', () => {
  const API_USERNAME = /^[\x21-\x7E]{1,255}$/;
  const RESERVED = ['system:', 'eks:', 'aws:', 'amazon:', 'iam:'];
  const demo = {
    source: {
      accountId: '111111111111',
      region: 'ap-southeast-1',
      cluster: 'cluster-a',
      namespace: 'kubeai-chatbot',
      serviceAccount: 'kubeai-chatbot',
    },
    access: { groups: ['readers'] },
  };

  it('names the source account, region, cluster, namespace and service account, and ends with {{SessionName}}', () => {
    expect(kubernetesUsername(demo)).toBe(
      'tether:111111111111:ap-southeast-1:cluster-a:kubeai-chatbot:kubeai-chatbot:{{SessionName}}',
    );
  });

  it('is the request’s username when it names one, with no earlier default to recognise', () => {
    const spec = { ...demo, access: { groups: ['readers'], username: 'ci' } };
    expect(kubernetesUsername(spec)).toBe('ci');
    expect(earlierKubernetesUsernames(spec)).toEqual([]);
  });

  it('differs for same-named workloads in different accounts', () => {
    const other = { ...demo, source: { ...demo.source, accountId: '444444444444' } };
    expect(kubernetesUsername(other)).not.toBe(kubernetesUsername(demo));
  });

  it('fits the API’s username rules, avoids the prefixes EKS reserves, ends with {{SessionName}} and tells workloads apart, for any input', () => {
    fc.assert(
      fc.property(spec, spec, (a, b) => {
        const ua = kubernetesUsername({ ...a, access: { groups: ['g'] } });
        expect(ua).toMatch(API_USERNAME);
        expect(RESERVED.some((p) => ua.startsWith(p))).toBe(false);
        expect(ua.endsWith(':{{SessionName}}')).toBe(true);
        expect(ua.indexOf('{{SessionName}}')).toBe(ua.length - '{{SessionName}}'.length);
        const ub = kubernetesUsername({ ...b, access: { groups: ['g'] } });
        const sameWorkload = JSON.stringify(a.source) === JSON.stringify(b.source);
        expect(ua === ub).toBe(sameWorkload);
      }),
      { numRuns: 2000 },
    );
  });
});
