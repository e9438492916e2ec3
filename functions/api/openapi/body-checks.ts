import { ApiError } from '#api/problems';
import { escapePointer } from './messages';

/** Largest request body the API accepts (bytes, after base64 decoding). */
export const MAX_BODY_BYTES = 64 * 1024;

/** Deepest JSON nesting accepted; the request schema is far shallower. */
export const MAX_JSON_DEPTH = 32;

export function assertJsonContentType(contentType: string | undefined): void {
  if (contentType === undefined || contentType.trim() === '') {
    throw new ApiError(
      'UNSUPPORTED_MEDIA_TYPE',
      'The request has a body but no Content-Type; send application/json.',
    );
  }
  const [mediaType = '', ...params] = contentType.split(';').map((s) => s.trim().toLowerCase());
  if (mediaType !== 'application/json') {
    throw new ApiError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Content-Type ${mediaType} is not accepted; send application/json.`,
    );
  }
  for (const param of params) {
    const [name, value = ''] = param.split('=').map((s) => s.trim());
    if (name === 'charset' && value.replaceAll('"', '') !== 'utf-8') {
      throw new ApiError('UNSUPPORTED_MEDIA_TYPE', `Charset ${value} is not accepted; send UTF-8.`);
    }
  }
}

/**
 * Finds what `JSON.parse` lets through silently: a key repeated in one object (it keeps the
 * last one) and nesting deeper than {@link MAX_JSON_DEPTH}. `text` is known to be valid JSON.
 * Returns the problem, or `undefined`.
 */
export function checkJsonStructure(text: string): string | undefined {
  // One frame per open object or array: the keys seen so far, or the index of the current item.
  const stack: { keys?: Set<string>; key?: string; index: number; expectKey: boolean }[] = [];
  const pointer = () =>
    stack
      .map((frame) => (frame.keys === undefined ? String(frame.index) : escapePointer(frame.key ?? '')))
      .join('/');
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '{' || ch === '[') {
      stack.push(
        ch === '{' ? { keys: new Set(), index: 0, expectKey: true } : { index: 0, expectKey: false },
      );
      if (stack.length > MAX_JSON_DEPTH)
        return `The request body nests deeper than ${MAX_JSON_DEPTH} levels.`;
    } else if (ch === '}' || ch === ']') {
      stack.pop();
    } else if (ch === ',') {
      const top = stack[stack.length - 1];
      if (top === undefined) continue;
      if (top.keys === undefined) top.index++;
      else top.expectKey = true;
    } else if (ch === '"') {
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.keys !== undefined && top.expectKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        top.key = key;
        top.expectKey = false;
        if (top.keys.has(key)) {
          return `The request body repeats the key ${JSON.stringify(key.slice(0, 64))} at /${pointer().slice(0, 256)}; each key may appear once in an object.`;
        }
        top.keys.add(key);
      }
      i = end;
    }
  }
  return undefined;
}
