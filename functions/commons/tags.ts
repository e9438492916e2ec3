/**
 * Ownership tags (DESIGN.md, "What one link makes, and who owns it"). Every resource
 * Tether creates carries them; before it changes or deletes anything, it checks them.
 */

export const TAG_MANAGED = 'tether:managed';
export const TAG_OWNER = 'tether:owner';

export interface Tag {
  readonly Key: string;
  readonly Value: string;
}

/** Tags of a resource owned by `owner` (a link id, or a shared resource's key). */
export function ownershipTags(owner: string): Tag[] {
  return [
    { Key: TAG_MANAGED, Value: 'true' },
    { Key: TAG_OWNER, Value: owner.slice(0, 256) },
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

export function ownerOf(tags: TagInput): string | undefined {
  if (!tags) return undefined;
  if (Array.isArray(tags)) return tags.find((t) => t.Key === TAG_OWNER)?.Value;
  return (tags as Record<string, string>)[TAG_OWNER];
}
