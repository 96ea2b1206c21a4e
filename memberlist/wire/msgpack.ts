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
import { MAX_MSGPACK_DEPTH, type MsgpackValue } from "./msgpack_decode.ts";

export { decodeMsgpack, decodeText, MAX_MSGPACK_DEPTH } from "./msgpack_decode.ts";
export type { MsgpackValue } from "./msgpack_decode.ts";
export { decodeMsgpackStruct, StructFields } from "./msgpack_struct.ts";

const textEncoder = new TextEncoder();

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
    const n = b.length;
    this.ensure(n);
    if (n > 16) this.buf.set(b, this.len);
    else {
      // keys, addresses, version vectors: a loop costs less than the builtin's call
      const buf = this.buf;
      const at = this.len;
      for (let i = 0; i < n; i++) buf[at + i] = b[i];
    }
    this.len += n;
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

// Go field names, encoded once; `plain` = no char at or above U+D800, for which JS string
// order equals UTF-8 byte order (what Go sorts by).
const keyRaws = new Map<string, { raw: Uint8Array; plain: boolean }>();

function keyRaw(k: string): { raw: Uint8Array; plain: boolean } {
  let e = keyRaws.get(k);
  if (e === undefined) {
    e = { raw: textEncoder.encode(k), plain: !/[\uD800-\uFFFF]/.test(k) };
    if (keyRaws.size < 1024) keyRaws.set(k, e);
  }
  return e;
}

function writeString(w: ByteWriter, v: string): void {
  const n = v.length;
  if (n < 32) {
    // short ASCII (node names, keys): no TextEncoder round trip
    w.ensure(n + 1);
    const buf = w.buf;
    const at = w.len;
    let i = 0;
    for (; i < n; i++) {
      const ch = v.charCodeAt(i);
      if (ch >= 0x80) break;
      buf[at + 1 + i] = ch;
    }
    if (i === n) {
      buf[at] = 0xa0 | n;
      w.len = at + 1 + n;
      return;
    }
  }
  writeRaw(w, textEncoder.encode(v));
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
  } else if (typeof v === "string") writeString(w, v);
  else if (v instanceof Uint8Array) writeRaw(w, v);
  else if (Array.isArray(v)) {
    writeLength(w, v.length, 0x90, 0xdc, 0xdd);
    for (const item of v) writeValue(w, item, depth + 1);
  } else {
    // Go sorts struct fields by name; sort by UTF-8 bytes to match exactly.
    const keys: string[] = [];
    let plain = true;
    for (const k in v) {
      if (v[k] === undefined) continue;
      keys.push(k);
      if (!keyRaw(k).plain) plain = false;
    }
    if (plain) keys.sort();
    else keys.sort((a, b) => compareBytes(keyRaw(a).raw, keyRaw(b).raw));
    writeLength(w, keys.length, 0x80, 0xde, 0xdf);
    for (const k of keys) {
      writeRaw(w, keyRaw(k).raw);
      writeValue(w, v[k], depth + 1);
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
  return encodeTypedMsgpack(-1, value);
}

// One writer for every encode (encodes are synchronous and never nested): only the result is
// allocated. A writer that grew past 64 KiB (a large push/pull) is not kept.
let sharedWriter: ByteWriter | null = null;

/**
 * {@link encodeMsgpack} with a leading type byte (memberlist's message framing), in one
 * allocation; `type` −1 writes no prefix.
 *
 * @example
 * ```ts
 * encodeTypedMsgpack(11, { SeqNo: 1 }); // 0b 81 a5 "SeqNo" 01
 * ```
 */
export function encodeTypedMsgpack(type: number, value: MsgpackValue): Uint8Array {
  const w = sharedWriter ?? new ByteWriter();
  sharedWriter = null; // a throw below leaves no half-written shared state behind
  w.len = 0;
  if (type >= 0) w.u8(type);
  writeValue(w, value, 0);
  const out = w.buf.slice(0, w.len);
  if (w.buf.length <= 1 << 16) sharedWriter = w;
  return out;
}

/**
 * Writes a run of msgpack items into one buffer, for messages built from many small parts
 * (a push/pull carries one map per member: thousands of them in a large cluster). Fields
 * are written in the order given: callers writing a struct give Go's sorted key order.
 *
 * @example
 * ```ts
 * const w = new MsgpackWriter();
 * w.verbatim(Uint8Array.of(6));
 * w.map(1);
 * w.key("Port");
 * w.int(7946);
 * const bytes = w.finish(); // 06 81 a4"Port" cd 1f 0a
 * ```
 */
export class MsgpackWriter {
  #w: ByteWriter = new ByteWriter();

  /** @param capacity bytes to reserve up front (a good guess saves regrowing a large buffer) */
  constructor(capacity = 64) {
    if (capacity > 64) this.#w.ensure(capacity);
  }

  /** Bytes copied as they are (a type byte, an already encoded part). */
  verbatim(b: Uint8Array): void {
    this.#w.bytes(b);
  }

  /** A map header of `n` pairs. */
  map(n: number): void {
    writeLength(this.#w, n, 0x80, 0xde, 0xdf);
  }

  /** A map key (a Go field name). */
  key(k: string): void {
    writeRaw(this.#w, keyRaw(k).raw);
  }

  /** An integer in its smallest form. */
  int(v: number): void {
    writeInt(this.#w, v);
  }

  /** A string (raw family, as Go writes it). */
  str(v: string): void {
    writeString(this.#w, v);
  }

  /** A byte string, or nil for null. */
  raw(b: Uint8Array | null): void {
    if (b === null) this.#w.u8(0xc0);
    else writeRaw(this.#w, b);
  }

  /** The bytes written so far, as a view of the writer's buffer (valid until it is written to). */
  written(): Uint8Array {
    return this.#w.buf.subarray(0, this.#w.len);
  }

  /** Makes room for `n` more bytes at once (a good guess saves regrowing a large buffer). */
  reserve(n: number): void {
    this.#w.ensure(n);
  }

  /** Empties the writer, keeping its buffer: one writer can serve message after message. */
  reset(): void {
    this.#w.len = 0;
  }

  /**
   * The bytes written so far: a view of the writer's buffer when that is mostly full (the
   * writer is not used after this), else a copy.
   */
  finish(): Uint8Array {
    const w = this.#w;
    return w.len * 2 >= w.buf.length ? w.buf.subarray(0, w.len) : w.buf.slice(0, w.len);
  }
}
