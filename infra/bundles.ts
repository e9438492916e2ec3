/**
 * Lean bundles: which AWS SDK clients each function uses, read from esbuild's own import
 * graph, so that each bundle carries only those.
 *
 * Why it is needed: the one client factory (`functions/aws/clients.ts`) imports every SDK
 * client, so a bundle of any handler would carry all nine. A handler *uses* a service only
 * if some module of its bundle other than the factory imports that service's package (it
 * cannot send a command without importing the command). The others are aliased to
 * `infra/lambda/absent-sdk-client.cjs`, whose classes throw a clear error if they are ever
 * constructed. STS stays whenever a member-account service does: the factory assumes the
 * agent role with it.
 *
 * The same analysis says which functions call into member accounts, and so which roles the
 * agent role trusts.
 */
import { buildSync, type Metafile } from 'esbuild';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The services of the client factory (`AwsServiceName` in functions/aws/clients.ts) and their packages. */
export const SDK_PACKAGES = {
  iam: ['@aws-sdk/client-iam'],
  sts: ['@aws-sdk/client-sts'],
  eks: ['@aws-sdk/client-eks'],
  ec2: ['@aws-sdk/client-ec2'],
  s3: ['@aws-sdk/client-s3'],
  sfn: ['@aws-sdk/client-sfn'],
  dynamodb: ['@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb'],
  rolesanywhere: ['@aws-sdk/client-rolesanywhere'],
  servicequotas: ['@aws-sdk/client-service-quotas'],
} as const;
export type SdkService = keyof typeof SDK_PACKAGES;

/** Services reached in member accounts through the agent role. */
export const MEMBER_SERVICES: readonly SdkService[] = [
  'iam',
  'eks',
  'ec2',
  's3',
  'rolesanywhere',
  'servicequotas',
];

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const CLIENT_FACTORY = 'functions/aws/clients.ts';
export const ABSENT_CLIENT_STUB = fileURLToPath(new URL('./lambda/absent-sdk-client.cjs', import.meta.url));

export interface BundleNeeds {
  /** The entry, relative to the repository root. */
  readonly entry: string;
  /** The SDK services the function uses. */
  readonly services: readonly SdkService[];
  /** Whether it calls into member accounts (and so must be trusted by the agent role). */
  readonly member: boolean;
}

/** Every package the project depends on (package.json), to keep out of the analysis pass. */
function dependencyNames(): string[] {
  const pkg = JSON.parse(readFileSync(`${REPO_ROOT}/package.json`, 'utf8')) as Record<string, unknown>;
  return ['dependencies', 'devDependencies'].flatMap((k) =>
    Object.keys((pkg[k] as object | undefined) ?? {}),
  );
}

function serviceOf(specifier: string): SdkService | undefined {
  for (const [service, packages] of Object.entries(SDK_PACKAGES)) {
    if ((packages as readonly string[]).some((p) => specifier === p || specifier.startsWith(`${p}/`)))
      return service as SdkService;
  }
  return undefined;
}

/**
 * One esbuild pass over every entry (no output written): the services each one uses.
 *
 * @example
 * analyseBundles(['functions/api/handler.ts'])[0].services; // ['dynamodb', 'eks', 'ec2', 'iam', 'sfn', 'sts']
 */
export function analyseBundles(entries: readonly string[]): BundleNeeds[] {
  const result = buildSync({
    absWorkingDir: REPO_ROOT,
    entryPoints: [...entries],
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    outdir: 'analysis',
    // Packages stay external: their imports are what is read, and nothing in them is parsed.
    external: dependencyNames().flatMap((name) => [name, `${name}/*`]),
    logLevel: 'silent',
  });
  return entries.map((entry) => needsOf(entry, result.metafile));
}

function needsOf(entry: string, metafile: Metafile): BundleNeeds {
  const output = Object.values(metafile.outputs).find((o) => o.entryPoint === entry);
  if (!output) throw new Error(`esbuild produced no output for ${entry}`);
  const used = new Set<SdkService>();
  for (const input of Object.keys(output.inputs)) {
    if (input.includes('node_modules/') || input === CLIENT_FACTORY) continue;
    for (const imported of metafile.inputs[input]?.imports ?? []) {
      const service = serviceOf(imported.original ?? imported.path);
      if (service) used.add(service);
    }
  }
  const member = MEMBER_SERVICES.some((s) => used.has(s));
  if (member) used.add('sts');
  return { entry, services: [...used].sort(), member };
}

/** The esbuild arguments that replace the packages of the services a bundle does not use. */
export function absentClientAliases(needs: BundleNeeds): Record<string, string> {
  const args: Record<string, string> = {};
  for (const [service, packages] of Object.entries(SDK_PACKAGES)) {
    if (needs.services.includes(service as SdkService)) continue;
    for (const p of packages) args[`--alias:${p}`] = ABSENT_CLIENT_STUB;
  }
  return args;
}
