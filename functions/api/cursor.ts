/**
 * The pagination cursor of `GET /links`: the table's LastEvaluatedKey on the `byCreated`
 * index, as base64url JSON. Checked on the way back in — exactly the four keys, in the shape
 * this API writes them — so a forged cursor is a 400, never a table error or a 500.
 */
import { ApiError } from './problems';

const invalid = () => new ApiError('INVALID_CURSOR', 'The cursor is not one this API returned');

/**
 * The cursor of a page's last key.
 *
 * @example
 * encodeCursor({ pk: 'LINK#lnk_…', sk: 'LINK', gsi1pk: 'LINKS', gsi1sk: '2026-…#lnk_…' });
 */
export function encodeCursor(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** The key a cursor stands for; {@link ApiError} `INVALID_CURSOR` unless this API wrote it. */
export function decodeCursor(cursor: string | undefined): Record<string, unknown> | undefined {
  if (cursor === undefined) return undefined;
  let key: Record<string, unknown>;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw invalid();
  }
  const valid =
    key !== null &&
    typeof key === 'object' &&
    !Array.isArray(key) &&
    Object.keys(key).sort().join() === 'gsi1pk,gsi1sk,pk,sk' &&
    key.gsi1pk === 'LINKS' &&
    key.sk === 'LINK' &&
    typeof key.pk === 'string' &&
    /^LINK#lnk_[0-9A-HJKMNP-TV-Z]{26}$/.test(key.pk) &&
    typeof key.gsi1sk === 'string' &&
    /^\d{4}-\d{2}-\d{2}T[\d:.]+Z#lnk_[0-9A-HJKMNP-TV-Z]{26}$/.test(key.gsi1sk);
  if (!valid) throw invalid();
  return key;
}

/** The same refusal for a well-formed cursor the table still rejects (outside the query's range). */
export const invalidCursor = invalid;
