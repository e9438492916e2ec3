/**
 * The REST API as one Lambda handler behind API Gateway (HTTP API, payload v2, IAM auth).
 * The router validates every request against `api/openapi.yaml`; the caller (the SigV4
 * principal) is checked against the policies for every operation (`api/access.ts`); the
 * operations live in `api/operations.ts`; every error leaves as `application/problem+json`
 * with a stable code.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { logger } from '#functions/logger';
import type { OnboardingRequest } from '#link/model';
import { runtime, type TetherRuntime } from '#functions/runtime';
import {
  type ApiResult,
  createLinks,
  createPlan,
  deleteLink,
  getKubeconfig,
  getLink,
  getManifests,
  listLinks,
  listRuns,
  reconcileLink,
  verifyLink,
} from './operations';
import { httpProblems } from './problems';
import { loadApiRouter } from '#api/openapi/router';
import {
  admitPlan,
  admitRequest,
  apiSession,
  authorizeOnLink,
  callerOf,
  loadAccessControl,
  mayRead,
  scopedIdempotencyKey,
} from './access';
import { type ApprovalDecision, decideApproval } from './approval';
import { authorizeOnCluster, clusterOfPath, deleteCluster, getCluster, putCluster } from './clusters';
import type { ClusterRegistration } from '#resources/self-managed-cluster';

function toResponse(result: ApiResult): APIGatewayProxyStructuredResultV2 {
  if (result.text !== undefined) {
    return { statusCode: result.statusCode, headers: { ...result.headers }, body: result.text };
  }
  return {
    statusCode: result.statusCode,
    headers: { 'content-type': 'application/json', ...result.headers },
    ...(result.body !== undefined ? { body: JSON.stringify(result.body) } : {}),
  };
}

const functionHandler = async (
  event: APIGatewayProxyEventV2,
  _context: Context,
): Promise<APIGatewayProxyStructuredResultV2> => {
  const request = loadApiRouter().match(event);
  const caller = callerOf(event);
  const rt = apiRuntime();
  const id = request.pathParams.id ?? '';
  switch (request.operationId) {
    case 'createLinks': {
      const body = request.body as OnboardingRequest;
      const admission = await admitRequest(rt, caller, body);
      const key = scopedIdempotencyKey(caller, request.headers['idempotency-key']);
      return toResponse(await createLinks(apiSession(rt, caller), body, key, admission));
    }
    case 'createPlan': {
      const body = request.body as OnboardingRequest;
      const admission = await admitPlan(rt, caller, body);
      return toResponse(await createPlan(apiSession(rt, caller), body, admission));
    }
    case 'listLinks':
      return toResponse(await listLinks(rt, request.query, (link) => mayRead(rt, caller, link)));
    case 'getLink':
      await authorizeOnLink(rt, caller, 'ReadLink', id);
      return toResponse(await getLink(rt, id));
    case 'deleteLink':
      await authorizeOnLink(rt, caller, 'DeleteLink', id);
      return toResponse(await deleteLink(rt, id, caller));
    case 'getKubeconfig':
      await authorizeOnLink(rt, caller, 'ReadLink', id);
      return toResponse(await getKubeconfig(rt, id));
    case 'getManifests':
      // The same as the kubeconfig: whoever may read the link.
      await authorizeOnLink(rt, caller, 'ReadLink', id);
      return toResponse(await getManifests(rt, id, request.query));
    case 'reconcileLink':
      await authorizeOnLink(rt, caller, 'ReconcileLink', id);
      return toResponse(await reconcileLink(rt, id, caller));
    case 'listRuns':
      await authorizeOnLink(rt, caller, 'ReadLink', id);
      return toResponse(await listRuns(rt, id));
    case 'verifyLink':
      await authorizeOnLink(rt, caller, 'ReadLink', id);
      return toResponse(await verifyLink(apiSession(rt, caller), id, caller));
    case 'registerCluster': {
      const cluster = clusterOfPath(request.pathParams);
      authorizeOnCluster(rt, caller, 'RegisterCluster', cluster);
      return toResponse(await putCluster(rt, cluster, request.body as ClusterRegistration, caller));
    }
    case 'getCluster': {
      const cluster = clusterOfPath(request.pathParams);
      authorizeOnCluster(rt, caller, 'ReadCluster', cluster);
      return toResponse(await getCluster(rt, cluster));
    }
    case 'deregisterCluster': {
      const cluster = clusterOfPath(request.pathParams);
      authorizeOnCluster(rt, caller, 'DeregisterCluster', cluster);
      return toResponse(await deleteCluster(rt, cluster));
    }
    case 'decideApproval':
      return toResponse(await decideApproval(rt, caller, id, request.body as ApprovalDecision));
    default:
      throw new Error(`Operation ${request.operationId} has no implementation`);
  }
};

/** Unexpected (5xx) errors go to the Powertools logger, with the error as its `error` key. */
const problemLogger = {
  error: (message: string, ...details: unknown[]) =>
    details[0] instanceof Error
      ? logger.error(message, details[0])
      : logger.error(message, { details: String(details[0]) }),
};

let withAccess: TetherRuntime | undefined;

/**
 * The runtime with its access control. The local runtime configures both; in Lambda the
 * policies (`TETHER_POLICY_DIR`, bundled with this function) are loaded once, here.
 */
function apiRuntime(): TetherRuntime {
  const rt = runtime();
  if (rt.access) return rt;
  if (withAccess?.clients !== rt.clients) {
    withAccess = { ...rt, access: loadAccessControl({ hubAccountId: rt.clients.hubAccountId }) };
  }
  return withAccess;
}

// In Lambda the runtime and the policies are loaded at cold start: a bad policy file fails
// the init with its message instead of every request.
if (process.env.AWS_LAMBDA_FUNCTION_NAME) apiRuntime();

export const handler = middy(functionHandler)
  .use(injectLambdaContext(logger))
  .use(httpProblems({ logger: problemLogger }));
