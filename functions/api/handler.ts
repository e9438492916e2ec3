/**
 * The REST API as one Lambda handler behind API Gateway (HTTP API, payload v2, IAM auth).
 * The router validates every request against `api/openapi.yaml`; the operations live in
 * `api/operations.ts`; every error leaves as `application/problem+json` with a stable code.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { logger } from '#functions/logger';
import type { OnboardingRequest } from '#link/model';
import { runtime } from '#functions/runtime';
import {
  type ApiResult,
  createLinks,
  createPlan,
  deleteLink,
  getKubeconfig,
  getLink,
  listLinks,
  listRuns,
  reconcileLink,
} from './operations';
import { httpProblems } from './problems';
import { loadApiRouter } from '#api/openapi/router';

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
  const rt = runtime();
  const id = request.pathParams.id ?? '';
  switch (request.operationId) {
    case 'createLinks':
      return toResponse(
        await createLinks(rt, request.body as OnboardingRequest, request.headers['idempotency-key']),
      );
    case 'createPlan':
      return toResponse(await createPlan(rt, request.body as OnboardingRequest));
    case 'listLinks':
      return toResponse(await listLinks(rt, request.query));
    case 'getLink':
      return toResponse(await getLink(rt, id));
    case 'deleteLink':
      return toResponse(await deleteLink(rt, id));
    case 'getKubeconfig':
      return toResponse(await getKubeconfig(rt, id));
    case 'reconcileLink':
      return toResponse(await reconcileLink(rt, id));
    case 'listRuns':
      return toResponse(await listRuns(rt, id));
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

export const handler = middy(functionHandler)
  .use(injectLambdaContext(logger))
  .use(httpProblems({ logger: problemLogger }));
