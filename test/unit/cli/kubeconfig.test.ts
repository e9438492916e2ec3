/** `link kubeconfig --merge`: the link's cluster, user and context upserted by name, the rest of the file kept. */
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { UsageError } from '#cli/exit-codes';
import { defaultKubeconfigPath, mergeKubeconfig } from '#cli/kubeconfig';

const ARN = 'arn:aws:eks:ap-southeast-1:222222222222:cluster/cluster-b';
const USER = 'arn:aws:iam::222222222222:role/tether/tether-t-cluster-b-sa-0123456789';
/** A link's kubeconfig as functions/resources/kubeconfig.ts names it: cluster and context by the cluster ARN, user by the target role ARN. */
const linkConfig = (server = 'https://b.example') =>
  YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: ARN, cluster: { server, 'certificate-authority-data': 'Q0E=' } }],
    contexts: [{ name: ARN, context: { cluster: ARN, user: USER } }],
    'current-context': ARN,
    users: [{ name: USER, user: { exec: { command: 'aws', args: ['eks', 'get-token'] } } }],
  });

const EXISTING = `# managed by hand
apiVersion: v1
kind: Config
clusters:
- name: dev
  cluster: {server: https://dev.example} # the dev cluster
contexts:
- name: dev
  context: {cluster: dev, user: dev}
current-context: dev
preferences: {}
users:
- name: dev
  user: {token: t}
`;

describe('mergeKubeconfig', () => {
  it('adds the link to a file, keeping its entries, comments and current context', () => {
    const merged = mergeKubeconfig(EXISTING, linkConfig());
    expect(merged).toMatchObject({ context: ARN, added: true, currentContext: 'dev' });
    expect(merged.text).toContain('# managed by hand');
    expect(merged.text).toContain('# the dev cluster');
    const config = YAML.parse(merged.text);
    expect(config.clusters.map((c: any) => c.name)).toEqual(['dev', ARN]);
    expect(config.users.map((c: any) => c.name)).toEqual(['dev', USER]);
    expect(config.contexts).toEqual([
      { name: 'dev', context: { cluster: 'dev', user: 'dev' } },
      { name: ARN, context: { cluster: ARN, user: USER } },
    ]);
    expect(config['current-context']).toBe('dev');
  });

  it('replaces entries of the same name instead of doubling them', () => {
    const once = mergeKubeconfig(EXISTING, linkConfig('https://old.example')).text;
    const twice = mergeKubeconfig(once, linkConfig('https://new.example'));
    expect(twice.added).toBe(false);
    const config = YAML.parse(twice.text);
    expect(config.clusters).toHaveLength(2);
    expect(config.clusters[1].cluster.server).toBe('https://new.example');
    expect(config.contexts).toHaveLength(2);
  });

  it('names the context by --alias and sets current-context only when asked', () => {
    const merged = mergeKubeconfig(EXISTING, linkConfig(), { alias: 'prod-b', setContext: true });
    const config = YAML.parse(merged.text);
    expect(config.contexts[1].name).toBe('prod-b');
    expect(config.contexts[1].context.cluster).toBe(ARN);
    expect(config['current-context']).toBe('prod-b');
  });

  it('starts a kubeconfig when there is none, or only comments, and makes the link current', () => {
    for (const existing of [undefined, '', '# nothing yet\n']) {
      const merged = mergeKubeconfig(existing, linkConfig());
      const config = YAML.parse(merged.text);
      expect(config).toMatchObject({ apiVersion: 'v1', kind: 'Config', 'current-context': ARN });
      expect(config.contexts).toHaveLength(1);
    }
  });

  it('copes with the nulls kubectl writes for empty lists', () => {
    const merged = mergeKubeconfig(
      'apiVersion: v1\nkind: Config\nclusters: null\ncontexts: null\nusers: null\ncurrent-context: ""\n',
      linkConfig(),
    );
    const config = YAML.parse(merged.text);
    expect(config.clusters).toHaveLength(1);
    expect(config['current-context']).toBe(ARN);
  });

  it('refuses a file that is not a YAML mapping', () => {
    expect(() => mergeKubeconfig('clusters: [\n', linkConfig())).toThrow(UsageError);
    expect(() => mergeKubeconfig('- a\n', linkConfig())).toThrow(/not a YAML mapping/);
  });
});

describe('defaultKubeconfigPath', () => {
  it('is the first path of $KUBECONFIG, else ~/.kube/config', () => {
    expect(defaultKubeconfigPath({ KUBECONFIG: '/a/config:/b/config', HOME: '/home/x' })).toBe('/a/config');
    expect(defaultKubeconfigPath({ HOME: '/home/x' })).toBe('/home/x/.kube/config');
  });
});
