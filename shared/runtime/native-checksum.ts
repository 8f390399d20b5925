import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * Stands in for `@smithy/core/checksum` in the deployed bundles (esbuild alias, BUNDLE_ALIASES in
 * infra/constructs/broker-function.ts): the two checksums the bundled clients take from it, SHA-256
 * (request signing) and CRC-32 (DynamoDB's response check), on Node's own crypto and zlib, as the SDK's
 * Node classes already compute them. The SDK's module also carries pure-JS fallbacks for runtimes
 * without native crypto (3.8 KB) that Lambda's Node never uses. Only these two names are exported, so a
 * client that takes another one from the module fails the build. test/unit/runtime/bundle-aliases.test.ts
 * compares both with the SDK's own.
 */

type Data = string | ArrayBuffer | ArrayBufferView;

const bytes = (data: Data): string | Uint8Array => {
  if (typeof data === 'string') return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
};

const view = (buf: Buffer) => new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);

/** SHA-256, or HMAC-SHA-256 when built with a secret (the SDK's Checksum interface). */
export class Sha256 {
  readonly digestLength = 32;
  private hash: Hash | Hmac;
  private finished = false;

  constructor(private readonly secret?: Data) {
    this.hash = this.create();
  }

  update(data: Data): void {
    if (this.finished) throw new Error('Attempted to update an already finished hash.');
    this.hash.update(bytes(data));
  }

  async digest(): Promise<Uint8Array> {
    // An HMAC cannot be copied: its digest ends it. A plain hash can go on after a digest.
    if (this.secret !== undefined) {
      this.finished = true;
      return view(this.hash.digest());
    }
    return view((this.hash as Hash).copy().digest());
  }

  reset(): void {
    this.hash = this.create();
    this.finished = false;
  }

  private create(): Hash | Hmac {
    return this.secret !== undefined ? createHmac('sha256', bytes(this.secret)) : createHash('sha256');
  }
}

/** CRC-32 (the SDK's Checksum interface, with its `digestSync`). */
export class Crc32 {
  readonly digestLength = 4;
  private value = 0;

  update(data: Data): void {
    this.value = crc32(bytes(data), this.value);
  }

  digestSync(): number {
    return this.value >>> 0;
  }

  async digest(): Promise<Uint8Array> {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, this.digestSync(), false);
    return out;
  }

  reset(): void {
    this.value = 0;
  }
}
