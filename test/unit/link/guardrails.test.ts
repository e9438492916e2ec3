/**
 * The guardrails of a request, stated twice — in `api/openapi.yaml` (the source of truth,
 * so the router refuses a mistake with its field) and in `#link/` (so the plan refuses it
 * whoever calls it) — and kept equal here: the Regions with their partitions, the EKS access
 * policies for people and workloads, and the usernames and groups EKS accepts.
 */
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ACCESS_POLICY_ARNS, ACCESS_POLICY_NAMES, accessPolicyArn } from '#link/access-policies';
import { InvalidRequestError, PartitionUnsupportedError } from '#link/errors';
import { assertRequestAllowed, groupProblem, usernameProblem } from '#link/guardrails';
import type { OnboardingRequest } from '#link/model';
import { AWS_REGIONS, partitionOf, REGION_NAMES, SUPPORTED_PARTITION } from '#link/regions';
import { DEMO_REQUEST } from '#local/demo';

const spec = parseYaml(readFileSync(new URL('../../../api/openapi.yaml', import.meta.url), 'utf8'));
const schemas = spec.components.schemas as Record<string, Record<string, unknown>>;
const ajv = new Ajv2020({ strict: false });
const validUsername = ajv.compile(schemas.KubernetesUsername ?? {});
const validGroup = ajv.compile(schemas.KubernetesGroup ?? {});

describe('the spec and #link/ agree', () => {
  it('on the Regions', () => {
    expect(schemas.Region?.enum).toEqual(REGION_NAMES);
  });

  it('on the EKS access policies', () => {
    expect(schemas.AccessPolicyArn?.enum).toEqual(ACCESS_POLICY_ARNS);
    expect(ACCESS_POLICY_ARNS).toEqual(ACCESS_POLICY_NAMES.map(accessPolicyArn));
  });

  // Strings made of the pieces the rules are about, so the property meets them often.
  const pieces = fc.constantFrom(
    'system:',
    'eks:',
    'aws:',
    'amazon:',
    'iam:',
    'System:',
    '{{SessionName}}',
    '{{AccountID}}',
    '{{',
    '}}',
    '{',
    '}',
    'SessionName',
    'ci',
    ':',
    '-',
    'a',
  );
  const made = fc.array(pieces, { minLength: 1, maxLength: 6 }).map((ps) => ps.join(''));

  it('on usernames (1000 strings)', () => {
    fc.assert(
      fc.property(fc.oneof(made, fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 40 })), (u) => {
        // The schema's other rules (printable ASCII, length) are not guardrails.
        const printable = /^[\x21-\x7E]{1,255}$/.test(u);
        expect(validUsername(u), u).toBe(printable && usernameProblem(u) === undefined);
      }),
      { numRuns: 1000 },
    );
  });

  it('on groups (1000 strings)', () => {
    fc.assert(
      fc.property(made, (g) => {
        const wellFormed = /^[a-zA-Z0-9:._-]{1,63}$/.test(g);
        expect(validGroup(g), g).toBe(wellFormed && groupProblem(g) === undefined);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('usernameProblem and groupProblem', () => {
  it.each([
    'ci',
    'ci-{{SessionName}}',
    '{{SessionName}}',
    'arn:aws:sts::222222222222:assumed-role/target/{{SessionName}}',
    'System:admin',
    'my-system:user',
  ])('accept username %s', (u) => {
    expect(usernameProblem(u)).toBeUndefined();
  });

  it.each([
    ['system:admin', /'system:'/],
    ['eks:node', /'eks:'/],
    ['aws:me', /'aws:'/],
    ['amazon:me', /'amazon:'/],
    ['iam:me', /'iam:'/],
    ['{{AccountID}}-ci', /trailing '\{\{SessionName\}\}'/],
    ['{{SessionName}}-ci', /trailing/],
    ['ci}}{{SessionName}}', /trailing/],
  ])('refuse username %s', (u, why) => {
    expect(usernameProblem(u)).toMatch(why);
  });

  it('refuses system: groups only', () => {
    expect(groupProblem('system:masters')).toMatch(/'system:'/);
    expect(groupProblem('system:authenticated')).toMatch(/'system:'/);
    expect(groupProblem('viewers')).toBeUndefined();
    expect(groupProblem('team:system:x')).toBeUndefined();
  });
});

describe('regions', () => {
  it('puts the demo Regions in the aws partition and the others where they belong', () => {
    expect(partitionOf('ap-southeast-1')).toBe(SUPPORTED_PARTITION);
    expect(partitionOf('eu-west-1')).toBe('aws');
    expect(partitionOf('cn-north-1')).toBe('aws-cn');
    expect(partitionOf('us-gov-west-1')).toBe('aws-us-gov');
    expect(partitionOf('xx-fake-1')).toBeUndefined();
    expect(partitionOf('toString')).toBeUndefined();
    // Every name has the shape of a Region code.
    for (const r of REGION_NAMES) expect(r).toMatch(/^[a-z]{2,4}(-[a-z]+)+-\d$/);
    expect(Object.values(AWS_REGIONS).filter((p) => p === 'aws').length).toBeGreaterThan(30);
  });
});

describe('assertRequestAllowed', () => {
  const request = (change: (r: any) => void = () => undefined): OnboardingRequest => {
    const r = {
      ...structuredClone(DEMO_REQUEST),
      identity: { mode: 'irsa' },
      network: { mode: 'nat' },
    } as any;
    change(r);
    return r as OnboardingRequest;
  };
  const thrown = (r: OnboardingRequest) => {
    try {
      assertRequestAllowed(r);
    } catch (err) {
      return err as InvalidRequestError | PartitionUnsupportedError;
    }
    return undefined;
  };

  it('lets the demo request through', () => {
    expect(thrown(request())).toBeUndefined();
  });

  it('names every field at fault, with VALIDATION_FAILED', () => {
    const err = thrown(
      request((r) => {
        r.source.region = 'xx-fake-1';
        r.targets[0].access.policyArn = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSAutoNodePolicy';
        r.targets[0].access.username = 'eks:me';
        r.targets.push({
          accountId: '333333333333',
          region: 'cn-north-1',
          cluster: 'cluster-d',
          access: { groups: ['viewers', 'system:masters'] },
        });
      }),
    );
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err?.code).toBe('VALIDATION_FAILED');
    expect(err?.errors.map((e) => e.path)).toEqual([
      '/source/region',
      '/targets/0/access/policyArn',
      '/targets/0/access/username',
      '/targets/1/access/groups/1',
    ]);
  });

  it('refuses Regions of other partitions with PARTITION_UNSUPPORTED', () => {
    const err = thrown(
      request((r) => {
        r.source.region = 'us-gov-west-1';
        r.targets[0].region = 'cn-northwest-1';
      }),
    );
    expect(err).toBeInstanceOf(PartitionUnsupportedError);
    expect(err?.code).toBe('PARTITION_UNSUPPORTED');
    expect(err?.errors.map((e) => e.path)).toEqual(['/source/region', '/targets/0/region']);
    expect(err?.message).toMatch(/aws-us-gov partition/);
  });
});
