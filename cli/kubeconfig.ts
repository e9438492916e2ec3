/**
 * `link kubeconfig --merge`: what `aws eks update-kubeconfig` does with a link's kubeconfig.
 * The existing file is edited in place as a YAML document, so its other clusters, users,
 * contexts, preferences and comments stay as they were; the link's cluster, user and
 * context are upserted by name, and current-context changes only when asked (or when the
 * file had none).
 */
import { mkdir, readFile, realpath, rename, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { Document, isMap, isSeq, parse as parseYaml, parseDocument } from 'yaml';
import { UsageError } from './exit-codes';

const SECTIONS = ['clusters', 'users', 'contexts'] as const;

/** The file `aws eks update-kubeconfig` and kubectl would use: the first of $KUBECONFIG, else ~/.kube/config. */
export function defaultKubeconfigPath(env: NodeJS.ProcessEnv): string {
  const first = env.KUBECONFIG?.split(delimiter).find(Boolean);
  return first ?? join(env.HOME || homedir(), '.kube', 'config');
}

export interface MergeOptions {
  /** The context's name in the file (the link's own is the cluster name). */
  readonly alias?: string;
  /** Make the link's context the current one. */
  readonly setContext?: boolean;
}

export interface MergeResult {
  readonly text: string;
  readonly context: string;
  /** The context was not in the file before. */
  readonly added: boolean;
  readonly currentContext: string | undefined;
}

type NamedEntry = { name: string } & Record<string, unknown>;

function entriesOf(config: Record<string, unknown>, section: string): NamedEntry[] {
  const list = config[section];
  if (!Array.isArray(list)) return [];
  return list.filter((e): e is NamedEntry => !!e && typeof e === 'object' && typeof e.name === 'string');
}

/**
 * Merges the link's kubeconfig (`incoming`) into `existing` (the file's text, or undefined
 * when there is no file).
 */
export function mergeKubeconfig(
  existing: string | undefined,
  incoming: string,
  options: MergeOptions = {},
): MergeResult {
  const link = parseYaml(incoming) as Record<string, unknown>;
  if (!link || typeof link !== 'object')
    throw new Error('The API answered with a kubeconfig that is not YAML');
  const contexts = entriesOf(link, 'contexts');
  const context = contexts.find((c) => c.name === link['current-context']) ?? contexts[0];
  if (!context) throw new Error('The API answered with a kubeconfig that has no context');
  const contextName = options.alias ?? context.name;
  const renamed: Record<string, NamedEntry[]> = {
    clusters: entriesOf(link, 'clusters'),
    users: entriesOf(link, 'users'),
    contexts: [{ ...context, name: contextName }],
  };

  const parsed = existing?.trim() ? parseDocument(existing) : undefined;
  if (parsed?.errors.length) {
    throw new UsageError(`the kubeconfig is not valid YAML: ${parsed.errors[0]!.message.split('\n')[0]}`);
  }
  const doc: Document =
    parsed && parsed.contents !== null
      ? parsed
      : // No file, or one with only comments: start the file kubectl would write.
        new Document({
          apiVersion: 'v1',
          kind: 'Config',
          preferences: {},
          clusters: [],
          contexts: [],
          users: [],
        });
  if (!isMap(doc.contents)) throw new UsageError('the kubeconfig is not a YAML mapping');

  let added = true;
  for (const section of SECTIONS) {
    let seq = doc.get(section);
    if (!isSeq(seq)) {
      seq = doc.createNode([]);
      doc.set(section, seq);
    }
    const items = (seq as { items: unknown[] }).items;
    for (const entry of renamed[section]!) {
      const node = doc.createNode(entry);
      const at = items.findIndex((item) => isMap(item) && item.get('name') === entry.name);
      if (section === 'contexts' && at >= 0) added = false;
      if (at >= 0) items[at] = node;
      else items.push(node);
    }
  }
  const current = doc.get('current-context');
  if (options.setContext || typeof current !== 'string' || current === '') {
    doc.set('current-context', contextName);
  }
  const now = doc.get('current-context');
  return {
    text: doc.toString({ lineWidth: 0, indentSeq: false }),
    context: contextName,
    added,
    currentContext: typeof now === 'string' ? now : undefined,
  };
}

/** Reads a kubeconfig file; undefined when there is none. */
export async function readKubeconfig(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`cannot read the kubeconfig ${path}: ${(err as Error).message}`);
  }
}

/**
 * Writes a kubeconfig through a temporary file and a rename, so a reader never sees half a
 * file; a new file is private to its owner (0600), an existing one keeps its mode.
 */
export async function writeKubeconfig(path: string, text: string): Promise<void> {
  let target = path;
  let mode = 0o600;
  try {
    target = await realpath(path);
    mode = (await stat(target)).mode & 0o777;
  } catch {
    // a new file
  }
  try {
    await mkdir(dirname(target), { recursive: true, mode: 0o700 });
    const tmp = `${target}.tether-${process.pid}.tmp`;
    await writeFile(tmp, text, { mode });
    await rename(tmp, target);
  } catch (err) {
    throw new UsageError(`cannot write the kubeconfig ${path}: ${(err as Error).message}`);
  }
}
