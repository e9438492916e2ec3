/**
 * Who may do what, decided by Cedar policies (docs/architecture.md#who-may-link-what): the
 * policies and their schema live in files the operator edits (`policies/` by default:
 * `*.cedarschema` and `*.cedar`), loaded and validated against the schema when the API
 * starts — a file that does not parse or validate stops the start with a message naming the
 * file, line and column. Each API operation asks {@link AccessPolicies.decide} with the caller
 * (a `Tether::Caller` in its `Tether::Account`), an action and the link (as asked for, or as
 * recorded). Cedar is the language of Amazon Verified Permissions, so the same policies can
 * move there.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { type Caller, callerName } from '#link/caller';
import { hasPrivateRanges } from '#link/cidrs';
import type { ClusterRef, Link, LinkSpec } from '#link/model';
import { linkNaturalKey } from '#link/names';

/** The actions of the policies, one per kind of API operation. */
export const ACTIONS = ['CreateLink', 'ReadLink', 'ReconcileLink', 'DeleteLink', 'ApproveLink'] as const;
export type Action = (typeof ACTIONS)[number];

/** The actions on self-managed clusters (`PUT`, `GET`, `DELETE /clusters/{accountId}/{region}/{name}`). */
export const CLUSTER_ACTIONS = ['RegisterCluster', 'ReadCluster', 'DeregisterCluster'] as const;
export type ClusterAction = (typeof CLUSTER_ACTIONS)[number];

/** The resource of a request: a recorded link, or a link being asked for (its spec). */
export type LinkResource =
  | { readonly link: Link }
  | { readonly spec: LinkSpec; readonly createdBy?: Caller; readonly status?: string };

/** One question to the policies. */
export interface AccessRequest {
  readonly caller: Caller;
  readonly action: Action;
  readonly resource: LinkResource;
  /** CreateLink only: whether an approver has approved (the policies' `context.approved`). */
  readonly approved?: boolean;
}

/** The policies' answer. */
export interface AccessDecision {
  readonly allowed: boolean;
  /** The policies that decided: the permits that allowed, or the forbids that denied (none: nothing permits). */
  readonly policies: readonly string[];
  /** Policies that could not be evaluated for this request (they count as not matching). */
  readonly errors: readonly string[];
}

/** Cedar's answer as Tether's decision; a failed request is a bug of Tether's (the probe at load checks the policies), not of the policies. */
function decisionOf(answer: cedar.AuthorizationAnswer): AccessDecision {
  if (answer.type === 'failure') {
    throw new Error(`Cedar refused the request: ${answer.errors.map(messageOf).join('; ')}`);
  }
  const { decision, diagnostics } = answer.response;
  return {
    allowed: decision === 'allow',
    policies: diagnostics.reason,
    errors: diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`),
  };
}

/** A policy or schema file that does not parse, or does not validate against the schema. */
export class PolicyFileError extends Error {
  override readonly name = 'PolicyFileError';
}

/** The folder of the policies: the argument, else `TETHER_POLICY_DIR`, else `policies/` of this repository. */
export function resolvePolicyDir(dir?: string): string {
  if (dir !== undefined && dir !== '') return dir;
  const fromEnv = process.env.TETHER_POLICY_DIR;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return fileURLToPath(new URL('../../policies/', import.meta.url));
}

const NS = 'Tether';
const entity = (type: string, id: string) => ({ __entity: { type: `${NS}::${type}`, id } });
const uid = (type: string, id: string) => ({ type: `${NS}::${type}`, id });

/** `file:line:column` of an offset in a text. */
function place(file: string, text: string, offset: number | undefined): string {
  if (offset === undefined) return file;
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return `${file}:${line}:${column}`;
}

function messageOf(error: cedar.DetailedError): string {
  const label = error.sourceLocations?.[0]?.label;
  return [error.message, label, error.help]
    .filter((s) => s !== null && s !== undefined && s !== '')
    .join('; ');
}

let preparsed = 0;

/**
 * The loaded policies and schema, ready to answer.
 *
 * @example
 * const policies = loadAccessPolicies({ hubAccountId: '000000000000' });
 * policies.decide({ caller, action: 'ReadLink', resource: { link } }).allowed;
 */
export class AccessPolicies {
  /** Tether's own account: the policies' `context.hub`. */
  readonly hubAccountId: string;
  /** The files read, for messages. */
  readonly files: readonly string[];
  /** The id of every policy (its `@id`, else `<file>#<n>`), with where it is. */
  readonly policyIds: ReadonlyMap<string, string>;
  readonly #schemaName: string;
  readonly #policySetId: string;

  private constructor(
    hubAccountId: string,
    files: string[],
    ids: Map<string, string>,
    schema: string,
    set: string,
  ) {
    this.hubAccountId = hubAccountId;
    this.files = files;
    this.policyIds = ids;
    this.#schemaName = schema;
    this.#policySetId = set;
  }

  /**
   * Reads `*.cedarschema` (exactly one) and `*.cedar` (at least one) of the folder, and
   * validates every policy against the schema in Cedar's strict mode. Throws
   * {@link PolicyFileError} naming the file, line and column of the first problems.
   */
  static load(options: { readonly dir?: string; readonly hubAccountId: string }): AccessPolicies {
    const dir = resolvePolicyDir(options.dir);
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (err) {
      throw new PolicyFileError(`Cannot read the policy folder ${dir}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const schemaFiles = names.filter((n) => n.endsWith('.cedarschema'));
    const policyFiles = names.filter((n) => n.endsWith('.cedar'));
    if (schemaFiles.length !== 1) {
      throw new PolicyFileError(
        `The policy folder ${dir} must hold exactly one .cedarschema file; it holds ${schemaFiles.length}`,
      );
    }
    if (policyFiles.length === 0) {
      throw new PolicyFileError(
        `The policy folder ${dir} holds no .cedar file: every request would be refused`,
      );
    }
    const schemaPath = join(dir, schemaFiles[0] ?? '');
    const schemaText = readFileSync(schemaPath, 'utf8');
    const parsedSchema = cedar.checkParseSchema(schemaText);
    if (parsedSchema.type === 'failure') {
      throw new PolicyFileError(
        parsedSchema.errors
          .map((e) => `${place(schemaPath, schemaText, e.sourceLocations?.[0]?.start)}: ${messageOf(e)}`)
          .join('\n'),
      );
    }

    const problems: string[] = [];
    const policies: Record<string, string> = {};
    const ids = new Map<string, string>();
    for (const name of policyFiles) {
      const path = join(dir, name);
      const text = readFileSync(path, 'utf8');
      const parsed = cedar.checkParsePolicySet({ staticPolicies: text });
      if (parsed.type === 'failure') {
        for (const e of parsed.errors)
          problems.push(`${place(path, text, e.sourceLocations?.[0]?.start)}: ${messageOf(e)}`);
        continue;
      }
      const validated = cedar.validate({
        schema: schemaText,
        policies: { staticPolicies: text },
        validationSettings: { mode: 'strict' },
      });
      if (validated.type === 'failure') {
        for (const e of validated.errors) problems.push(`${path}: ${messageOf(e)}`);
        continue;
      }
      for (const { error } of validated.validationErrors) {
        problems.push(`${place(path, text, error.sourceLocations?.[0]?.start)}: ${messageOf(error)}`);
      }
      const parts = cedar.policySetTextToParts(text);
      if (parts.type === 'failure') continue; // reported by checkParsePolicySet
      let cursor = 0;
      parts.policies.forEach((policy, n) => {
        const at = text.indexOf(policy, cursor);
        if (at >= 0) cursor = at + policy.length;
        const json = cedar.policyToJson(policy);
        const declared = json.type === 'success' ? json.json.annotations?.id : undefined;
        const id = declared ?? `${basename(name)}#${n}`;
        const where = place(path, text, at >= 0 ? at : undefined);
        const clash = ids.get(id);
        if (clash) problems.push(`${where}: policy id "${id}" is also the id of the policy at ${clash}`);
        ids.set(id, where);
        policies[id] = policy;
      });
    }
    if (problems.length > 0) {
      throw new PolicyFileError(
        `The policies do not validate against ${schemaPath}:\n${problems.join('\n')}`,
      );
    }

    preparsed += 1;
    const schemaName = `tether-schema-${preparsed}`;
    const setId = `tether-policies-${preparsed}`;
    const schemaLoaded = cedar.preparseSchema(schemaName, schemaText);
    const setLoaded = cedar.preparsePolicySet(setId, { staticPolicies: policies });
    for (const loaded of [schemaLoaded, setLoaded]) {
      if (loaded.type === 'failure') {
        throw new PolicyFileError(loaded.errors.map((e) => `${dir}: ${messageOf(e)}`).join('\n'));
      }
    }
    const loaded = new AccessPolicies(
      options.hubAccountId,
      [schemaPath, ...policyFiles.map((n) => join(dir, n))],
      ids,
      schemaName,
      setId,
    );
    loaded.#probe(schemaPath);
    return loaded;
  }

  /**
   * Asks every action once of a made-up request, so a schema that does not describe what
   * Tether passes stops the start rather than every later request.
   */
  #probe(schemaPath: string): void {
    const caller: Caller = { arn: 'arn:aws:iam::111111111111:user/probe', accountId: '111111111111' };
    const spec: LinkSpec = {
      source: {
        accountId: '111111111111',
        region: 'us-east-1',
        cluster: 'a',
        namespace: 'ns',
        serviceAccount: 'sa',
      },
      target: { accountId: '222222222222', region: 'us-east-1', cluster: 'b' },
      access: {
        policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
        scope: { type: 'cluster' },
      },
      network: { mode: 'nat' },
      identity: { mode: 'irsa' },
    };
    for (const action of [...ACTIONS, ...CLUSTER_ACTIONS]) {
      const answer = (CLUSTER_ACTIONS as readonly string[]).includes(action)
        ? this.#askCluster(caller, action as ClusterAction, spec.source)
        : this.#ask({
            caller,
            action: action as Action,
            resource: { spec, createdBy: caller },
            approved: false,
          });
      if (answer.type === 'failure') {
        throw new PolicyFileError(
          `${schemaPath} does not describe the request Tether passes for ${action}: ${answer.errors.map(messageOf).join('; ')}`,
        );
      }
    }
  }

  /** The policies' answer to an action on a self-managed cluster. */
  decideOnCluster(request: {
    readonly caller: Caller;
    readonly action: ClusterAction;
    readonly cluster: ClusterRef;
  }): AccessDecision {
    return decisionOf(this.#askCluster(request.caller, request.action, request.cluster));
  }

  #askCluster(caller: Caller, action: ClusterAction, cluster: ClusterRef): cedar.AuthorizationAnswer {
    const principal = callerEntity(caller);
    const id = `${cluster.accountId}/${cluster.region}/${cluster.cluster}`;
    const resource = {
      uid: uid('SelfManagedCluster', id),
      attrs: {
        account: entity('Account', cluster.accountId),
        accountId: cluster.accountId,
        region: cluster.region,
        name: cluster.cluster,
      },
      parents: [],
    };
    return cedar.statefulIsAuthorized({
      principal: principal.uid,
      action: uid('Action', action),
      resource: resource.uid,
      context: { hub: entity('Account', this.hubAccountId) },
      preparsedPolicySetId: this.#policySetId,
      preparsedSchemaName: this.#schemaName,
      validateRequest: true,
      entities: [principal, resource],
    });
  }

  /** The policies' answer to one request. */
  decide(request: AccessRequest): AccessDecision {
    return decisionOf(this.#ask(request));
  }

  #ask(request: AccessRequest): cedar.AuthorizationAnswer {
    const principal = callerEntity(request.caller);
    const resource = linkEntity(request.resource);
    return cedar.statefulIsAuthorized({
      principal: principal.uid,
      action: uid('Action', request.action),
      resource: resource.uid,
      context: {
        hub: entity('Account', this.hubAccountId),
        ...(request.action === 'CreateLink' ? { approved: request.approved === true } : {}),
      },
      preparsedPolicySetId: this.#policySetId,
      preparsedSchemaName: this.#schemaName,
      validateRequest: true,
      entities: [principal, resource],
    });
  }
}

/** The caller as a `Tether::Caller` entity, in its account. */
function callerEntity(caller: Caller) {
  return {
    uid: uid('Caller', caller.arn),
    attrs: {
      arn: caller.arn,
      account: entity('Account', caller.accountId),
      name: callerName(caller.arn),
      ...(caller.organizationId ? { organization: caller.organizationId } : {}),
    },
    parents: [uid('Account', caller.accountId)],
  };
}

/** The link as a `Tether::Link` entity: its id, or `requested:<natural key>` while asked for. */
function linkEntity(resource: LinkResource) {
  const spec = 'link' in resource ? resource.link.spec : resource.spec;
  const createdBy = 'link' in resource ? resource.link.createdBy : resource.createdBy;
  const id = 'link' in resource ? resource.link.id : `requested:${linkNaturalKey(spec)}`;
  const status = 'link' in resource ? resource.link.status : (resource.status ?? 'REQUESTED');
  const { access, network } = spec;
  return {
    uid: uid('Link', id),
    attrs: {
      source: { ...spec.source },
      sourceAccount: entity('Account', spec.source.accountId),
      target: { ...spec.target },
      targetAccount: entity('Account', spec.target.accountId),
      access:
        'policyArn' in access
          ? {
              kind: 'policy',
              policy: access.policyArn.split('/').at(-1) ?? access.policyArn,
              scope: access.scope.type,
              namespaces: access.scope.type === 'namespace' ? [...access.scope.namespaces] : [],
              groups: [],
              username: access.username ?? '',
            }
          : {
              kind: 'groups',
              policy: '',
              scope: '',
              namespaces: [],
              groups: [...access.groups],
              username: access.username ?? '',
            },
      network: {
        mode: network.mode,
        cidrs: network.mode === 'cidrs' ? [...network.cidrs] : [],
        privateRanges: network.mode === 'cidrs' && hasPrivateRanges(network.cidrs),
      },
      identity: spec.identity.mode,
      principalArn: spec.identity.principalArn ?? '',
      directAccess: spec.identity.directAccess === true,
      awsPolicies: [...(spec.awsPolicies ?? [])],
      status,
      ...(createdBy ? { createdBy: entity('Caller', createdBy.arn) } : {}),
    },
    parents: [],
  };
}

/** A one-line name of a link for messages: its id, or what is asked for. */
export function describeResource(resource: LinkResource): string {
  if ('link' in resource) return `link ${resource.link.id} (${linkNaturalKey(resource.link.spec)})`;
  return `a link ${linkNaturalKey(resource.spec)}`;
}
