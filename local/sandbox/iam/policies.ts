/**
 * IAM policy documents as the sandbox reads them: parsing (MalformedPolicyDocument on bad
 * JSON or shape, like IAM) and the `Principal.AWS` entries of a statement.
 */
import { SandboxError } from '#local/sandbox/errors';

/** A parsed IAM policy statement (only the parts the sandbox reads). */
export interface PolicyStatement {
  Sid?: string;
  Effect?: string;
  Principal?: unknown;
  Action?: unknown;
  Resource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** A parsed IAM policy. */
export interface PolicyDocument {
  Version?: string;
  Statement: PolicyStatement[];
}

/** Parses a policy; MalformedPolicyDocument on bad JSON or shape, like IAM. */
export function parsePolicy(text: string): PolicyDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new SandboxError('MalformedPolicyDocument', 'This policy contains invalid Json');
  }
  if (typeof raw !== 'object' || raw === null || !('Statement' in raw)) {
    throw new SandboxError('MalformedPolicyDocument', 'Syntax errors in policy.');
  }
  const st = (raw as { Statement: unknown }).Statement;
  const statements = Array.isArray(st) ? st : [st];
  for (const s of statements) {
    if (typeof s !== 'object' || s === null)
      throw new SandboxError('MalformedPolicyDocument', 'Syntax errors in policy.');
    const effect = (s as PolicyStatement).Effect;
    if (effect !== 'Allow' && effect !== 'Deny') {
      throw new SandboxError('MalformedPolicyDocument', `Invalid effect: ${String(effect)}`);
    }
  }
  return { ...(raw as object), Statement: statements as PolicyStatement[] };
}

/** The `Principal.AWS` entries of a statement, as strings. */
export function awsPrincipals(statement: PolicyStatement): string[] {
  const p = statement.Principal;
  if (p === '*') return ['*'];
  if (typeof p !== 'object' || p === null) return [];
  const aws = (p as Record<string, unknown>).AWS;
  if (typeof aws === 'string') return [aws];
  if (Array.isArray(aws)) return aws.filter((a): a is string => typeof a === 'string');
  return [];
}
