/**
 * The agent role's policies as CloudFormation would make them in one account: read from a
 * synthesized template, with the pseudo parameters and the intrinsic functions the member
 * template uses resolved (`Ref` to a pseudo parameter, `Fn::Join`, `Fn::Sub`). Anything else
 * is refused rather than guessed.
 */
import type { Policy } from './evaluate';

type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, any> }> };

export interface Place {
  readonly account: string;
  readonly region: string;
  readonly partition?: string;
}

function pseudo(name: string, place: Place): string {
  switch (name) {
    case 'AWS::AccountId':
      return place.account;
    case 'AWS::Region':
      return place.region;
    case 'AWS::Partition':
      return place.partition ?? 'aws';
    case 'AWS::URLSuffix':
      return 'amazonaws.com';
    default:
      throw new Error(`cannot resolve ${name}`);
  }
}

/** The value with every intrinsic resolved for one account and region. */
export function resolve(value: unknown, place: Place): unknown {
  if (Array.isArray(value)) return value.map((v) => resolve(v, place));
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length === 1) {
    const [fn] = keys as [string];
    const arg = obj[fn];
    if (fn === 'Ref') return pseudo(String(arg), place);
    if (fn === 'Fn::Join') {
      const [sep, parts] = arg as [string, unknown[]];
      return (resolve(parts, place) as unknown[]).map(String).join(sep);
    }
    if (fn === 'Fn::Sub') {
      if (typeof arg !== 'string') throw new Error('Fn::Sub with variables is not supported here');
      return arg.replace(/\$\{([^}]+)\}/g, (_m, name: string) => pseudo(name, place));
    }
    if (fn.startsWith('Fn::')) throw new Error(`cannot resolve ${fn}`);
  }
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, resolve(v, place)]));
}

/** The logical id of the role named `roleName`. */
export function roleLogicalId(template: Template, roleName: string): string {
  const found = Object.entries(template.Resources).find(
    ([, r]) => r.Type === 'AWS::IAM::Role' && r.Properties?.RoleName === roleName,
  );
  if (!found) throw new Error(`no role ${roleName} in the template`);
  return found[0];
}

/**
 * Every identity policy of a role: inline, attached managed policies of the template, and
 * `AWS::IAM::Policy` resources naming the role.
 */
export function rolePolicies(template: Template, roleName: string, place: Place): Policy[] {
  const id = roleLogicalId(template, roleName);
  const role = template.Resources[id]?.Properties ?? {};
  const policies: Policy[] = [];
  for (const p of (role.Policies ?? []) as { PolicyDocument: unknown }[])
    policies.push(resolve(p.PolicyDocument, place) as Policy);
  for (const arn of (role.ManagedPolicyArns ?? []) as unknown[]) {
    const ref = (arn as { Ref?: string }).Ref;
    const managed = ref ? template.Resources[ref] : undefined;
    if (managed?.Type !== 'AWS::IAM::ManagedPolicy')
      throw new Error(`managed policy ${JSON.stringify(arn)} is not in the template`);
    policies.push(resolve(managed.Properties?.PolicyDocument, place) as Policy);
  }
  for (const r of Object.values(template.Resources)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    const roles = (r.Properties?.Roles ?? []) as { Ref?: string }[];
    if (roles.some((x) => x.Ref === id))
      policies.push(resolve(r.Properties?.PolicyDocument, place) as Policy);
  }
  return policies;
}

/** The role's trust policy. */
export function trustPolicy(template: Template, roleName: string, place: Place): Policy {
  const id = roleLogicalId(template, roleName);
  return resolve(template.Resources[id]?.Properties?.AssumeRolePolicyDocument, place) as Policy;
}

/** A managed policy of the template, by name. */
export function managedPolicy(template: Template, name: string, place: Place): Policy {
  const found = Object.values(template.Resources).find(
    (r) => r.Type === 'AWS::IAM::ManagedPolicy' && r.Properties?.ManagedPolicyName === name,
  );
  if (!found) throw new Error(`no managed policy ${name}`);
  return resolve(found.Properties?.PolicyDocument, place) as Policy;
}
