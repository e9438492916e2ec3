import { createHash } from 'node:crypto';

/**
 * Ownership tags (docs/architecture.md#what-one-link-makes-and-who-owns-it). Every resource
 * Tether creates carries them; before it changes or deletes anything, it checks them.
 */

export const TAG_MANAGED = 'tether:managed';
export const TAG_OWNER = 'tether:owner';

/** IAM, EKS and EC2 tag values: at most 256 characters. */
export const MAX_TAG_VALUE_LENGTH = 256;

/**
 * The tag value of an owner key: the key itself when it fits, else a prefix of it and a
 * hash of the whole key (`=` is in IAM's tag character set), so two long keys never share
 * a value.
 */
export function ownerTagValue(owner: string): string {
  if (owner.length <= MAX_TAG_VALUE_LENGTH) return owner;
  const hash = createHash('sha256').update(owner).digest('hex').slice(0, 16);
  return `${owner.slice(0, MAX_TAG_VALUE_LENGTH - hash.length - 1)}=${hash}`;
}

export interface Tag {
  readonly Key: string;
  readonly Value: string;
}

/** Tags of a resource owned by `owner` (a link id, or a shared resource's key). */
export function ownershipTags(owner: string): Tag[] {
  return [
    { Key: TAG_MANAGED, Value: 'true' },
    { Key: TAG_OWNER, Value: ownerTagValue(owner) },
  ];
}

/** Tags as the EKS API takes them (a map). */
export function ownershipTagMap(owner: string): Record<string, string> {
  return Object.fromEntries(ownershipTags(owner).map((t) => [t.Key, t.Value]));
}

type TagInput =
  | readonly { Key?: string | undefined; Value?: string | undefined }[]
  | Record<string, string>
  | undefined;

/** Whether a resource carries Tether's managed tag. */
export function isManaged(tags: TagInput): boolean {
  if (!tags) return false;
  if (Array.isArray(tags)) return tags.some((t) => t.Key === TAG_MANAGED && t.Value === 'true');
  return (tags as Record<string, string>)[TAG_MANAGED] === 'true';
}

/** Whether a resource is Tether's and belongs to `owner`. */
export function isOwnedBy(tags: TagInput, owner: string): boolean {
  return isManaged(tags) && ownerOf(tags) === ownerTagValue(owner);
}

export function ownerOf(tags: TagInput): string | undefined {
  if (!tags) return undefined;
  if (Array.isArray(tags)) return tags.find((t) => t.Key === TAG_OWNER)?.Value;
  return (tags as Record<string, string>)[TAG_OWNER];
}
