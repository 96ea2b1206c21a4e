/**
 * Incremental, bounded reading from a {@link Stream}: exact byte counts and whole msgpack
 * objects, pulling chunks only as needed.
 *
 * @module
 */
import type { Stream } from "../../transport/mod.ts";
import { CodecError } from "./errors.ts";
import {
  decodeMsgpack,
  decodeMsgpackStruct,
  type MsgpackValue,
  type StructFields,
} from "./msgpack.ts";

// Largest buffer reserved for an announced item before its bytes arrive.
const PRESIZE_LIMIT = 256 * 1024;

/** A decoder over `buf[pos, end)`: returns the offset after the item it read. */
type Decode = (buf: Uint8Array, pos: number, end: number) => number;

/** {@link Decode} that may decline (−1) and is told whether it may keep views into `buf`. */
export type DecodeInPlace = (buf: Uint8Array, pos: number, end: number, views: boolean) => number;

/**
 * Buffered reader over a stream (or over a byte array, see {@link StreamReader.fromBytes}).
 * Every read rejects with a `CodecError` (with `truncated: true`) when the stream ends first,
 * and with a `CodecError` when an item needs more than `maxBuffered` bytes or the stream
 * delivers more than `maxTotal` bytes in all.
 *
 * @example
 * ```ts
 * const reader = new StreamReader(stream, 1 << 20);
 * const type = await reader.readByte();
 * const header = await reader.readMsgpack();
 * ```
 */
export class StreamReader {
  #stream: Stream | null;
  #maxBuffered: number;
  #maxTotal: number;
  #total = 0;
  #buf: Uint8Array;
  #pos = 0;
  #end = 0;

  /**
   * @param stream the source
   * @param maxBuffered largest single item (msgpack object or exact read) in bytes
   * @param maxTotal most bytes taken from the stream over the reader's life (default: no cap)
   */
  constructor(stream: Stream, maxBuffered: number, maxTotal: number = Infinity) {
    this.#stream = stream;
    this.#maxBuffered = maxBuffered;
    this.#maxTotal = maxTotal;
    this.#buf = new Uint8Array(Math.min(4096, Math.max(16, maxBuffered)));
  }

  /**
   * A reader over bytes already in memory (a decrypted or decompressed stream body).
   *
   * @example
   * ```ts
   * const reader = StreamReader.fromBytes(plain.subarray(1));
   * ```
   * @param bytes the content; the reader ends after it
   * @returns the reader
   */
  static fromBytes(bytes: Uint8Array): StreamReader {
    const r = new StreamReader(EMPTY_STREAM, Infinity);
    r.#stream = null;
    r.#buf = bytes;
    r.#end = bytes.length;
    return r;
  }

  /** Bytes buffered and not yet consumed. */
  get buffered(): number {
    return this.#end - this.#pos;
  }

  async #fill(n: number): Promise<void> {
    if (n > this.#maxBuffered) {
      throw new CodecError(
        `stream item of at least ${n} bytes exceeds the limit ${this.#maxBuffered}`,
      );
    }
    // Grow once to what the item needs (a 100 KB body would otherwise double its way there),
    // but only so far before the bytes arrive: a lying length must not reserve megabytes.
    const presize = Math.min(n, PRESIZE_LIMIT);
    if (this.#stream !== null && this.#buf.length < presize) this.#resize(presize);
    while (this.#end - this.#pos < n) {
      const chunk = this.#stream ? await this.#stream.read() : null;
      if (chunk === null) throw new CodecError("stream ended in the middle of a message", true);
      if (chunk.length === 0) continue;
      this.#total += chunk.length;
      if (this.#total > this.#maxTotal) {
        throw new CodecError(`stream carried more than the limit of ${this.#maxTotal} bytes`);
      }
      this.#append(chunk);
    }
  }

  #append(chunk: Uint8Array): void {
    const avail = this.#end - this.#pos;
    if (this.#end + chunk.length > this.#buf.length) {
      if (avail + chunk.length <= this.#buf.length && this.#pos > 0) {
        this.#buf.copyWithin(0, this.#pos, this.#end);
        this.#pos = 0;
        this.#end = avail;
      } else {
        let size = Math.max(16, this.#buf.length * 2);
        while (size < avail + chunk.length) size *= 2;
        this.#resize(size);
      }
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  // A buffer of `size` bytes holding the unread bytes at its start.
  #resize(size: number): void {
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(this.#pos, this.#end));
    this.#end -= this.#pos;
    this.#pos = 0;
    this.#buf = next;
  }

  /**
   * Reads exactly `n` bytes.
   *
   * @example
   * ```ts
   * const userState = await reader.readExact(header.userStateLen);
   * ```
   * @param n byte count (at most maxBuffered)
   * @returns a copy of the bytes
   */
  async readExact(n: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(n) || n < 0) throw new CodecError(`invalid read length ${n}`);
    await this.#fill(n);
    const out = this.#buf.slice(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  /**
   * Reads one byte.
   *
   * @example
   * ```ts
   * const type = await reader.readByte();
   * ```
   * @returns the byte
   */
  async readByte(): Promise<number> {
    await this.#fill(1);
    return this.#buf[this.#pos++];
  }

  /**
   * Reads one whole msgpack object (str/bin payloads come back as bytes).
   *
   * @example
   * ```ts
   * const header = decodePushPullHeader(await reader.readMsgpack());
   * ```
   * @param views str/bin payloads as views into the reader's buffer, valid only until the
   *   next read (for a value used at once, like a compressed body about to be decompressed)
   * @returns the decoded value
   */
  async readMsgpack(views = false): Promise<MsgpackValue> {
    let value: MsgpackValue = null;
    await this.#decode((buf, pos, end) => {
      const r = decodeMsgpack(buf, pos, views, end);
      value = r.value;
      return r.offset;
    });
    return value;
  }

  /**
   * Reads one msgpack map into `out` by field name (see decodeMsgpackStruct): no object per
   * item, for the thousands of node states of a push/pull. With `views`, byte strings of a
   * reader over memory ({@link fromBytes}) are views into its bytes, not copies; callers copy
   * what they keep.
   *
   * @example
   * ```ts
   * const out: (MsgpackValue | undefined)[] = [];
   * if (!reader.readStructBuffered(fields, out)) await reader.readStruct(fields, out);
   * ```
   * @param fields the field names wanted, and which are text
   * @param out receives their values, in `fields.keys` order
   * @param views see above
   */
  async readStruct(
    fields: StructFields,
    out: (MsgpackValue | undefined)[],
    views = false,
  ): Promise<void> {
    await this.#decode((buf, pos, end) =>
      decodeMsgpackStruct(buf, pos, end, views && this.#stream === null, fields, out)
    );
  }

  /**
   * {@link readStruct} from the bytes already buffered, without waiting: false (and nothing
   * consumed) when they do not hold the whole map yet.
   */
  readStructBuffered(
    fields: StructFields,
    out: (MsgpackValue | undefined)[],
    views = false,
  ): boolean {
    const need = this.#tryDecode((buf, pos, end) =>
      decodeMsgpackStruct(buf, pos, end, views && this.#stream === null, fields, out)
    );
    return need === 0;
  }

  /**
   * The buffered bytes handed to `decode`, which returns the offset after what it read, or −1
   * for "not mine" (nothing consumed); false when it returned −1. `views` tells the decoder
   * whether what it keeps may point into `buf`: yes for a reader over memory (see
   * {@link StreamReader.fromBytes}), no for a stream's buffer, which later reads reuse. Over a
   * stream the decoder sees only what has arrived, so it must decline an item cut short.
   *
   * @example
   * ```ts
   * if (!reader.decodeInPlace((buf, pos, end, views) => fastDecode(buf, pos, end, views))) {
   *   await slowPath();
   * }
   * ```
   * @param decode a decoder that may decline
   */
  decodeInPlace(decode: DecodeInPlace): boolean {
    const next = decode(this.#buf, this.#pos, this.#end, this.#stream === null);
    if (next < 0) return false;
    this.#pos = next;
    return true;
  }

  // Runs `decode` (which returns the offset after what it used) over the buffered bytes:
  // 0 when it read its item, else how many buffered bytes it needs at least. Only an
  // in-memory reader's bytes may be handed out as views: a stream's buffer is reused.
  #tryDecode(decode: Decode): number {
    try {
      this.#pos = decode(this.#buf, this.#pos, this.#end);
      return 0;
    } catch (e) {
      if (!(e instanceof CodecError) || !e.truncated) throw e;
      return Math.max(e.needed - this.#pos, this.#end - this.#pos + 1);
    }
  }

  // #tryDecode, reading more from the stream until it succeeds.
  async #decode(decode: Decode): Promise<void> {
    let need = 1;
    for (;;) {
      if (this.#end - this.#pos >= need) {
        need = this.#tryDecode(decode);
        if (need === 0) return;
      }
      await this.#fill(need);
    }
  }
}

const EMPTY_STREAM: Stream = {
  remote: { host: "", port: 0 },
  read: (): Promise<Uint8Array | null> => Promise.resolve(null),
  write: (): Promise<void> => Promise.resolve(),
  close: (): void => {},
};
