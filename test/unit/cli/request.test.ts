/** The onboarding request of `link create` / `plan`, from flags or a file: what the API then accepts. */
import { writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadApiRouter } from '#api/openapi/router';
import { UsageError } from '#cli/exit-codes';
import { buildRequest, policyArnOf, requestFromFlags } from '#cli/request';
import { DEMO_REQUEST } from '#local/demo';
import { apiEvent } from '../api/api-events';

const SOURCE = '111111111111/ap-southeast-1/cluster-a/kubeai-chatbot/kubeai-chatbot';
const TARGET = '222222222222/ap-southeast-1/cluster-b';

/** The body as the API's router sees it: validated against api/openapi.yaml, defaults filled in. */
const accepted = (body: unknown) => loadApiRouter().match(apiEvent('POST', '/links', { body })).body;
const stdin = (text = '') => {
  const s = new PassThrough();
  s.end(text);
  return s;
};

describe('requestFromFlags', () => {
  it('builds the demo request from --source, --target and a policy short name', () => {
    const body = requestFromFlags({ source: SOURCE, target: [TARGET], policy: 'AmazonEKSViewPolicy' });
    expect(body).toEqual(DEMO_REQUEST);
    expect(accepted(body)).toMatchObject({ identity: { mode: 'irsa' }, network: { mode: 'nat' } });
  });

  it('takes several targets, a namespace scope, a username, CIDRs and the identity mode', () => {
    const body = requestFromFlags({
      source: SOURCE,
      target: [TARGET, '333333333333/eu-west-1/cluster-d'],
      policy: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy',
      scope: 'namespace:a,b',
      username: 'ci-bot',
      cidr: ['203.0.113.7/32', '198.51.100.0/24'],
      identity: 'irsa',
    });
    expect(body).toMatchObject({
      identity: { mode: 'irsa' },
      network: { mode: 'cidrs', cidrs: ['203.0.113.7/32', '198.51.100.0/24'] },
      targets: [
        {
          cluster: 'cluster-b',
          access: {
            policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy',
            scope: { type: 'namespace', namespaces: ['a', 'b'] },
            username: 'ci-bot',
          },
        },
        { accountId: '333333333333', region: 'eu-west-1', cluster: 'cluster-d' },
      ],
    });
    expect(() => accepted(body)).not.toThrow();
  });

  it('takes groups instead of a policy, and network none', () => {
    const body = requestFromFlags({
      source: SOURCE,
      target: [TARGET],
      group: ['viewers', 'ops'],
      network: 'none',
    });
    expect(body).toMatchObject({
      network: { mode: 'none' },
      targets: [{ access: { groups: ['viewers', 'ops'] } }],
    });
    expect(() => accepted(body)).not.toThrow();
  });

  it.each([
    [{ target: [TARGET], policy: 'P' }, /needs --source/],
    [{ source: SOURCE, policy: 'P' }, /needs --target/],
    [{ source: SOURCE, target: [TARGET] }, /--policy NAME\|ARN or --group GROUP/],
    [{ source: SOURCE, target: [TARGET], policy: 'P', group: ['g'] }, /not both/],
    [{ source: SOURCE, target: [TARGET], group: ['g'], scope: 'cluster' }, /--scope goes with --policy/],
    [
      { source: 'a/b/c', target: [TARGET], policy: 'P' },
      /--source must be ACCOUNT\/REGION\/CLUSTER\/NAMESPACE\/SERVICEACCOUNT/,
    ],
    [{ source: SOURCE, target: ['a//c'], policy: 'P' }, /--target must be ACCOUNT\/REGION\/CLUSTER/],
    [{ source: SOURCE, target: [TARGET], policy: 'P', scope: 'namespaces' }, /--scope must be/],
    [{ source: SOURCE, target: [TARGET], policy: 'P', network: 'cidrs' }, /needs at least one --cidr/],
    [
      { source: SOURCE, target: [TARGET], policy: 'P', network: 'nat', cidr: ['1.2.3.4/32'] },
      /--cidr goes with/,
    ],
  ])('refuses %j as a usage error', (flags, message) => {
    expect(() => requestFromFlags(flags)).toThrow(UsageError);
    expect(() => requestFromFlags(flags)).toThrow(message);
  });

  it('leaves the values to the API, which names each invalid field', () => {
    const body = requestFromFlags({ source: '1/mars/c/NS/sa', target: [TARGET], policy: 'View' });
    expect(() => accepted(body)).toThrow(/12-digit/);
  });

  it('policyArnOf', () => {
    expect(policyArnOf('AmazonEKSViewPolicy')).toBe(
      'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
    );
    expect(policyArnOf('arn:aws-cn:eks::aws:cluster-access-policy/X')).toBe(
      'arn:aws-cn:eks::aws:cluster-access-policy/X',
    );
  });
});

describe('buildRequest from a file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-request-'));

  it('reads YAML and JSON files, and standard input', async () => {
    const yaml = join(dir, 'r.yaml');
    writeFileSync(yaml, 'source: {accountId: "111111111111"}\ntargets: []\n');
    expect(await buildRequest({ file: yaml }, stdin())).toEqual({
      source: { accountId: '111111111111' },
      targets: [],
    });
    const json = join(dir, 'r.json');
    writeFileSync(json, JSON.stringify(DEMO_REQUEST));
    expect(await buildRequest({ file: json }, stdin())).toEqual(DEMO_REQUEST);
    expect(await buildRequest({ file: '-' }, stdin(JSON.stringify(DEMO_REQUEST)))).toEqual(DEMO_REQUEST);
  });

  it('refuses a file with flags, a missing file, bad YAML, duplicate keys and a non-mapping', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'source: [\n');
    const dup = join(dir, 'dup.yaml');
    writeFileSync(dup, 'source: {}\nsource: {}\n');
    const list = join(dir, 'list.yaml');
    writeFileSync(list, '- a\n');
    await expect(buildRequest({ file: bad, target: [TARGET] }, stdin())).rejects.toThrow(
      /not both .*--target/,
    );
    await expect(buildRequest({ file: join(dir, 'none.yaml') }, stdin())).rejects.toThrow(
      /cannot read the request file/,
    );
    await expect(buildRequest({ file: bad }, stdin())).rejects.toThrow(/not valid YAML or JSON/);
    await expect(buildRequest({ file: dup }, stdin())).rejects.toThrow(/not valid YAML or JSON/);
    await expect(buildRequest({ file: list }, stdin())).rejects.toThrow(/must hold one onboarding request/);
  });
});
