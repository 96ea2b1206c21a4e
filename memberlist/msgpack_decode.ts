/**
 * The msgpack decoder (see msgpack.ts for the encoder and the wire rules): lenient, every
 * family msgpack has; str/bin payloads come back as `Uint8Array` (copies, or views into the
 * input when asked), map keys and short texts as cached strings.
 *
 * @module
 */
import { CodecError } from "./errors.ts";
import type { MsgpackValue } from "./msgpack.ts";

/** Nesting deeper than this is rejected; memberlist messages are one level deep. */
export const MAX_MSGPACK_DEPTH: number = 64;

const textDecoder = new TextDecoder();

/** Cursor over the input. */
class Cursor {
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
// of running a TextDecoder, so equal names also share one string in memory.
const textCache = new Map<number, string>();
const MAX_CACHED_TEXTS = 1 << 16;
const MAX_CACHED_TEXT_BYTES = 64;

/**
 * UTF-8 text of `buf[start, start + n)`; short ASCII texts come from a cache (same bytes,
 * same string).
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
  const hit = textCache.get(h);
  if (hit !== undefined && hit.length === n) {
    let same = true;
    for (let i = 0; i < n; i++) {
      if (hit.charCodeAt(i) !== buf[start + i]) {
        same = false;
        break;
      }
    }
    if (same) return hit;
  }
  let text = "";
  for (let i = 0; i < n; i++) text += String.fromCharCode(buf[start + i]);
  if (hit !== undefined || textCache.size < MAX_CACHED_TEXTS) textCache.set(h, text);
  return text;
}

// Short byte strings decoded as views (an address, a version vector) repeat in every push/pull
// state about a member: one shared array per distinct value instead of a new view each time.
// Views are read-only by contract, so sharing them is safe.
const bytesCache = new Map<number, Uint8Array>();
const MAX_CACHED_BYTES = 1 << 16;
const MAX_SHARED_LENGTH = 16;

function sharedBytes(buf: Uint8Array, start: number, n: number): Uint8Array {
  let h = n;
  for (let i = 0; i < n; i++) h = (Math.imul(h, 31) + buf[start + i]) | 0;
  const hit = bytesCache.get(h);
  if (hit !== undefined && hit.length === n) {
    let i = 0;
    while (i < n && hit[i] === buf[start + i]) i++;
    if (i === n) return hit;
  }
  const copy = buf.slice(start, start + n);
  if (hit !== undefined || bytesCache.size < MAX_CACHED_BYTES) bytesCache.set(h, copy);
  return copy;
}

function need(c: Cursor, n: number): void {
  if (c.pos + n > c.end) {
    throw new CodecError("msgpack input truncated", true, c.pos + n);
  }
}

function readKey(c: Cursor, n: number): string {
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

// A map key as text: short raw strings from the text cache, other scalars stringified.
function readMapKey(c: Cursor, depth: number): string {
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

function readValue(c: Cursor, depth: number): MsgpackValue {
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

/**
 * Decodes one msgpack map into `out` without building an object: `out[i]` becomes the value
 * of the key `keys[i]`, undefined when absent; other keys are read and skipped, and a repeated
 * key's last value wins (Go's rules). For structs decoded by the thousand (push/pull states).
 *
 * @example
 * ```ts
 * const out: (MsgpackValue | undefined)[] = [];
 * const fields = new StructFields(["Name", "Port"], [true, false]);
 * const next = decodeMsgpackStruct(bytes, 0, bytes.length, false, fields, out);
 * ```
 * @param bytes the input
 * @param offset where the map starts
 * @param end where the input ends
 * @param views str/bin payloads as views into `bytes` (see {@link decodeMsgpack})
 * @param fields the field names wanted, in the order of `out`, and which are text
 * @param out receives the values (its length is set to the number of fields)
 * @returns the offset just after the map
 * @throws CodecError when the item is not a map, on malformed input, or (`truncated: true`)
 *   when more bytes are needed
 */
export function decodeMsgpackStruct(
  bytes: Uint8Array,
  offset: number,
  end: number,
  views: boolean,
  fields: StructFields,
  out: (MsgpackValue | undefined)[],
): number {
  const { keys, texts, shared } = fields;
  const c = new Cursor(bytes, offset, end, views);
  need(c, 1);
  const b = c.buf[c.pos++];
  let n: number;
  if (b >= 0x80 && b <= 0x8f) n = b & 0x0f;
  else if (b === 0xde) {
    need(c, 2);
    n = c.u16();
  } else if (b === 0xdf) {
    need(c, 4);
    n = c.u32();
  } else throw new CodecError("expected a msgpack map");
  need(c, n * 2);
  out.length = keys.length;
  out.fill(undefined);
  for (let i = 0; i < n; i++) {
    need(c, 1);
    const kb = c.buf[c.pos];
    let at: number;
    if (kb >= 0xa0 && kb <= 0xbf) {
      // A fixstr key (what Go writes): match its bytes, no string made.
      const len = kb & 0x1f;
      need(c, 1 + len);
      at = fields.match(c.buf, c.pos + 1, len, i);
      c.pos += 1 + len;
    } else at = keys.indexOf(readMapKey(c, 1));
    if (at < 0) readValue(c, 1);
    else if (texts[at]) out[at] = readTextOrValue(c);
    else if (views && shared[at]) out[at] = readSharedOrValue(c);
    else out[at] = readValue(c, 1);
  }
  return c.pos;
}

// A str/bin item as text (no bytes object in between); any other item as readValue reads it.
function readTextOrValue(c: Cursor): MsgpackValue {
  need(c, 1);
  const b = c.buf[c.pos];
  let n: number;
  if (b >= 0xa0 && b <= 0xbf) {
    c.pos++;
    n = b & 0x1f;
  } else if (b === 0xd9 || b === 0xc4) {
    need(c, 2);
    c.pos++;
    n = c.buf[c.pos++];
  } else if (b === 0xda || b === 0xc5) {
    need(c, 3);
    c.pos++;
    n = c.u16();
  } else return readValue(c, 1);
  return readKey(c, n);
}

// A short str/bin item as a shared array (see sharedBytes); any other item as readValue reads it.
function readSharedOrValue(c: Cursor): MsgpackValue {
  need(c, 1);
  const b = c.buf[c.pos];
  let n: number;
  let head: number;
  if (b >= 0xa0 && b <= 0xbf) {
    n = b & 0x1f;
    head = 1;
  } else if (b === 0xc4 || b === 0xd9) {
    need(c, 2);
    n = c.buf[c.pos + 1];
    head = 2;
  } else return readValue(c, 1);
  if (n > MAX_SHARED_LENGTH) return readValue(c, 1);
  need(c, head + n);
  const out = sharedBytes(c.buf, c.pos + head, n);
  c.pos += head + n;
  return out;
}

function sameKey(k: Uint8Array, buf: Uint8Array, start: number, n: number): boolean {
  if (k.length !== n) return false;
  let j = 0;
  while (j < n && k[j] === buf[start + j]) j++;
  return j === n;
}

/**
 * The fields {@link decodeMsgpackStruct} looks for: their names, and which of them are text
 * (str/bin payloads decoded as strings, like map keys). Keys are matched by their bytes.
 *
 * @example
 * ```ts
 * const fields = new StructFields(["Name", "Port"], [true, false]);
 * ```
 */
export class StructFields {
  /** Field names, in the order of the output. */
  readonly keys: readonly string[];
  /** `texts[i]`: field i is text. */
  readonly texts: readonly boolean[];
  /**
   * `shared[i]`: field i is a short byte string that repeats across messages (an address):
   * decoded in views mode, equal values come back as one shared read-only array.
   */
  readonly shared: readonly boolean[];
  readonly #raw: readonly Uint8Array[];

  /**
   * @param keys field names, in the order of the output
   * @param texts which fields are text (default: none)
   * @param shared which fields are short repeating byte strings (default: none)
   */
  constructor(
    keys: readonly string[],
    texts: readonly boolean[] = [],
    shared: readonly boolean[] = [],
  ) {
    this.keys = keys;
    this.texts = keys.map((_, i) => texts[i] === true);
    this.shared = keys.map((_, i) => shared[i] === true);
    this.#raw = keys.map((k) => new TextEncoder().encode(k));
  }

  /** Index of the field whose name is `buf[start, start + n)`, or −1; `hint` is tried first. */
  match(buf: Uint8Array, start: number, n: number, hint = -1): number {
    const raw = this.#raw;
    // Go writes a struct's fields in declaration order: the `hint`-th key is usually field
    // `hint`, found with one comparison instead of a scan.
    if (hint >= 0 && hint < raw.length && sameKey(raw[hint], buf, start, n)) return hint;
    for (let i = 0; i < raw.length; i++) if (sameKey(raw[i], buf, start, n)) return i;
    return -1;
  }
}
