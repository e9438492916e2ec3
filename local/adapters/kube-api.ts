/**
 * The Kubernetes API of every sandbox EKS cluster, served over TLS on loopback: one HTTPS
 * server per cluster, whose certificate chains to the cluster's CA, and whose address the
 * sandbox then returns from DescribeCluster as `endpoint` with the CA as
 * `certificateAuthority.data` — so the kubeconfig Tether renders works as it is, with the
 * real `kubectl`.
 *
 * Each request is authenticated as EKS does it (local/sandbox/kube-api/authenticate.ts:
 * the aws-iam-authenticator token checks and a real `GetCallerIdentity` call to the
 * sandbox's HTTP door, then the access entry bound to the role id, or `aws-auth`), and
 * authorized by the entry's access policies within their scope
 * (local/sandbox/kube-api/authorize.ts). It answers discovery, `get`/`list` of a small
 * inventory, SelfSubjectAccessReview (`kubectl auth can-i`), SelfSubjectReview
 * (`kubectl auth whoami`); writes are authorized, then answered 201 (kept in memory) or 403.
 */
import { createServer as createHttpsServer } from 'node:https';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { authenticateToCluster, type KubernetesUserInfo } from '#local/sandbox/eks';
import { isSandboxError } from '#local/sandbox/errors';
import { callerOfIdentity, reviewToken, TokenRejectedError } from '#local/sandbox/kube-api/authenticate';
import { authorize, forbiddenMessage, type RequestAttributes } from '#local/sandbox/kube-api/authorize';
import { newClusterCa, servingCertificate } from '#local/sandbox/kube-api/certificates';
import { type KubeObject, kindOf, RESOURCE_KINDS, seededObjects } from '#local/sandbox/kube-api/inventory';
import type { Sandbox } from '#local/sandbox/sandbox';
import type { AssociationState, ClusterCaState, ClusterState } from '#local/sandbox/state';

/** A cluster the doors serve. */
export interface ClusterRef {
  readonly accountId: string;
  readonly region: string;
  readonly name: string;
}

/** One answered request, for tests and the demo to tell at which hop a request failed. */
export interface KubeApiRecord {
  readonly cluster: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** Why a request was refused (401: the authenticator's reason; 403: the Forbidden message). */
  readonly reason?: string;
  readonly username?: string;
}

/** Options of {@link startKubeApis}. */
export interface KubeApiOptions {
  /** The sandbox's STS door: `host:port` that tokens' presigned URLs must name. */
  readonly stsHost: string;
  /** The time the authenticator checks `X-Amz-Date` against. @default the clock */
  readonly now?: () => Date;
}

/** The running Kubernetes APIs. */
export interface KubeApis {
  /** `https://127.0.0.1:<port>` by `account/region/name`. */
  readonly endpoints: ReadonlyMap<string, string>;
  /** Every answered request, oldest first. */
  readonly log: readonly KubeApiRecord[];
  /** Resolves once the APIs of clusters added since the start are served. */
  ready(): Promise<void>;
  close(): Promise<void>;
}

const keyOf = (c: ClusterRef) => `${c.accountId}/${c.region}/${c.name}`;

function clustersOf(sandbox: Sandbox): ClusterRef[] {
  return sandbox.peek((state) =>
    Object.entries(state.accounts).flatMap(([accountId, account]) =>
      Object.entries(account.regions).flatMap(([region, r]) =>
        Object.keys(r.eks.clusters).map((name) => ({ accountId, region, name })),
      ),
    ),
  );
}

function clusterState(sandbox: Sandbox, ref: ClusterRef) {
  return sandbox.peek((state) => state.accounts[ref.accountId]?.regions[ref.region]?.eks.clusters[ref.name]);
}

async function listen(server: Server, port: number): Promise<number> {
  const attempt = (p: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(p, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  if (port === 0) return attempt(0);
  // The port of the previous start, so kubeconfigs rendered then still reach the cluster.
  return attempt(port).catch(() => attempt(0));
}

/**
 * Starts one HTTPS Kubernetes API per sandbox cluster (making each cluster's CA the first
 * time) and points the clusters' `endpoint` and `certificateAuthority` at them.
 */
export async function startKubeApis(sandbox: Sandbox, options: KubeApiOptions): Promise<KubeApis> {
  const endpoints = new Map<string, string>();
  const servers: Server[] = [];
  const log: KubeApiRecord[] = [];
  /** Makes (or reads) the cluster's CA and serving certificate and serves its API. */
  const serveCluster = async (ref: ClusterRef, ready?: ClusterCaState): Promise<void> => {
    const ca = ready ?? (await materialOf(sandbox, ref));
    if (clusterState(sandbox, ref)?.kubeApiCa?.serving === undefined)
      sandbox.updateCluster(ref.accountId, ref.region, ref.name, (c) => {
        c.kubeApiCa = ca;
        c.certificateAuthorityData = Buffer.from(ca.certPem).toString('base64');
      });
    const created = new Map<string, KubeObject[]>();
    const server = createHttpsServer({ ...ca.serving }, (req, res) => {
      serve(sandbox, ref, options, created, req, res)
        .then((record) => log.push(record))
        .catch((err: unknown) => {
          log.push({
            cluster: ref.name,
            method: req.method ?? '',
            path: req.url ?? '',
            status: 500,
            reason: String(err),
          });
          if (!res.headersSent) status(res, 500, 'InternalError', `Internal error: ${String(err)}`);
          else res.destroy();
        });
    });
    servers.push(server);
    const previous = /^https:\/\/127\.0\.0\.1:(\d+)$/.exec(clusterState(sandbox, ref)?.endpoint ?? '');
    const port = await listen(server, previous ? Number(previous[1]) : 0);
    const endpoint = `https://127.0.0.1:${port}`;
    sandbox.updateCluster(ref.accountId, ref.region, ref.name, (c) => {
      c.endpoint = endpoint;
    });
    endpoints.set(keyOf(ref), endpoint);
  };
  try {
    // RSA key generation is the slow part: all clusters at once, on the thread pool.
    const refs = clustersOf(sandbox);
    const material = await Promise.all(refs.map((ref) => materialOf(sandbox, ref)));
    for (const [i, ref] of refs.entries()) await serveCluster(ref, material[i]);
  } catch (err) {
    await closeAll(servers);
    throw err;
  }
  // A cluster added while the runtime runs gets its API too.
  const pending = new Set<Promise<void>>();
  let closed = false;
  sandbox.onClusterAdded = (ids) => {
    if (closed) return;
    const started = serveCluster({ accountId: ids.accountId, region: ids.region, name: ids.name }).catch(
      (err: unknown) => {
        log.push({
          cluster: ids.name,
          method: '',
          path: '',
          status: 500,
          reason: `not served: ${String(err)}`,
        });
      },
    );
    pending.add(started);
    void started.finally(() => pending.delete(started));
  };
  return {
    endpoints,
    log,
    ready: async () => {
      await Promise.all(pending);
    },
    close: async () => {
      closed = true;
      sandbox.onClusterAdded = undefined;
      await Promise.all(pending);
      await closeAll(servers);
    },
  };
}

/** The cluster's CA and serving certificate: the ones kept in the sandbox state, else new ones. */
async function materialOf(
  sandbox: Sandbox,
  ref: ClusterRef,
): Promise<ClusterCaState & { serving: { key: string; cert: string } }> {
  const ca = clusterState(sandbox, ref)?.kubeApiCa ?? (await newClusterCa(ref.name));
  const serving = ca.serving ?? (await servingCertificate({ keyPkcs8: ca.keyPkcs8, certPem: ca.certPem }));
  return { keyPkcs8: ca.keyPkcs8, certPem: ca.certPem, serving };
}

async function closeAll(servers: Server[]): Promise<void> {
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (!s.listening) return resolve();
          s.close(() => resolve());
          s.closeAllConnections();
        }),
    ),
  );
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

/** A `Status` object, as the API server answers errors. */
function status(res: ServerResponse, code: number, reason: string, message: string, details?: unknown): void {
  send(res, code, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  });
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 1024 * 1024) throw new Error('request body too large');
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

/** Who the cluster takes the bearer of `token` for, and the access policies that apply. */
async function authenticate(
  sandbox: Sandbox,
  ref: ClusterRef,
  options: KubeApiOptions,
  token: string,
): Promise<{ user: KubernetesUserInfo; associations: readonly AssociationState[] }> {
  const identity = await reviewToken(token, {
    clusterId: ref.name,
    stsHosts: [options.stsHost],
    ...(options.now ? { now: options.now() } : {}),
    callSts: async (url, headers) => {
      const r = await fetch(url, { headers });
      return { status: r.status, body: await r.text() };
    },
  });
  return sandbox.peek((state) => {
    const caller = callerOfIdentity(state, identity);
    if (!caller) throw new TokenRejectedError(`${identity.arn} is not a role session`);
    const cluster = state.accounts[ref.accountId]?.regions[ref.region]?.eks.clusters[ref.name];
    if (!cluster) throw new TokenRejectedError(`no cluster ${ref.name}`);
    const user = authenticateToCluster(cluster as ClusterState, caller);
    const entry =
      cluster.authenticationMode === 'CONFIG_MAP' ? undefined : cluster.accessEntries[caller.principalArn];
    return { user, associations: (entry?.associations ?? []) as AssociationState[] };
  });
}

const VERSION = { major: '1', minor: '31', gitVersion: 'v1.31.0-eks-sandbox', platform: 'linux/amd64' };

/** The API group of a discovery document. */
function groups(): Map<string, string> {
  const out = new Map<string, string>();
  for (const k of RESOURCE_KINDS) if (k.group) out.set(k.group, k.version);
  return out;
}

function resourceList(group: string, version: string) {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources: RESOURCE_KINDS.filter((k) => k.group === group && k.version === version).map((k) => ({
      name: k.resource,
      singularName: k.kind.toLowerCase(),
      namespaced: k.namespaced,
      kind: k.kind,
      verbs: [...k.verbs],
      ...(k.shortNames ? { shortNames: [...k.shortNames] } : {}),
    })),
  };
}

function age(from: string, now: Date): string {
  const s = Math.max(0, Math.floor((now.getTime() - Date.parse(from)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  if (s < 63_072_000) return `${Math.floor(s / 86_400)}d`;
  return `${Math.floor(s / 31_536_000)}y`;
}

/** A `meta.k8s.io/v1` Table of `objects`, what `kubectl get` asks for. */
function table(resource: string, objects: readonly KubeObject[], now: Date) {
  const columns =
    resource === 'namespaces'
      ? ['Name', 'Status', 'Age']
      : resource === 'pods'
        ? ['Name', 'Ready', 'Status', 'Restarts', 'Age']
        : ['Name', 'Age'];
  const cells = (o: KubeObject) => {
    const st = (o.status ?? {}) as { phase?: string };
    if (resource === 'namespaces')
      return [o.metadata.name, st.phase ?? 'Active', age(o.metadata.creationTimestamp, now)];
    if (resource === 'pods')
      return [o.metadata.name, '1/1', st.phase ?? 'Running', 0, age(o.metadata.creationTimestamp, now)];
    return [o.metadata.name, age(o.metadata.creationTimestamp, now)];
  };
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion: '1' },
    columnDefinitions: columns.map((name, i) => ({
      name,
      type: name === 'Restarts' ? 'integer' : 'string',
      format: i === 0 ? 'name' : '',
      description: '',
      priority: 0,
    })),
    rows: objects.map((o) => ({
      cells: cells(o),
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}

async function serve(
  sandbox: Sandbox,
  ref: ClusterRef,
  options: KubeApiOptions,
  created: Map<string, KubeObject[]>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<KubeApiRecord> {
  const method = req.method ?? 'GET';
  const url = new URL(req.url ?? '/', 'https://kube');
  const path = url.pathname;
  const record = (code: number, reason?: string, username?: string): KubeApiRecord => ({
    cluster: ref.name,
    method,
    path: `${path}${url.search}`,
    status: code,
    ...(reason ? { reason } : {}),
    ...(username ? { username } : {}),
  });
  const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
  if (!bearer) {
    status(res, 401, 'Unauthorized', 'Unauthorized');
    return record(401, 'no bearer token');
  }
  let who: Awaited<ReturnType<typeof authenticate>>;
  try {
    who = await authenticate(sandbox, ref, options, bearer);
  } catch (err) {
    if (err instanceof TokenRejectedError || isSandboxError(err)) {
      status(res, 401, 'Unauthorized', 'Unauthorized');
      return record(401, err.message);
    }
    throw err;
  }
  const { user, associations } = who;
  const now = options.now?.() ?? new Date();

  // Discovery and other non-resource paths.
  const nonResource = (body: unknown) => {
    const a: RequestAttributes = { verb: 'get', group: '', resource: '', namespace: '', path };
    if (!authorize(associations, a).allowed) {
      const message = forbiddenMessage(user.username, a);
      status(res, 403, 'Forbidden', message);
      return record(403, message, user.username);
    }
    send(res, 200, body);
    return record(200, undefined, user.username);
  };
  if (method === 'GET' && path === '/version') return nonResource(VERSION);
  if (method === 'GET' && path === '/api')
    return nonResource({ kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
  if (method === 'GET' && path === '/apis')
    return nonResource({
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [...groups()].map(([name, version]) => ({
        name,
        versions: [{ groupVersion: `${name}/${version}`, version }],
        preferredVersion: { groupVersion: `${name}/${version}`, version },
      })),
    });
  if (method === 'GET' && path === '/api/v1') return nonResource(resourceList('', 'v1'));
  const gv = /^\/apis\/([^/]+)\/([^/]+)$/.exec(path);
  if (method === 'GET' && gv) return nonResource(resourceList(gv[1] ?? '', gv[2] ?? ''));

  // Resource paths: /api/v1/… or /apis/<group>/<version>/…
  const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))\/(.*)$/.exec(path);
  if (!m) {
    status(res, 404, 'NotFound', 'the server could not find the requested resource');
    return record(404, undefined, user.username);
  }
  const group = m[2] ?? '';
  let parts = (m[4] ?? '').split('/').filter(Boolean);
  let namespace = '';
  if (parts[0] === 'namespaces' && parts.length >= 3) {
    namespace = parts[1] ?? '';
    parts = parts.slice(2);
  }
  const [resource = '', name, subresource] = parts;
  const kind = kindOf(group, resource);
  if (!kind) {
    status(res, 404, 'NotFound', 'the server could not find the requested resource');
    return record(404, undefined, user.username);
  }
  const verb =
    method === 'GET'
      ? name
        ? 'get'
        : url.searchParams.get('watch') === 'true'
          ? 'watch'
          : 'list'
      : method === 'POST'
        ? 'create'
        : method === 'PUT'
          ? 'update'
          : method === 'PATCH'
            ? 'patch'
            : method === 'DELETE'
              ? name
                ? 'delete'
                : 'deletecollection'
              : method.toLowerCase();
  const body = method === 'POST' || method === 'PUT' || method === 'PATCH' ? await readJson(req) : {};

  // Who am I, and what may I do: every authenticated user may ask.
  if (verb === 'create' && group === 'authentication.k8s.io' && resource === 'selfsubjectreviews') {
    send(res, 201, { ...body, status: { userInfo: user } });
    return record(201, undefined, user.username);
  }
  if (verb === 'create' && group === 'authorization.k8s.io' && resource === 'selfsubjectaccessreviews') {
    const spec = (body.spec ?? {}) as {
      resourceAttributes?: {
        namespace?: string;
        verb?: string;
        group?: string;
        resource?: string;
        name?: string;
        subresource?: string;
      };
      nonResourceAttributes?: { path?: string; verb?: string };
    };
    const asked: RequestAttributes = spec.nonResourceAttributes
      ? {
          verb: spec.nonResourceAttributes.verb ?? 'get',
          group: '',
          resource: '',
          namespace: '',
          path: spec.nonResourceAttributes.path ?? '/',
        }
      : {
          verb: spec.resourceAttributes?.verb ?? 'get',
          group: spec.resourceAttributes?.group ?? '',
          resource: spec.resourceAttributes?.resource ?? '',
          namespace: spec.resourceAttributes?.namespace ?? '',
          ...(spec.resourceAttributes?.name ? { name: spec.resourceAttributes.name } : {}),
          ...(spec.resourceAttributes?.subresource
            ? { subresource: spec.resourceAttributes.subresource }
            : {}),
        };
    const decision = authorize(associations, asked);
    send(res, 201, {
      ...body,
      status: {
        allowed: decision.allowed,
        ...(decision.reason ? { reason: `EKS access policy: ${decision.reason}` } : {}),
      },
    });
    return record(201, undefined, user.username);
  }

  const attrs: RequestAttributes = {
    verb,
    group,
    resource,
    namespace,
    ...(name ? { name } : {}),
    ...(subresource ? { subresource } : {}),
  };
  const decision = authorize(associations, attrs);
  if (!decision.allowed) {
    const message = forbiddenMessage(user.username, attrs);
    status(res, 403, 'Forbidden', message, {
      ...(name ? { name } : {}),
      ...(group ? { group } : {}),
      kind: resource,
    });
    return record(403, message, user.username);
  }

  const key = `${group}/${resource}`;
  const cluster = clusterState(sandbox, ref);
  const all = [...(cluster ? (seededObjects(cluster).get(key) ?? []) : []), ...(created.get(key) ?? [])];
  const inNamespace = all.filter(
    (o) => !kind.namespaced || namespace === '' || o.metadata.namespace === namespace,
  );
  const listKind = `${kind.kind}List`;
  const apiVersion = group ? `${group}/${kind.version}` : kind.version;
  const wantsTable = (req.headers.accept ?? '').includes('as=Table');
  if (verb === 'list' || verb === 'watch') {
    if (verb === 'watch') {
      status(res, 405, 'MethodNotAllowed', 'the sandbox does not serve watches');
      return record(405, undefined, user.username);
    }
    send(
      res,
      200,
      wantsTable
        ? table(resource, inNamespace, now)
        : { kind: listKind, apiVersion, metadata: { resourceVersion: '1' }, items: inNamespace },
    );
    return record(200, undefined, user.username);
  }
  const found = inNamespace.find((o) => o.metadata.name === name);
  const notFound = () => {
    status(res, 404, 'NotFound', `${resource}${group ? `.${group}` : ''} "${name}" not found`, {
      name,
      ...(group ? { group } : {}),
      kind: resource,
    });
    return record(404, undefined, user.username);
  };
  if (verb === 'get') {
    if (!found) return notFound();
    send(res, 200, wantsTable ? table(resource, [found], now) : found);
    return record(200, undefined, user.username);
  }
  if (verb === 'create') {
    const meta = (body.metadata ?? {}) as {
      name?: string;
      generateName?: string;
      labels?: Record<string, string>;
    };
    const newName = meta.name ?? `${meta.generateName ?? 'object-'}${Math.random().toString(36).slice(2, 7)}`;
    if (inNamespace.some((o) => o.metadata.name === newName)) {
      status(
        res,
        409,
        'AlreadyExists',
        `${resource}${group ? `.${group}` : ''} "${newName}" already exists`,
        {
          name: newName,
          ...(group ? { group } : {}),
          kind: resource,
        },
      );
      return record(409, undefined, user.username);
    }
    const object: KubeObject = {
      ...body,
      apiVersion,
      kind: kind.kind,
      metadata: {
        ...meta,
        name: newName,
        ...(kind.namespaced ? { namespace: namespace || 'default' } : {}),
        uid: crypto.randomUUID(),
        creationTimestamp: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
        resourceVersion: '2',
      },
    };
    created.set(key, [...(created.get(key) ?? []), object]);
    send(res, 201, object);
    return record(201, undefined, user.username);
  }
  if (!found) return notFound();
  if (verb === 'delete') {
    created.set(
      key,
      (created.get(key) ?? []).filter((o) => o !== found),
    );
    send(res, 200, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { name, kind: resource },
    });
    return record(200, undefined, user.username);
  }
  send(res, 200, found);
  return record(200, undefined, user.username);
}
