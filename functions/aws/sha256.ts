/**
 * SHA-256 and HMAC-SHA-256 for `@smithy/signature-v4`, from `node:crypto`: the signer takes a
 * `Checksum` constructor, and Node's own hashes need no extra package. Used wherever Tether
 * signs a request itself (the EKS token for aws-auth, the CLI's calls to a deployed hub).
 */
import { createHash, createHmac } from 'node:crypto';
import type { Checksum, SourceData } from '@smithy/types';

/** A `Checksum` over `node:crypto`: HMAC when constructed with a secret, else a plain hash. */
export class NodeSha256 implements Checksum {
  readonly #hash;
  constructor(secret?: SourceData) {
    this.#hash = secret ? createHmac('sha256', toBuffer(secret)) : createHash('sha256');
  }
  update(data: SourceData): void {
    this.#hash.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
  reset(): void {
    throw new Error('not supported');
  }
}

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data as ArrayBuffer);
}
