import { LINK_STATUSES } from '#link/model';
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { OnboardingRequest } from '#link/model';
import { API_ERROR_CODE_NAMES, ApiError } from '#api/problems';
import { checkJsonStructure } from '#api/openapi/body-checks';
import { type ApiRequest, loadApiRouter } from '#api/openapi/router';
import { apiEvent, demoRequest, LINK_ID } from './api-events';

const router = loadApiRouter();

/** Runs `act` and returns the ApiError it throws (fails the test if it throws nothing else). */
function rejection(act: () => unknown): ApiError {
  try {
    act();
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    return err as ApiError;
  }
  throw new Error('expected the router to reject the request');
}

function postLinks(body: unknown): ApiRequest {
  return router.match(apiEvent('POST', '/links', { body }));
}

function rejectedBody(body: unknown): ApiError {
  return rejection(() => postLinks(body));
}

function paths(err: ApiError): string[] {
  return (err.errors ?? []).map((e) => e.path);
}

describe('loadApiRouter', () => {
  it('compiles the spec once and returns the same router', () => {
    // Act
    const again = loadApiRouter();

    // Assert
    expect(again).toBe(router);
  });

  it('lists every operation of the API with its method and path', () => {
    // Act
    const operations = router.operations();

    // Assert
    expect(operations).toEqual(
      expect.arrayContaining([
        { operationId: 'createLinks', method: 'POST', path: '/links' },
        { operationId: 'listLinks', method: 'GET', path: '/links' },
        { operationId: 'getLink', method: 'GET', path: '/links/{id}' },
        { operationId: 'deleteLink', method: 'DELETE', path: '/links/{id}' },
        { operationId: 'reconcileLink', method: 'POST', path: '/links/{id}/reconcile' },
        { operationId: 'getKubeconfig', method: 'GET', path: '/links/{id}/kubeconfig' },
        { operationId: 'getManifests', method: 'GET', path: '/links/{id}/manifests' },
        { operationId: 'listRuns', method: 'GET', path: '/links/{id}/runs' },
        { operationId: 'verifyLink', method: 'POST', path: '/links/{id}/verify' },
        { operationId: 'decideApproval', method: 'POST', path: '/links/{id}/approval' },
        { operationId: 'createPlan', method: 'POST', path: '/plans' },
        { operationId: 'registerCluster', method: 'PUT', path: '/clusters/{accountId}/{region}/{name}' },
        { operationId: 'getCluster', method: 'GET', path: '/clusters/{accountId}/{region}/{name}' },
        { operationId: 'deregisterCluster', method: 'DELETE', path: '/clusters/{accountId}/{region}/{name}' },
      ]),
    );
    expect(operations).toHaveLength(14);
  });
});

describe('api/openapi.yaml', () => {
  const spec = parseYaml(readFileSync(new URL('../../../api/openapi.yaml', import.meta.url), 'utf8'));

  it('lists exactly the error codes of problems.ts as Problem.code', () => {
    // Assert
    expect(spec.components.schemas.ErrorCode.enum).toEqual(API_ERROR_CODE_NAMES);
  });

  it('lists exactly the link statuses of the model as LinkStatus, in its order', () => {
    // Assert
    expect(spec.components.schemas.LinkStatus.enum).toEqual([...LINK_STATUSES]);
  });

  it('answers every error with application/problem+json', () => {
    // Arrange
    const errorResponses = Object.values(spec.paths as Record<string, Record<string, any>>).flatMap((item) =>
      Object.values(item)
        .filter((op) => typeof op === 'object' && op !== null && 'responses' in op)
        .flatMap((op) => Object.entries(op.responses as Record<string, any>))
        .filter(([status]) => Number(status) >= 400)
        .map(([, response]) => response),
    );

    // Assert
    expect(errorResponses.length).toBeGreaterThan(0);
    for (const response of errorResponses) {
      const resolved = spec.components.responses[String(response.$ref).split('/').pop()!];
      expect(Object.keys(resolved.content)).toEqual(['application/problem+json']);
    }
  });

  it('has component schemas that all compile as JSON Schema 2020-12', () => {
    // Arrange
    const ajv = new Ajv2020({ strict: false, discriminator: true });
    addFormats(ajv);
    ajv.addSchema(spec, 'spec');

    // Act / Assert
    for (const name of Object.keys(spec.components.schemas)) {
      expect(() => ajv.getSchema(`spec#/components/schemas/${name}`), name).not.toThrow();
    }
  });

  it('asks API Gateway for IAM authorization on every operation', () => {
    // Arrange
    const operations = Object.values(spec.paths as Record<string, Record<string, any>>).flatMap((item) =>
      Object.values(item).filter((op) => typeof op === 'object' && op !== null && 'operationId' in op),
    );

    // Assert
    expect(operations).toHaveLength(14);
    for (const op of operations) expect(op['x-amazon-apigateway-auth']).toEqual({ type: 'AWS_IAM' });
  });
});

describe('router.match: POST /links', () => {
  it('accepts the demo request and fills in the defaults (identity irsa, network nat)', () => {
    // Act
    const request = postLinks(demoRequest());

    // Assert
    expect(request.operationId).toBe('createLinks');
    const body = request.body as OnboardingRequest;
    expect(body.identity).toEqual({ mode: 'irsa' });
    expect(body.network).toEqual({ mode: 'nat' });
    expect(body.source).toEqual(demoRequest().source);
    expect(body.targets).toEqual(demoRequest().targets);
  });

  it('accepts groups access, namespace scope, explicit CIDRs and every identity mode', () => {
    // Arrange
    const body = demoRequest();
    body.network = { mode: 'cidrs', cidrs: ['203.0.113.7/32', '10.0.0.0/8'] };
    body.targets.push(
      {
        accountId: '333333333333',
        region: 'us-gov-west-1',
        cluster: 'c3',
        access: { groups: ['viewers'], username: 'ci' },
      },
      {
        accountId: '444444444444',
        region: 'eu-west-1',
        cluster: 'c4',
        access: {
          policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy',
          scope: { type: 'namespace', namespaces: ['team-a', 'team-b'] },
        },
      },
    );

    // Act / Assert
    for (const mode of ['irsa', 'pod-identity', 'roles-anywhere', 'principal']) {
      const request = postLinks({ ...body, identity: { mode } });
      expect((request.body as OnboardingRequest).identity.mode).toBe(mode);
    }
  });

  it('returns all headers with lower-cased names', () => {
    // Act
    const request = router.match(
      apiEvent('POST', '/links', { body: demoRequest(), headers: { 'Idempotency-Key': 'retry-1:a.b_c' } }),
    );

    // Assert
    expect(request.headers['idempotency-key']).toBe('retry-1:a.b_c');
  });

  it.each([
    ['the body', (b: any) => Object.assign(b, { extra: 1 }), '/extra'],
    ['source', (b: any) => Object.assign(b.source, { extra: 1 }), '/source/extra'],
    ['identity', (b: any) => Object.assign(b, { identity: { mode: 'irsa', extra: 1 } }), '/identity/extra'],
    [
      'network nat',
      (b: any) => Object.assign(b, { network: { mode: 'nat', cidrs: ['10.0.0.0/8'] } }),
      '/network/cidrs',
    ],
    [
      'network cidrs',
      (b: any) => Object.assign(b, { network: { mode: 'cidrs', cidrs: ['10.0.0.0/8'], extra: 1 } }),
      '/network/extra',
    ],
    ['a target', (b: any) => Object.assign(b.targets[0], { extra: 1 }), '/targets/0/extra'],
    [
      'policy access',
      (b: any) => Object.assign(b.targets[0].access, { extra: 1 }),
      '/targets/0/access/extra',
    ],
    [
      'cluster scope',
      (b: any) => Object.assign(b.targets[0].access.scope, { extra: 1 }),
      '/targets/0/access/scope/extra',
    ],
    [
      'groups access',
      (b: any) =>
        Object.assign(b.targets[0], { access: { groups: ['viewers'], scope: { type: 'cluster' } } }),
      '/targets/0/access/scope',
    ],
  ])('rejects an unknown field in %s', (_where, change, path) => {
    // Arrange
    const body = demoRequest();
    change(body);

    // Act
    const err = rejectedBody(body);

    // Assert
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.status).toBe(400);
    expect(paths(err)).toEqual([path]);
    expect(err.errors?.[0]?.message).toMatch(/is not an allowed field; allowed fields: /);
  });

  it.each([
    [
      'an account id of 11 digits',
      (b: any) => (b.source.accountId = '11111111111'),
      '/source/accountId',
      /12-digit/,
    ],
    [
      'an account id that is a number',
      (b: any) => (b.targets[0].accountId = 222222222222),
      '/targets/0/accountId',
      /string/,
    ],
    [
      'namespace Kube_AI',
      (b: any) => (b.source.namespace = 'Kube_AI'),
      '/source/namespace',
      /DNS-1123 label/,
    ],
    [
      'a service account over 253 characters',
      (b: any) => (b.source.serviceAccount = `${'a'.repeat(60)}.`.repeat(4) + 'a'.repeat(10)),
      '/source/serviceAccount',
      /1 to 253/,
    ],
    ['a region without a number', (b: any) => (b.source.region = 'ap-southeast'), '/source/region', /region/],
    [
      'a cluster name with a dot',
      (b: any) => (b.targets[0].cluster = 'cluster.b'),
      '/targets/0/cluster',
      /EKS cluster/,
    ],
    [
      'an unknown identity mode',
      (b: any) => (b.identity = { mode: 'kiam' }),
      '/identity/mode',
      /one of: irsa, pod-identity/,
    ],
    [
      'an unknown network mode',
      (b: any) => (b.network = { mode: 'vpn' }),
      '/network/mode',
      /one of: nat, cidrs, none/,
    ],
    ['cidrs without a list', (b: any) => (b.network = { mode: 'cidrs' }), '/network/cidrs', /is required/],
    [
      'a CIDR with /33',
      (b: any) => (b.network = { mode: 'cidrs', cidrs: ['10.0.0.0/33'] }),
      '/network/cidrs/0',
      /IPv4 CIDR/,
    ],
    [
      'a repeated CIDR',
      (b: any) => (b.network = { mode: 'cidrs', cidrs: ['10.0.0.0/8', '10.0.0.0/8'] }),
      '/network/cidrs',
      /repeat/,
    ],
    ['no targets', (b: any) => (b.targets = []), '/targets', /at least 1 item/],
    [
      '21 targets',
      (b: any) =>
        (b.targets = Array.from({ length: 21 }, (_, i) => ({ ...b.targets[0], cluster: `cluster-${i}` }))),
      '/targets',
      /at most 20 items/,
    ],
    [
      'a policy ARN that is not an EKS access policy',
      (b: any) => (b.targets[0].access.policyArn = 'arn:aws:iam::aws:policy/AdministratorAccess'),
      '/targets/0/access/policyArn',
      /EKS access policy/,
    ],
    [
      'a scope of an unknown type',
      (b: any) => (b.targets[0].access.scope = { type: 'region' }),
      '/targets/0/access/scope/type',
      /one of: cluster, namespace/,
    ],
    [
      'a namespace scope without namespaces',
      (b: any) => (b.targets[0].access.scope = { type: 'namespace' }),
      '/targets/0/access/scope/namespaces',
      /is required/,
    ],
    [
      'policy access without a scope',
      (b: any) => delete b.targets[0].access.scope,
      '/targets/0/access/scope',
      /is required/,
    ],
    [
      'group system:masters',
      (b: any) => (b.targets[0].access = { groups: ['system:masters'] }),
      '/targets/0/access/groups/0',
      /not 'system:masters'/,
    ],
    [
      'an empty group list',
      (b: any) => (b.targets[0].access = { groups: [] }),
      '/targets/0/access/groups',
      /at least 1 item/,
    ],
    ['a missing source', (b: any) => delete b.source, '/source', /is required/],
  ])('rejects %s with the field and what is allowed', (_case, change, path, message) => {
    // Arrange
    const body = demoRequest();
    change(body);

    // Act
    const err = rejectedBody(body);

    // Assert
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(paths(err)).toEqual([path]);
    expect(err.errors?.[0]?.message).toMatch(message);
    expect(err.detail).toBe(err.errors?.[0]?.message);
  });

  it('reports every problem of a body at once', () => {
    // Arrange
    const body = demoRequest();
    body.source.namespace = 'Kube_AI';
    body.source.accountId = 'abc';
    body.targets[0].extra = true;

    // Act
    const err = rejectedBody(body);

    // Assert
    expect(paths(err).sort()).toEqual(['/source/accountId', '/source/namespace', '/targets/0/extra']);
    expect(err.detail).toMatch(/and 2 more problems/);
  });

  it('rejects malformed JSON', () => {
    // Act
    const err = rejection(() => router.match(apiEvent('POST', '/links', { rawBody: '{"source": {' })));

    // Assert
    expect(err.code).toBe('MALFORMED_JSON');
    expect(err.status).toBe(400);
  });

  it('rejects a key repeated in one object, which JSON.parse would silently drop', () => {
    // Arrange
    const text = JSON.stringify(demoRequest()).replace('"namespace":', '"namespace":"default","namespace":');

    // Act
    const err = rejection(() => router.match(apiEvent('POST', '/links', { rawBody: text })));

    // Assert
    expect(err.code).toBe('MALFORMED_JSON');
    expect(err.detail).toContain('/source/namespace');
  });

  it('rejects a body that is not application/json', () => {
    // Act
    const err = rejection(() =>
      router.match(
        apiEvent('POST', '/links', { body: demoRequest(), headers: { 'content-type': 'text/plain' } }),
      ),
    );

    // Assert
    expect(err.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(err.status).toBe(415);
  });

  it('accepts application/json with a UTF-8 charset, and a base64-encoded body', () => {
    // Arrange
    const rawBody = Buffer.from(JSON.stringify(demoRequest())).toString('base64');

    // Act
    const request = router.match(
      apiEvent('POST', '/links', {
        rawBody,
        isBase64Encoded: true,
        headers: { 'content-type': 'Application/JSON; charset=UTF-8' },
      }),
    );

    // Assert
    expect((request.body as OnboardingRequest).source.cluster).toBe('cluster-a');
  });

  it('rejects a body over 64 KiB', () => {
    // Arrange
    const body = demoRequest();
    body.padding = 'x'.repeat(64 * 1024);

    // Act
    const err = rejectedBody(body);

    // Assert
    expect(err.code).toBe('PAYLOAD_TOO_LARGE');
    expect(err.status).toBe(413);
  });

  it('rejects a missing body', () => {
    // Act
    const err = rejection(() => router.match(apiEvent('POST', '/links')));

    // Assert
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.errors?.[0]?.message).toMatch(/body is required/);
  });

  it('rejects an Idempotency-Key with a space or over 128 characters', () => {
    for (const key of ['two words', 'k'.repeat(129)]) {
      // Act
      const err = rejection(() =>
        router.match(
          apiEvent('POST', '/links', { body: demoRequest(), headers: { 'idempotency-key': key } }),
        ),
      );

      // Assert
      expect(err.code).toBe('VALIDATION_FAILED');
      expect(err.errors).toEqual([expect.objectContaining({ path: 'idempotency-key', in: 'header' })]);
    }
  });

  it('rejects a __proto__ key instead of letting it through', () => {
    // Arrange
    const text = JSON.stringify(demoRequest()).replace('{"source":', '{"__proto__":{"admin":true},"source":');

    // Act
    const err = rejection(() => router.match(apiEvent('POST', '/links', { rawBody: text })));

    // Assert
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(paths(err)).toEqual(['/__proto__']);
  });
});

describe('router.match: routes', () => {
  it('matches a link id and percent-decodes it', () => {
    // Act
    const request = router.match(apiEvent('GET', `/links/${LINK_ID}/kubeconfig`));

    // Assert
    expect(request).toMatchObject({
      operationId: 'getKubeconfig',
      pathParams: { id: LINK_ID },
      body: undefined,
    });
  });

  it('strips a named stage from the path', () => {
    // Arrange
    const event = apiEvent('GET', `/prod/links/${LINK_ID}`);
    event.requestContext.stage = 'prod';

    // Act
    const request = router.match(event);

    // Assert
    expect(request.operationId).toBe('getLink');
  });

  it('rejects a malformed link id', () => {
    // Act
    const err = rejection(() => router.match(apiEvent('DELETE', '/links/lnk_01J9Z8Q4V6X2C3B5N7M9K1H3GI')));

    // Assert
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.errors).toEqual([expect.objectContaining({ path: 'id', in: 'path' })]);
    expect(err.errors?.[0]?.message).toMatch(/'lnk_' followed by a 26-character ULID/);
  });

  it('answers ROUTE_NOT_FOUND for an unknown path', () => {
    // Act
    const err = rejection(() => router.match(apiEvent('GET', '/clusters')));

    // Assert
    expect(err.code).toBe('ROUTE_NOT_FOUND');
    expect(err.status).toBe(404);
  });

  it('answers METHOD_NOT_ALLOWED with an Allow header for a known path', () => {
    // Act
    const err = rejection(() => router.match(apiEvent('PATCH', `/links/${LINK_ID}`)));

    // Assert
    expect(err.code).toBe('METHOD_NOT_ALLOWED');
    expect(err.status).toBe(405);
    expect(err.headers).toEqual({ allow: 'GET, DELETE' });
  });

  it('ignores a body sent to an operation that takes none', () => {
    // Act
    const request = router.match(apiEvent('POST', `/links/${LINK_ID}/reconcile`, { rawBody: 'not json' }));

    // Assert
    expect(request).toMatchObject({ operationId: 'reconcileLink', body: undefined });
  });
});

describe('router.match: GET /links', () => {
  it('fills in the default limit', () => {
    // Act
    const request = router.match(apiEvent('GET', '/links'));

    // Assert
    expect(request.query).toEqual({ limit: '25' });
  });

  it('accepts the filters and an integer limit', () => {
    // Arrange
    const query = {
      status: 'ACTIVE',
      sourceAccountId: '111111111111',
      namespace: 'kubeai-chatbot',
      limit: '100',
      cursor: 'opaque',
    };

    // Act
    const request = router.match(apiEvent('GET', '/links', { query }));

    // Assert
    expect(request.query).toEqual(query);
  });

  it.each([
    ['limit 0', { limit: '0' }, 'limit', /integer from 1 to 100/],
    ['limit 101', { limit: '101' }, 'limit', /integer from 1 to 100/],
    ['limit 2.5', { limit: '2.5' }, 'limit', /integer/],
    ['an unknown status', { status: 'GONE' }, 'status', /one of: AWAITING_APPROVAL, PENDING/],
    ['an unknown parameter', { owner: 'me' }, 'owner', /not a parameter of this operation/],
    ['a cursor over 2048 characters', { cursor: 'c'.repeat(2049) }, 'cursor', /2048/],
  ])('rejects %s', (_case, query, path, message) => {
    // Act
    const err = rejection(() => router.match(apiEvent('GET', '/links', { query })));

    // Assert
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.errors).toEqual([{ path, in: 'query', message: expect.stringMatching(message) }]);
  });
});

describe('checkJsonStructure', () => {
  it('accepts the same key in different objects and escaped keys that differ', () => {
    expect(checkJsonStructure('{"a":{"a":1},"b":[{"a":1},{"a":2}],"c":"\\"a\\""}')).toBeUndefined();
  });

  it('finds a repeated key spelled with an escape, with its path', () => {
    expect(checkJsonStructure('{"x":[{"k":1},{"k":1,"\\u006b":2}]}')).toMatch(/"k" at \/x\/1\/k/);
  });

  it('rejects nesting deeper than 32 levels', () => {
    expect(checkJsonStructure(`${'['.repeat(33)}${']'.repeat(33)}`)).toMatch(/deeper than 32/);
  });
});

/** Kubernetes' rules, written out independently of the spec's regular expressions. */
const isAlphaNumLower = (c: string) => (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
function isDns1123Label(s: string): boolean {
  if (s.length < 1 || s.length > 63) return false;
  if (!isAlphaNumLower(s[0]!) || !isAlphaNumLower(s[s.length - 1]!)) return false;
  return [...s].every((c) => isAlphaNumLower(c) || c === '-');
}
function isDns1123Subdomain(s: string): boolean {
  return s.length >= 1 && s.length <= 253 && s.split('.').every(isDns1123Label);
}
const isAccountId = (s: unknown) =>
  typeof s === 'string' && s.length === 12 && [...s].every((c) => c >= '0' && c <= '9');

describe('router.match: property', () => {
  const nameChars = fc.constantFrom(...'abcz09-._AZ_ '.split(''));
  const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
  const name = fc.oneof(
    { arbitrary: label, weight: 4 },
    { arbitrary: fc.array(label, { minLength: 1, maxLength: 6 }).map((parts) => parts.join('.')), weight: 2 },
    fc.string({ unit: nameChars, minLength: 0, maxLength: 70 }),
    fc.string({ unit: nameChars, minLength: 240, maxLength: 270 }),
    fc.domain().map((d) => d.toLowerCase()),
    fc.string(),
  );
  const accountId = fc.oneof(
    { arbitrary: fc.stringMatching(/^[0-9]{12}$/), weight: 8 },
    fc.stringMatching(/^[0-9]{10,14}$/),
    fc.string({ maxLength: 14 }),
    fc.integer(),
  );

  it('accepts only Kubernetes-valid namespaces and service accounts, and 12-digit account ids', () => {
    let acceptedCount = 0;
    fc.assert(
      fc.property(
        name,
        name,
        accountId,
        accountId,
        (namespace, serviceAccount, sourceAccount, targetAccount) => {
          // Arrange
          const body = demoRequest();
          Object.assign(body.source, { namespace, serviceAccount, accountId: sourceAccount });
          body.targets[0].accountId = targetAccount;

          // Act
          let accepted: OnboardingRequest | undefined;
          try {
            accepted = postLinks(body).body as OnboardingRequest;
          } catch (err) {
            expect((err as ApiError).code).toBe('VALIDATION_FAILED');
          }

          // Assert
          const valid =
            isDns1123Label(namespace) &&
            isDns1123Subdomain(serviceAccount) &&
            isAccountId(sourceAccount) &&
            isAccountId(targetAccount);
          expect(accepted !== undefined).toBe(valid);
          acceptedCount += accepted === undefined ? 0 : 1;
          if (accepted !== undefined) {
            expect(isDns1123Label(accepted.source.namespace)).toBe(true);
            expect(isDns1123Subdomain(accepted.source.serviceAccount)).toBe(true);
            expect(isAccountId(accepted.source.accountId)).toBe(true);
            expect(accepted.targets.every((t) => isAccountId(t.accountId))).toBe(true);
          }
        },
      ),
      { numRuns: 500 },
    );
    // The generators reach both sides of the rule.
    expect(acceptedCount).toBeGreaterThan(10);
    expect(acceptedCount).toBeLessThan(490);
  });
});
