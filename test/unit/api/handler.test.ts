import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadApiRouter } from '#api/openapi/router';

describe('functions/api/handler.ts', () => {
  it('implements every operation of api/openapi.yaml, and no other', () => {
    const source = readFileSync(new URL('../../../functions/api/handler.ts', import.meta.url), 'utf8');
    const implemented = [...source.matchAll(/case '(\w+)':/g)].map((m) => m[1]).sort();
    const specified = loadApiRouter()
      .operations()
      .map((o) => o.operationId)
      .sort();
    expect(implemented).toEqual(specified);
  });
});
