/**
 * Every AWS error a step can meet has a stable outcome (functions/aws/errors.ts): the SDK's
 * own exceptions, made by the sandbox plug-in exactly as the SDK deserialises AWS's answers.
 */
import { describe, expect, it } from 'vitest';
import { awsErrorDetails, classifyAwsError, recordCallSite } from '#aws/errors';
import { TetherError } from '#link/errors';
import { toSdkError } from '#local/adapters/sdk-plugin';
import { SandboxError } from '#local/sandbox/errors';

type Service = 'iam' | 'sts' | 'eks' | 'ec2';

/** The SDK exception for `code`, as the given service's client throws it, made at `operation`. */
function sdkError(service: Service, code: string, operation: string, statusCode?: number, message = 'm') {
  const err = toSdkError(service, new SandboxError(code, message, statusCode ? { statusCode } : {}), {
    requestId: '11111111-2222-4333-8444-555555555555',
  });
  recordCallSite(err, { service, operation, accountId: '222222222222', region: 'ap-southeast-1' });
  return err;
}

const outcome = (err: unknown) => {
  const c = classifyAwsError(err);
  return c instanceof TetherError ? c.code : 'INTERNAL';
};

describe('classifyAwsError', () => {
  // [service, AWS code, HTTP status (unmodeled codes), expected code]
  const table: [Service, string, number | undefined, string][] = [
    // throttling, as the SDK classifies it
    ['iam', 'Throttling', 400, 'THROTTLED'],
    ['sts', 'Throttling', 400, 'THROTTLED'],
    ['eks', 'ThrottlingException', 429, 'THROTTLED'],
    ['eks', 'TooManyRequestsException', 429, 'THROTTLED'],
    ['ec2', 'RequestLimitExceeded', 503, 'THROTTLED'],
    ['ec2', 'EC2ThrottledException', 503, 'THROTTLED'],
    ['iam', 'ThrottledException', 429, 'THROTTLED'],
    ['iam', 'RequestThrottledException', 400, 'THROTTLED'],
    ['iam', 'PriorRequestNotComplete', 400, 'THROTTLED'],
    ['eks', 'AnythingAt429', 429, 'THROTTLED'],
    // transient
    ['iam', 'ServiceFailure', undefined, 'AWS_UNAVAILABLE'],
    ['eks', 'ServerException', undefined, 'AWS_UNAVAILABLE'],
    ['eks', 'ServiceUnavailableException', undefined, 'AWS_UNAVAILABLE'],
    ['ec2', 'InternalError', 500, 'AWS_UNAVAILABLE'],
    ['ec2', 'Unavailable', 503, 'AWS_UNAVAILABLE'],
    ['iam', 'ExpiredToken', 403, 'AWS_UNAVAILABLE'],
    ['sts', 'IDPCommunicationError', undefined, 'AWS_UNAVAILABLE'],
    // IAM's transient errors
    ['iam', 'ConcurrentModification', undefined, 'CONCURRENT_UPDATE'],
    ['iam', 'EntityTemporarilyUnmodifiable', undefined, 'NOT_YET_PROPAGATED'],
    ['eks', 'ResourcePropagationDelayException', undefined, 'NOT_YET_PROPAGATED'],
    // quotas: IAM's LimitExceeded is not throttling, though the SDK names it LimitExceededException
    ['iam', 'LimitExceeded', undefined, 'QUOTA_EXCEEDED'],
    ['eks', 'ResourceLimitExceededException', undefined, 'QUOTA_EXCEEDED'],
    ['ec2', 'RulesPerSecurityGroupLimitExceeded', 400, 'QUOTA_EXCEEDED'],
    // refusals a user can act on
    ['iam', 'AccessDenied', 403, 'AGENT_NOT_AUTHORIZED'],
    ['sts', 'AccessDenied', 403, 'AGENT_NOT_AUTHORIZED'],
    ['eks', 'AccessDeniedException', undefined, 'AGENT_NOT_AUTHORIZED'],
    ['ec2', 'UnauthorizedOperation', 403, 'AGENT_NOT_AUTHORIZED'],
    ['ec2', 'InvalidGroup.NotFound', 400, 'SECURITY_GROUP_NOT_FOUND'],
    ['iam', 'InvalidClientTokenId', 403, 'ACCOUNT_NOT_REACHABLE'],
    ['eks', 'UnrecognizedClientException', 403, 'ACCOUNT_NOT_REACHABLE'],
    ['ec2', 'AuthFailure', 401, 'ACCOUNT_NOT_REACHABLE'],
    // a request AWS refuses as malformed is Tether's bug
    ['iam', 'MalformedPolicyDocument', undefined, 'INTERNAL'],
    ['eks', 'InvalidParameterException', undefined, 'INTERNAL'],
  ];

  it.each(table)('%s %s (%s) → %s', (service, code, status, expected) => {
    expect(outcome(sdkError(service, code, 'SomeOperation', status))).toBe(expected);
  });

  it('names the action the agent role may not call, and the account', () => {
    const err = classifyAwsError(sdkError('iam', 'AccessDenied', 'CreateRole', 403)) as Error;
    expect(err.name).toBe('AgentNotAuthorizedError');
    expect(err.message).toContain('iam:CreateRole');
    expect(err.message).toContain('222222222222');
  });

  it('reads a missing EKS cluster as CLUSTER_NOT_FOUND, and a missing principal not', () => {
    const cluster = sdkError(
      'eks',
      'ResourceNotFoundException',
      'CreateAccessEntry',
      undefined,
      'No cluster found for name: x.',
    );
    expect(outcome(cluster)).toBe('CLUSTER_NOT_FOUND');
    const principal = sdkError(
      'eks',
      'ResourceNotFoundException',
      'AssociateAccessPolicy',
      undefined,
      'The specified principalArn could not be found. You can view your available access entries with the cluster.',
    );
    expect(outcome(principal)).toBe('INTERNAL');
  });

  it('keeps the AWS code and request id, through the Tether error that wraps it', () => {
    const raw = sdkError('eks', 'ResourceLimitExceededException', 'CreateAccessEntry');
    const classified = classifyAwsError(raw);
    expect(awsErrorDetails(classified)).toEqual({
      awsCode: 'ResourceLimitExceededException',
      awsRequestId: '11111111-2222-4333-8444-555555555555',
    });
    expect(awsErrorDetails(new Error('not AWS'))).toEqual({});
  });

  it('reads a dropped connection as transient, and leaves a plain bug as it is', () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(outcome(reset)).toBe('AWS_UNAVAILABLE');
    const bug = new TypeError('x is undefined');
    expect(classifyAwsError(bug)).toBe(bug);
  });
});
