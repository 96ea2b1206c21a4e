/**
 * Bounds-checked big-endian primitives for the log's binary formats (entries, frames,
 * segment records). A reader never reads past its input: short or malformed input raises a
 * {@link DecodeError}, which receive paths turn into "drop and count".
 *
 * @module
 */
import { ClusterError } from "../errors/mod.ts";

/** Malformed or truncated binary input. */
export class DecodeError extends ClusterError<"decode"> {
  /**
   * Creates an instance.
   * @param message what is wrong
   */
  constructor(message: string) {
    super("decode", message);
  }
}

const TWO_32 = 0x1_0000_0000;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Grows a buffer while writing; `finish()` returns the written bytes. */
export class ByteWriter {
  #buf: Uint8Array;
  #view: DataView;
  #len = 0;

  /**
   * Creates an instance.
   * @param initial initial capacity in bytes
   */
  constructor(initial = 256) {
    this.#buf = new Uint8Array(initial);
    this.#view = new DataView(this.#buf.buffer);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#len;
  }

  #ensure(n: number): void {
    const need = this.#len + n;
    if (need <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  /** One byte. */
  u8(v: number): void {
    this.#ensure(1);
    this.#buf[this.#len++] = v;
  }

  /** Two bytes, big-endian. */
  u16(v: number): void {
    this.#ensure(2);
    this.#view.setUint16(this.#len, v);
    this.#len += 2;
  }

  /** Four bytes, big-endian. */
  u32(v: number): void {
    this.#ensure(4);
    this.#view.setUint32(this.#len, v >>> 0);
    this.#len += 4;
  }

  /** A non-negative safe integer in eight bytes, big-endian. */
  u64(v: number): void {
    this.#ensure(8);
    this.#view.setUint32(this.#len, Math.floor(v / TWO_32));
    this.#view.setUint32(this.#len + 4, v >>> 0);
    this.#len += 8;
  }

  /** Overwrites four bytes at `offset` (for lengths known only afterwards). */
  patchU32(offset: number, v: number): void {
    this.#view.setUint32(offset, v >>> 0);
  }

  /** Raw bytes. */
  raw(b: Uint8Array): void {
    this.#ensure(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
  }

  /** Length-prefixed (u32) bytes. */
  blob(b: Uint8Array): void {
    this.u32(b.length);
    this.raw(b);
  }

  /** Length-prefixed (u16) UTF-8 text; throws RangeError above 65535 bytes. */
  str(s: string): void {
    const b = encoder.encode(s);
    if (b.length > 0xffff) throw new RangeError("string longer than 65535 UTF-8 bytes");
    this.u16(b.length);
    this.raw(b);
  }

  /** The written bytes (a view of the internal buffer; the writer must not be reused). */
  finish(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }
}

/** Reads what a {@link ByteWriter} wrote; every read is bounds-checked. */
export class ByteReader {
  #buf: Uint8Array;
  #view: DataView;
  #pos = 0;

  /**
   * Creates an instance.
   * @param bytes the input
   */
  constructor(bytes: Uint8Array) {
    this.#buf = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Unread bytes. */
  get remaining(): number {
    return this.#buf.length - this.#pos;
  }

  /** Current offset. */
  get offset(): number {
    return this.#pos;
  }

  #need(n: number): void {
    if (this.#pos + n > this.#buf.length) {
      throw new DecodeError(`truncated: need ${n} bytes at offset ${this.#pos}`);
    }
  }

  /** One byte. */
  u8(): number {
    this.#need(1);
    return this.#buf[this.#pos++];
  }

  /** Two bytes, big-endian. */
  u16(): number {
    this.#need(2);
    const v = this.#view.getUint16(this.#pos);
    this.#pos += 2;
    return v;
  }

  /** Four bytes, big-endian. */
  u32(): number {
    this.#need(4);
    const v = this.#view.getUint32(this.#pos);
    this.#pos += 4;
    return v;
  }

  /** Eight bytes, big-endian; rejects values above Number.MAX_SAFE_INTEGER. */
  u64(): number {
    this.#need(8);
    const hi = this.#view.getUint32(this.#pos);
    const lo = this.#view.getUint32(this.#pos + 4);
    if (hi > 0x1f_ffff) throw new DecodeError("64-bit value exceeds the safe integer range");
    this.#pos += 8;
    return hi * TWO_32 + lo;
  }

  /** `n` raw bytes, copied (so the input buffer can be released). */
  raw(n: number): Uint8Array {
    this.#need(n);
    const out = this.#buf.slice(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  /** `n` bytes as a view of the input (no copy). */
  view(n: number): Uint8Array {
    this.#need(n);
    const out = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  /** Length-prefixed (u32) bytes. */
  blob(): Uint8Array {
    return this.raw(this.u32());
  }

  /** Length-prefixed (u16) UTF-8 text; invalid UTF-8 is a DecodeError. */
  str(): string {
    const n = this.u16();
    this.#need(n);
    try {
      const s = decoder.decode(this.#buf.subarray(this.#pos, this.#pos + n));
      this.#pos += n;
      return s;
    } catch {
      throw new DecodeError("invalid UTF-8");
    }
  }

  /** Throws unless every byte was consumed. */
  end(): void {
    if (this.#pos !== this.#buf.length) {
      throw new DecodeError(`${this.#buf.length - this.#pos} trailing bytes`);
    }
  }
}
