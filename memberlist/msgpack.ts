/**
 * A small msgpack encoder and lenient decoder shaped by what hashicorp/memberlist's Go codec
 * (go-msgpack with a zero-value handle) puts on the wire.
 *
 * Encoding: strings and byte arrays both use the legacy "raw" family (fixstr, 0xda, 0xdb;
 * never str8 or bin), map keys are sorted by byte order, non-negative integers take the
 * smallest unsigned form, null is 0xc0. Decoding accepts every family msgpack has.
 *
 * Raw strings are ambiguous (Go writes `[]byte` and `string` alike), so the decoder returns
 * every str/bin payload as a `Uint8Array`; the message layer converts text fields. Map keys
 * are decoded as JS strings.
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

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** Growable output buffer. */
class ByteWriter {
  buf: Uint8Array = new Uint8Array(64);
  view: DataView = new DataView(this.buf.buffer);
  len = 0;

  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v;
  }

  u16(v: number): void {
    this.ensure(2);
    this.view.setUint16(this.len, v);
    this.len += 2;
  }

  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.len, v);
    this.len += 4;
  }

  u64(v: bigint): void {
    this.ensure(8);
    this.view.setBigUint64(this.len, v);
    this.len += 8;
  }

  i64(v: bigint): void {
    this.ensure(8);
    this.view.setBigInt64(this.len, v);
    this.len += 8;
  }

  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.len, v);
    this.len += 8;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

function writeRaw(w: ByteWriter, b: Uint8Array): void {
  const n = b.length;
  if (n < 32) w.u8(0xa0 | n);
  else if (n < 0x10000) {
    w.u8(0xda);
    w.u16(n);
  } else if (n <= 0xffffffff) {
    w.u8(0xdb);
    w.u32(n);
  } else throw new CodecError("byte string too long for msgpack");
  w.bytes(b);
}

function writeInt(w: ByteWriter, v: number): void {
  if (v >= 0) {
    if (v < 0x80) w.u8(v);
    else if (v < 0x100) {
      w.u8(0xcc);
      w.u8(v);
    } else if (v < 0x10000) {
      w.u8(0xcd);
      w.u16(v);
    } else if (v < 0x100000000) {
      w.u8(0xce);
      w.u32(v);
    } else {
      w.u8(0xcf);
      w.u64(BigInt(v));
    }
  } else if (v >= -32) w.u8(v & 0xff);
  else if (v >= -0x80) {
    w.u8(0xd0);
    w.u8(v & 0xff);
  } else if (v >= -0x8000) {
    w.u8(0xd1);
    w.u16(v & 0xffff);
  } else if (v >= -0x80000000) {
    w.u8(0xd2);
    w.u32(v >>> 0);
  } else {
    w.u8(0xd3);
    w.i64(BigInt(v));
  }
}

function writeValue(w: ByteWriter, v: MsgpackValue, depth: number): void {
  if (depth > MAX_MSGPACK_DEPTH) throw new CodecError("msgpack value nested too deeply");
  if (v === null || v === undefined) w.u8(0xc0);
  else if (v === false) w.u8(0xc2);
  else if (v === true) w.u8(0xc3);
  else if (typeof v === "number") {
    if (Number.isSafeInteger(v)) writeInt(w, v);
    else {
      w.u8(0xcb);
      w.f64(v);
    }
  } else if (typeof v === "string") writeRaw(w, textEncoder.encode(v));
  else if (v instanceof Uint8Array) writeRaw(w, v);
  else if (Array.isArray(v)) {
    writeLength(w, v.length, 0x90, 0xdc, 0xdd);
    for (const item of v) writeValue(w, item, depth + 1);
  } else {
    // Go sorts struct fields by name; sort by UTF-8 bytes to match exactly.
    const entries = Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .map((k) => ({ k, raw: textEncoder.encode(k) }))
      .sort((a, b) => compareBytes(a.raw, b.raw));
    writeLength(w, entries.length, 0x80, 0xde, 0xdf);
    for (const e of entries) {
      writeRaw(w, e.raw);
      writeValue(w, v[e.k], depth + 1);
    }
  }
}

function writeLength(w: ByteWriter, n: number, fix: number, c16: number, c32: number): void {
  if (n < 16) w.u8(fix | n);
  else if (n < 0x10000) {
    w.u8(c16);
    w.u16(n);
  } else {
    w.u8(c32);
    w.u32(n);
  }
}

/**
 * Encodes a value the way go-msgpack (zero-value MsgpackHandle) does.
 *
 * @example
 * ```ts
 * encodeMsgpack({ SeqNo: 1 }); // 81 a5 "SeqNo" 01
 * ```
 * @param value what to encode; `undefined` object properties are left out
 * @returns the encoded bytes
 */
export function encodeMsgpack(value: MsgpackValue): Uint8Array {
  const w = new ByteWriter();
  writeValue(w, value, 0);
  return w.buf.slice(0, w.len);
}

/** Cursor over the input; `end` is the exclusive bound. */
interface Cursor {
  buf: Uint8Array;
  view: DataView;
  pos: number;
}

function need(c: Cursor, n: number): void {
  if (c.pos + n > c.buf.length) {
    throw new CodecError("msgpack input truncated", true, c.pos + n);
  }
}

function readRawBytes(c: Cursor, n: number): Uint8Array {
  need(c, n);
  const out = c.buf.slice(c.pos, c.pos + n);
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

function readMap(c: Cursor, n: number, depth: number): { [key: string]: MsgpackValue } {
  need(c, n * 2);
  const out: { [key: string]: MsgpackValue } = Object.create(null);
  for (let i = 0; i < n; i++) {
    const k = readValue(c, depth + 1);
    let key: string;
    if (k instanceof Uint8Array) key = textDecoder.decode(k);
    else if (typeof k === "number" || typeof k === "boolean" || k === null) key = String(k);
    else throw new CodecError("unsupported msgpack map key");
    out[key] = readValue(c, depth + 1);
  }
  return out;
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
  const v = c.view;
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
      c.pos += 2;
      return readRawBytes(c, v.getUint16(c.pos - 2));
    case 0xc6:
    case 0xdb:
      need(c, 4);
      c.pos += 4;
      return readRawBytes(c, v.getUint32(c.pos - 4));
    case 0xc7:
    case 0xc8:
    case 0xc9: {
      // ext: memberlist never sends one; return the payload so unknown fields can be skipped
      const lenSize = b === 0xc7 ? 1 : b === 0xc8 ? 2 : 4;
      need(c, lenSize + 1);
      const n = lenSize === 1
        ? c.buf[c.pos]
        : lenSize === 2
        ? v.getUint16(c.pos)
        : v.getUint32(c.pos);
      c.pos += lenSize + 1;
      return readRawBytes(c, n);
    }
    case 0xca:
      need(c, 4);
      c.pos += 4;
      return v.getFloat32(c.pos - 4);
    case 0xcb:
      need(c, 8);
      c.pos += 8;
      return v.getFloat64(c.pos - 8);
    case 0xcc:
      need(c, 1);
      return c.buf[c.pos++];
    case 0xcd:
      need(c, 2);
      c.pos += 2;
      return v.getUint16(c.pos - 2);
    case 0xce:
      need(c, 4);
      c.pos += 4;
      return v.getUint32(c.pos - 4);
    case 0xcf:
      need(c, 8);
      c.pos += 8;
      return safe64(v.getBigUint64(c.pos - 8));
    case 0xd0:
      need(c, 1);
      c.pos += 1;
      return v.getInt8(c.pos - 1);
    case 0xd1:
      need(c, 2);
      c.pos += 2;
      return v.getInt16(c.pos - 2);
    case 0xd2:
      need(c, 4);
      c.pos += 4;
      return v.getInt32(c.pos - 4);
    case 0xd3:
      need(c, 8);
      c.pos += 8;
      return safe64(v.getBigInt64(c.pos - 8));
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
      c.pos += 2;
      return readArray(c, v.getUint16(c.pos - 2), depth);
    case 0xdd:
      need(c, 4);
      c.pos += 4;
      return readArray(c, v.getUint32(c.pos - 4), depth);
    case 0xde:
      need(c, 2);
      c.pos += 2;
      return readMap(c, v.getUint16(c.pos - 2), depth);
    case 0xdf:
      need(c, 4);
      c.pos += 4;
      return readMap(c, v.getUint32(c.pos - 4), depth);
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
 * @returns the value and the offset just after it
 * @throws CodecError on malformed input; with `truncated: true` when more bytes are needed
 */
export function decodeMsgpack(
  bytes: Uint8Array,
  offset = 0,
): { value: MsgpackValue; offset: number } {
  const c: Cursor = {
    buf: bytes,
    view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    pos: offset,
  };
  const value = readValue(c, 0);
  return { value, offset: c.pos };
}
