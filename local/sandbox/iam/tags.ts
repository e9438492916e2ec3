/**
 * IAM's tag rules, the same for roles and OIDC providers: the character set, the key and
 * value lengths, the tags-per-resource quota, and the shape of List*Tags.
 */
import { clone, mergeTags } from '#local/sandbox/context';
import { SandboxError } from '#local/sandbox/errors';
import type { TagState } from '#local/sandbox/state';

/** Tags per role (and per OIDC provider). */
export const TAGS_PER_RESOURCE = 50;

/** IAM's tag character set (IAM API reference, Tag: Key and Value patterns). */
const TAG_PATTERN = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** Keys ≤ 128 and values ≤ 256 characters of IAM's tag set, as IAM checks them. */
export function checkTagContents(tags: readonly { Key?: string; Value?: string }[]): void {
  tags.forEach((t, i) => {
    const key = t.Key ?? '';
    const value = t.Value ?? '';
    const at = (field: string, rule: string) =>
      new SandboxError(
        'ValidationError',
        `1 validation error detected: Value at 'tags.${i + 1}.member.${field}' failed to satisfy constraint: ${rule}`,
      );
    if (key.length < 1 || key.length > 128) throw at('key', 'Member must have length between 1 and 128');
    if (!TAG_PATTERN.test(key))
      throw at('key', 'Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+');
    if (value.length > 256) throw at('value', 'Member must have length less than or equal to 256');
    if (!TAG_PATTERN.test(value))
      throw at('value', 'Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*');
  });
}

/** The tags of a Create* call, checked; an absent list is no tags. */
export function validateTags(tags: unknown): TagState[] {
  if (tags === undefined) return [];
  if (!Array.isArray(tags)) throw new SandboxError('ValidationError', 'Tags must be a list');
  checkTagContents(tags as { Key?: string; Value?: string }[]);
  const out = mergeTags([], tags as { Key?: string; Value?: string }[]);
  checkTagCount(out.length);
  return out;
}

/** LimitExceeded (409) above {@link TAGS_PER_RESOURCE} tags. */
export function checkTagCount(n: number): void {
  if (n > TAGS_PER_RESOURCE) {
    throw new SandboxError('LimitExceeded', `Cannot exceed quota for TagsPerRole: ${TAGS_PER_RESOURCE}`, {
      statusCode: 409,
    });
  }
}

/** What ListRoleTags and ListOpenIDConnectProviderTags answer. */
export const listTags = (tags: TagState[]): Record<string, unknown> => ({
  Tags: clone(tags),
  IsTruncated: false,
});
