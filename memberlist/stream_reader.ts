/**
 * Incremental, bounded reading from a {@link Stream}: exact byte counts and whole msgpack
 * objects, pulling chunks only as needed.
 *
 * @module
 */
import type { Stream } from "../transport/types.ts";
import { CodecError } from "./errors.ts";
import { decodeMsgpack, type MsgpackValue } from "./msgpack.ts";

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
      } else {
        let size = Math.max(16, this.#buf.length * 2);
        while (size < avail + chunk.length) size *= 2;
        const next = new Uint8Array(size);
        next.set(this.#buf.subarray(this.#pos, this.#end));
        this.#buf = next;
      }
      this.#pos = 0;
      this.#end = avail;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
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
   * @param views return byte strings as views into the reader's bytes instead of copies, when
   *   it reads from memory ({@link fromBytes}); callers must copy what they keep
   * @returns the decoded value
   */
  async readMsgpack(views = false): Promise<MsgpackValue> {
    // Only an in-memory reader's bytes are never overwritten (a stream's buffer is reused).
    const asViews = views && this.#stream === null;
    let need = 1;
    for (;;) {
      if (this.#end - this.#pos >= need) {
        try {
          const { value, offset } = decodeMsgpack(
            this.#buf.subarray(this.#pos, this.#end),
            0,
            asViews,
          );
          this.#pos += offset;
          return value;
        } catch (e) {
          if (!(e instanceof CodecError) || !e.truncated) throw e;
          // The decoder tells how much it needs at least; wait for that much.
          need = Math.max(e.needed, this.#end - this.#pos + 1);
        }
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
