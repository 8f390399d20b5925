/**
 * Reads members of the ZIP that ANAF's `descarcare` answers (`<index>.xml` and `semnatura_<index>.xml`)
 * through its central directory: stored or deflated members, no ZIP64, no encryption (ANAF uses none).
 */
import { inflateRawSync } from 'node:zlib';

export interface ZipMember {
  name: string;
  data: Buffer;
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/** Every member's name and exact bytes; throws on anything that is not a readable ZIP. */
export function readZip(input: Uint8Array): ZipMember[] {
  const zip = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  // The end record sits in the last 22 bytes plus a comment of at most 65535.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a ZIP archive (no end of central directory)');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const members: ZipMember[] = [];
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(at) !== CENTRAL) throw new Error('broken ZIP central directory');
    const flags = zip.readUInt16LE(at + 8);
    const method = zip.readUInt16LE(at + 10);
    const compressedSize = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const localOffset = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLength).toString(flags & 0x800 ? 'utf8' : 'latin1');
    at += 46 + nameLength + extraLength + commentLength;
    if (flags & 0x1) throw new Error(`ZIP member ${name} is encrypted`);
    if (zip.readUInt32LE(localOffset) !== LOCAL) throw new Error(`broken ZIP local header for ${name}`);
    const start = localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
    const raw = zip.subarray(start, start + compressedSize);
    let data: Buffer;
    if (method === 0) data = Buffer.from(raw);
    else if (method === 8) data = inflateRawSync(raw);
    else throw new Error(`ZIP member ${name} uses compression method ${method}`);
    if (data.length !== size) throw new Error(`ZIP member ${name} has ${data.length} bytes, not ${size}`);
    members.push({ name, data });
  }
  return members;
}

export type DownloadPart = 'invoice' | 'signature';

/** The invoice (`<index>.xml`) or its signature (`semnatura_<index>.xml`) of an ANAF ZIP; null when absent. */
export function zipPart(zip: Uint8Array, part: DownloadPart): ZipMember | null {
  const members = readZip(zip).filter((m) => /\.xml$/i.test(m.name) && !m.name.endsWith('/'));
  const isSignature = (m: ZipMember) => /(^|\/)semnatura_[^/]*$/i.test(m.name);
  return members.find((m) => (part === 'signature' ? isSignature(m) : !isSignature(m))) ?? null;
}
