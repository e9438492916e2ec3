/**
 * The Backstage template (catalog/backstage/template.yaml) against the API spec: every body
 * its form can produce is a valid `POST /links` (the API's own router judges it), every field
 * the request schema requires is collected by a required form field, and the form's
 * constraints are the API's, so what the API would refuse the form refuses first.
 */
import { readFileSync } from 'node:fs';
import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { loadApiRouter } from '#api/openapi/router';
import { apiEvent } from '../api/api-events';

type Schema = Record<string, any>;

const TEMPLATE_PATH = new URL('../../../catalog/backstage/template.yaml', import.meta.url);
const template = YAML.parse(readFileSync(TEMPLATE_PATH, 'utf8'));
const router = loadApiRouter();
const spec = router.spec as Schema;

/** Resolves a local `$ref` of the OpenAPI document. */
function resolve(schema: Schema | undefined): Schema {
  let s = schema ?? {};
  while (typeof s.$ref === 'string') {
    s = s.$ref
      .replace(/^#\//, '')
      .split('/')
      .reduce((node: any, key: string) => node?.[key], spec);
  }
  return s;
}

const REQUEST_SCHEMA = resolve({ $ref: '#/components/schemas/OnboardingRequest' });

/** The form as one JSON Schema: every page's properties and required fields. */
function formSchema(): Schema {
  const pages: Schema[] = template.spec.parameters;
  return {
    type: 'object',
    properties: Object.assign({}, ...pages.map((p) => p.properties)),
    required: pages.flatMap((p) => p.required ?? []),
  };
}

/** Without the UI hints Backstage takes out of the schema before validating (`ui:*`, `enumNames`). */
function withoutUiHints(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutUiHints);
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k]) => !k.startsWith('ui:') && k !== 'enumNames')
      .map(([k, v]) => [k, withoutUiHints(v)]),
  );
}

const validateForm = new Ajv({ allErrors: true }).compile(withoutUiHints(formSchema()) as Schema);

const step = (template.spec.steps as Schema[]).find((s) => s.action === 'http:backstage:request')!;
const EXPRESSION = /^\$\{\{\s*parameters\.([A-Za-z0-9_]+)\s*\}\}$/;

/** The body the step sends for these form values (Backstage keeps a whole-value expression's type). */
function render(node: unknown, parameters: Record<string, unknown>): unknown {
  if (typeof node === 'string') {
    const m = EXPRESSION.exec(node);
    if (m) return parameters[m[1]!];
    if (node.includes('${{')) throw new Error(`The body uses an expression this test does not know: ${node}`);
    return node;
  }
  if (Array.isArray(node)) return node.map((n) => render(n, parameters));
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, render(v, parameters)]));
  }
  return node;
}

/** What the API's router makes of the body: throws its ApiError when it refuses it. */
const apiAccepts = (body: unknown) => router.match(apiEvent('POST', '/links', { body })).body;

const WORKLOAD = {
  sourceAccountId: '111111111111',
  sourceRegion: 'ap-southeast-1',
  sourceCluster: 'cluster-a',
  namespace: 'kubeai-chatbot',
  serviceAccount: 'kubeai-chatbot',
};
const VIEW = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy';
const target = (access: Schema, cluster = 'cluster-b') => ({
  accountId: '222222222222',
  region: 'ap-southeast-1',
  cluster,
  access,
});

const FORMS: Record<string, Record<string, unknown>> = {
  'a policy at cluster scope, NAT network': {
    ...WORKLOAD,
    targets: [target({ policyArn: VIEW, scope: { type: 'cluster' } })],
    network: { mode: 'nat' },
  },
  'a namespace scope with a username, two targets, CIDRs': {
    ...WORKLOAD,
    targets: [
      target({
        policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy',
        scope: { type: 'namespace', namespaces: ['team-a', 'team-b'] },
        username: 'ci-bot',
      }),
      {
        ...target({ policyArn: VIEW, scope: { type: 'cluster' } }, 'cluster-d'),
        accountId: '333333333333',
        region: 'eu-west-1',
      },
    ],
    network: { mode: 'cidrs', cidrs: ['203.0.113.7/32', '198.51.100.0/24'] },
  },
  'Kubernetes groups, no network rule': {
    ...WORKLOAD,
    targets: [target({ groups: ['viewers', 'tether:readers'] }, 'cluster-c')],
    network: { mode: 'none' },
  },
};

describe('the template', () => {
  it('is a scaffolder v1beta3 Template whose step POSTs JSON to the API’s /links through the Backstage proxy', () => {
    expect(template).toMatchObject({ apiVersion: 'scaffolder.backstage.io/v1beta3', kind: 'Template' });
    expect(template.metadata.name).toMatch(/^[a-z0-9-]+$/);
    expect(step).toBeDefined();
    expect(step.input.method).toBe('POST');
    expect(step.input.path).toMatch(/^\/proxy\/[a-z-]+\/links$/);
    // The action sends an object body as JSON only when the content type says JSON.
    expect(step.input.headers['content-type']).toBe('application/json');
    expect(router.operations()).toContainEqual(
      expect.objectContaining({ operationId: 'createLinks', method: 'POST', path: '/links' }),
    );
  });

  it('sends every field the form collects, and collects every parameter the body uses, as required', () => {
    const form = formSchema();
    const used = new Set<string>();
    const walk = (node: unknown) => {
      if (typeof node === 'string') {
        const m = EXPRESSION.exec(node);
        if (m) used.add(m[1]!);
      } else if (node && typeof node === 'object') Object.values(node).forEach(walk);
    };
    walk(step.input.body);
    expect([...used].sort()).toEqual(Object.keys(form.properties).sort());
    for (const name of used) expect(form.required, name).toContain(name);
  });
});

describe('every body the form can produce is a valid POST /links', () => {
  it.each(Object.entries(FORMS))('%s', (_name, values) => {
    expect(validateForm(values), JSON.stringify(validateForm.errors)).toBe(true);
    const body = render(step.input.body, values) as Schema;
    const accepted = apiAccepts(body) as Schema;
    expect(accepted).toEqual({ identity: { mode: 'irsa' }, ...body });
  });
});

/** Paths of every required field of a schema, `[]` for array items: `targets[].access`. */
function requiredPaths(schema: Schema, prefix = ''): string[] {
  const s = resolve(schema);
  const paths: string[] = [];
  if (s.type === 'array' && s.items) return requiredPaths(s.items, `${prefix}[]`);
  for (const name of s.required ?? []) {
    const path = prefix ? `${prefix}.${name}` : name;
    paths.push(path, ...requiredPaths(s.properties?.[name] ?? {}, path));
  }
  return paths;
}

/** Whether a form schema requires the rest of a path (`[].accountId`). */
function formRequires(schema: Schema, rest: string[]): boolean {
  if (!rest.length) return true;
  const [head, ...tail] = rest;
  if (head === '[]') return schema.type === 'array' && formRequires(schema.items ?? {}, tail);
  return (schema.required ?? []).includes(head) && formRequires(schema.properties?.[head!] ?? {}, tail);
}

describe('every field the request schema requires is collected by a required form field', () => {
  const form = formSchema();
  it.each(requiredPaths(REQUEST_SCHEMA))('%s', (path) => {
    const segments = path.replace(/\[\]/g, '.[]').split('.');
    let node: unknown = step.input.body;
    for (let i = 0; ; i++) {
      if (typeof node === 'string') {
        const param = EXPRESSION.exec(node)?.[1];
        expect(param, `${path} is sent as ${node}`).toBeDefined();
        expect(form.required, `${path}: the form field ${param} is not required`).toContain(param);
        expect(
          formRequires(form.properties[param!], segments.slice(i)),
          `${path} in the form field ${param}`,
        ).toBe(true);
        return;
      }
      // An object of the body itself: its own required fields are paths of their own.
      if (i === segments.length) return;
      const key = segments[i]!;
      expect(node && typeof node === 'object' && key in node, `${path}: the body has no ${key}`).toBe(true);
      node = (node as Schema)[key];
    }
  });
});

/** The alternatives of an API schema: `oneOf`, or the `then` and `else` of an if/then/else. */
function alternatives(api: Schema): Schema[] {
  const s = resolve(api);
  if (s.oneOf) return s.oneOf.map(resolve);
  if (s.then && s.else) return [resolve(s.then), resolve(s.else)];
  return [];
}

const CONSTRAINTS = [
  'type',
  'pattern',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'uniqueItems',
  'not',
  'const',
];
const sameSet = (a: string[] = [], b: string[] = []) =>
  a.length === b.length && a.every((x) => b.includes(x));

/** The form's schema carries the API's constraints wherever the API has them. */
function expectSameConstraints(form: Schema, apiSchema: Schema, path: string): void {
  const api = resolve(apiSchema);
  for (const k of CONSTRAINTS) {
    if (api[k] !== undefined) expect(form[k], `${path}: ${k}`).toEqual(api[k]);
  }
  if (api.items) expectSameConstraints(form.items ?? {}, api.items, `${path}[]`);
  const apiAlternatives = alternatives(api);
  if (form.oneOf) {
    expect(apiAlternatives.length, `${path}: the API has no alternatives`).toBeGreaterThan(0);
    for (const [i, alt] of (form.oneOf as Schema[]).entries()) {
      const match = apiAlternatives.find(
        (a) =>
          sameSet(a.required, alt.required) &&
          Object.keys(alt.properties ?? {}).every((p) => {
            const c = resolve(a.properties?.[p]).const;
            return c === undefined || c === alt.properties[p].const;
          }),
      );
      expect(match, `${path}: alternative ${i} (${alt.title}) has no match in the API`).toBeDefined();
      expectSameConstraints(alt, match!, `${path}|${alt.title}`);
    }
    return;
  }
  for (const [name, prop] of Object.entries((form.properties ?? {}) as Record<string, Schema>)) {
    expect(api.properties, `${path}: the API takes no ${name}`).toHaveProperty(name);
    expectSameConstraints(prop, api.properties[name], `${path}.${name}`);
  }
  if (form.required || api.required)
    expect(form.required?.slice().sort(), `${path}: required`).toEqual(api.required?.slice().sort());
}

describe('the form’s constraints are the API’s', () => {
  it('for every field the body sends', () => {
    const form = formSchema();
    const walk = (node: unknown, api: Schema, path: string) => {
      if (typeof node === 'string') {
        const param = EXPRESSION.exec(node)?.[1];
        if (param) expectSameConstraints(form.properties[param], api, `${path} (${param})`);
        return;
      }
      for (const [k, v] of Object.entries(node as Schema))
        walk(v, resolve(api).properties[k], `${path}.${k}`);
    };
    walk(step.input.body, REQUEST_SCHEMA, 'body');
  });

  it.each([
    ['an account id of 11 digits', { sourceAccountId: '11111111111' }],
    ['an uppercase namespace', { namespace: 'Bad_NS' }],
    ['no target', { targets: [] }],
    ['21 targets', { targets: Array.from({ length: 21 }, (_, i) => target({ groups: ['g'] }, `c${i}`)) }],
    ['the group system:masters', { targets: [target({ groups: ['system:masters'] })] }],
    [
      'a namespace scope without namespaces',
      { targets: [target({ policyArn: VIEW, scope: { type: 'namespace' } })] },
    ],
    [
      'a policy and groups at once',
      { targets: [target({ policyArn: VIEW, scope: { type: 'cluster' }, groups: ['g'] })] },
    ],
    ['a CIDR with a /33', { network: { mode: 'cidrs', cidrs: ['10.0.0.0/33'] } }],
    ['CIDRs with network none', { network: { mode: 'none', cidrs: ['10.0.0.0/8'] } }],
  ])('%s: refused by the API and by the form', (_name, change) => {
    const values = { ...FORMS['a policy at cluster scope, NAT network']!, ...change };
    expect(() => apiAccepts(render(step.input.body, values))).toThrow();
    expect(validateForm(values)).toBe(false);
  });
});
