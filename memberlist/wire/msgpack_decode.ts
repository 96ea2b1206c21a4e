/**
 * The msgpack decoder (see msgpack.ts for the encoder and the wire rules): lenient, every
 * family msgpack has; str/bin payloads come back as `Uint8Array` (copies, or views into the
 * input when asked), map keys and short texts as cached strings. Struct decoding without
 * building objects is in msgpack_struct.ts.
 *
 * @module
 */
import { CodecError } from "./errors.ts";

/** A value the codec can encode, or the decoder returns (str and bin decode to bytes). */
export type MsgpackValue =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | MsgpackValue[]
  | { [key: string]: MsgpackValue };

/** Nesting deeper than this is rejected; memberlist messages are one level deep. */
export const MAX_MSGPACK_DEPTH: number = 64;

const textDecoder = new TextDecoder();

/** Cursor over the input (shared with msgpack_struct.ts, not part of the module's API). */
export class Cursor {
  readonly buf: Uint8Array;
  pos: number;
  /** Exclusive bound of the input within `buf`. */
  readonly end: number;
  /** Return str/bin payloads as views into `buf` instead of copies. */
  readonly views: boolean;
  #view: DataView | null = null;

  constructor(buf: Uint8Array, pos: number, end: number, views: boolean) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.views = views;
  }

  // Only floats, signed and 64-bit integers need one: most items are decoded without it.
  get view(): DataView {
    return this.#view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** Big-endian unsigned 16 bits at `pos`, advancing (bounds checked by the caller). */
  u16(): number {
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 2;
    return (b[p] << 8) | b[p + 1];
  }

  /** Big-endian unsigned 32 bits at `pos`, advancing (bounds checked by the caller). */
  u32(): number {
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
  }
}

// Map keys are a few dozen Go field names, and node names repeat in every message about a
// node: decode each once, then find it by a hash of its bytes (checked char by char) instead
// of running a TextDecoder, so equal names also share one string in memory. The cache is a
// plain array indexed by the hash, two slots per hash (the newer first): one load finds a
// name, where a Map lookup cost a hash table walk on every state of a push/pull.
const TEXT_SLOTS = 1 << 17;
const textCache: (string | undefined)[] = new Array(TEXT_SLOTS).fill(undefined);
const MAX_CACHED_TEXT_BYTES = 64;

function cachedText(s: string | undefined, buf: Uint8Array, start: number, n: number): boolean {
  if (s === undefined || s.length !== n) return false;
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) !== buf[start + i]) return false;
  return true;
}

/**
 * UTF-8 text of `buf[start, start + n)`; short ASCII texts come from a cache (same bytes,
 * usually the same string).
 *
 * @example
 * ```ts
 * decodeText(new TextEncoder().encode("node-1"), 0, 6); // "node-1"
 * ```
 */
export function decodeText(buf: Uint8Array, start: number, n: number): string {
  if (n > MAX_CACHED_TEXT_BYTES) return textDecoder.decode(buf.subarray(start, start + n));
  let h = n;
  for (let i = 0; i < n; i++) {
    const b = buf[start + i];
    if (b >= 0x80) return textDecoder.decode(buf.subarray(start, start + n));
    h = (Math.imul(h, 31) + b) | 0;
  }
  const slot = (h & (TEXT_SLOTS / 2 - 1)) << 1;
  const first = textCache[slot];
  if (cachedText(first, buf, start, n)) return first as string;
  const second = textCache[slot + 1];
  if (cachedText(second, buf, start, n)) return second as string;
  let text = "";
  for (let i = 0; i < n; i++) text += String.fromCharCode(buf[start + i]);
  textCache[slot + 1] = first;
  textCache[slot] = text;
  return text;
}

/** Throws a truncation error unless `n` more bytes are there. */
export function need(c: Cursor, n: number): void {
  if (c.pos + n > c.end) {
    throw new CodecError("msgpack input truncated", true, c.pos + n);
  }
}

/** `n` bytes as text, through the text cache. */
export function readKey(c: Cursor, n: number): string {
  need(c, n);
  const key = decodeText(c.buf, c.pos, n);
  c.pos += n;
  return key;
}

function readRawBytes(c: Cursor, n: number): Uint8Array {
  need(c, n);
  const out = c.views ? c.buf.subarray(c.pos, c.pos + n) : c.buf.slice(c.pos, c.pos + n);
  c.pos += n;
  return out;
}

function safe64(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new CodecError("msgpack 64-bit integer outside the safe range");
  }
  return Number(v);
}

function readArray(c: Cursor, n: number, depth: number): MsgpackValue[] {
  // Each element needs at least one byte: a lying length is "truncated", never allocated.
  need(c, n);
  const out: MsgpackValue[] = [];
  for (let i = 0; i < n; i++) out.push(readValue(c, depth + 1));
  return out;
}

function setField(out: { [key: string]: MsgpackValue }, key: string, v: MsgpackValue): void {
  if (key === "__proto__") {
    Object.defineProperty(out, key, {
      value: v,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else out[key] = v;
}

function readMap(c: Cursor, n: number, depth: number): { [key: string]: MsgpackValue } {
  need(c, n * 2);
  // A plain object keeps V8's fast properties (a null-prototype one is a slow dictionary);
  // "__proto__" is the one key that must not go through assignment.
  const out: { [key: string]: MsgpackValue } = {};
  for (let i = 0; i < n; i++) {
    const key = readMapKey(c, depth + 1);
    setField(out, key, readValue(c, depth + 1));
  }
  return out;
}

/** A map key as text: short raw strings from the text cache, other scalars stringified. */
export function readMapKey(c: Cursor, depth: number): string {
  need(c, 1);
  const b = c.buf[c.pos];
  if (b >= 0xa0 && b <= 0xbf) {
    c.pos++;
    return readKey(c, b & 0x1f);
  }
  const k = readValue(c, depth);
  if (k instanceof Uint8Array) return textDecoder.decode(k);
  if (typeof k === "number" || typeof k === "boolean" || k === null) return String(k);
  throw new CodecError("unsupported msgpack map key");
}

/** One item of any kind, nested no deeper than MAX_MSGPACK_DEPTH. */
export function readValue(c: Cursor, depth: number): MsgpackValue {
  if (depth > MAX_MSGPACK_DEPTH) throw new CodecError("msgpack value nested too deeply");
  need(c, 1);
  const b = c.buf[c.pos++];
  if (b < 0x80) return b;
  if (b >= 0xe0) return b - 0x100;
  if (b >= 0xa0 && b <= 0xbf) return readRawBytes(c, b & 0x1f);
  if (b >= 0x90 && b <= 0x9f) return readArray(c, b & 0x0f, depth);
  if (b >= 0x80 && b <= 0x8f) return readMap(c, b & 0x0f, depth);
  switch (b) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
    case 0xd9:
      need(c, 1);
      return readRawBytes(c, c.buf[c.pos++]);
    case 0xc5:
    case 0xda:
      need(c, 2);
      return readRawBytes(c, c.u16());
    case 0xc6:
    case 0xdb:
      need(c, 4);
      return readRawBytes(c, c.u32());
    case 0xc7:
    case 0xc8:
    case 0xc9: {
      // ext: memberlist never sends one; return the payload so unknown fields can be skipped
      const lenSize = b === 0xc7 ? 1 : b === 0xc8 ? 2 : 4;
      need(c, lenSize + 1);
      const n = lenSize === 1
        ? c.buf[c.pos]
        : lenSize === 2
        ? c.view.getUint16(c.pos)
        : c.view.getUint32(c.pos);
      c.pos += lenSize + 1;
      return readRawBytes(c, n);
    }
    case 0xca:
      need(c, 4);
      c.pos += 4;
      return c.view.getFloat32(c.pos - 4);
    case 0xcb:
      need(c, 8);
      c.pos += 8;
      return c.view.getFloat64(c.pos - 8);
    case 0xcc:
      need(c, 1);
      return c.buf[c.pos++];
    case 0xcd:
      need(c, 2);
      return c.u16();
    case 0xce:
      need(c, 4);
      return c.u32();
    case 0xcf:
      need(c, 8);
      c.pos += 8;
      return safe64(c.view.getBigUint64(c.pos - 8));
    case 0xd0:
      need(c, 1);
      c.pos += 1;
      return c.view.getInt8(c.pos - 1);
    case 0xd1:
      need(c, 2);
      c.pos += 2;
      return c.view.getInt16(c.pos - 2);
    case 0xd2:
      need(c, 4);
      c.pos += 4;
      return c.view.getInt32(c.pos - 4);
    case 0xd3:
      need(c, 8);
      c.pos += 8;
      return safe64(c.view.getBigInt64(c.pos - 8));
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
      need(c, 1);
      c.pos += 1;
      return readRawBytes(c, 1 << (b - 0xd4));
    case 0xdc:
      need(c, 2);
      return readArray(c, c.u16(), depth);
    case 0xdd:
      need(c, 4);
      return readArray(c, c.u32(), depth);
    case 0xde:
      need(c, 2);
      return readMap(c, c.u16(), depth);
    case 0xdf:
      need(c, 4);
      return readMap(c, c.u32(), depth);
    default:
      throw new CodecError(`invalid msgpack byte 0x${b.toString(16)}`);
  }
}

/**
 * Decodes one msgpack object. Lenient: every int family, str8/16/32, bin, floats, any map
 * key order. Strings and binaries come back as `Uint8Array`, map keys as strings.
 *
 * @example
 * ```ts
 * const { value, offset } = decodeMsgpack(new Uint8Array([0x81, 0xa1, 0x41, 0x01]));
 * // value = { A: 1 }, offset = 4
 * ```
 * @param bytes the input
 * @param offset where the object starts (default 0)
 * @param views return str/bin payloads as views into `bytes` (no copies); only when `bytes`
 *   is never modified afterwards (a received packet, not a reused read buffer)
 * @param end where the input ends (default: the end of `bytes`)
 * @returns the value and the offset just after it
 * @throws CodecError on malformed input; with `truncated: true` and the offset `needed` in
 *   `bytes` when more bytes are needed
 */
export function decodeMsgpack(
  bytes: Uint8Array,
  offset = 0,
  views = false,
  end: number = bytes.length,
): { value: MsgpackValue; offset: number } {
  const c = new Cursor(bytes, offset, end, views);
  const value = readValue(c, 0);
  return { value, offset: c.pos };
}
