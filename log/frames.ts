/**
 * Framing of the replication stream: `[u32 length][u8 type][payload]`, where length counts
 * the type byte and the payload and may not exceed the configured `maxFrameBytes`. The high
 * bit of the type byte marks a deflate-raw compressed payload (entries and snapshots only).
 *
 * The decoder is incremental (feed it whatever a read returned) and bounded: it buffers at
 * most one frame, and rejects an oversize length as soon as the 4 length bytes are in, before
 * buffering anything more.
 *
 * @module
 */
import { ClusterError } from "../errors/mod.ts";
import { deflateRawSync, inflateRawSync } from "node:zlib";

/** Frame types. */
export const FrameType: {
  readonly Hello: 1;
  readonly Digest: 2;
  readonly Entries: 3;
  readonly Snapshot: 4;
  readonly Ack: 5;
} = { Hello: 1, Digest: 2, Entries: 3, Snapshot: 4, Ack: 5 };

/** Flag bit of the type byte: the payload is deflate-raw compressed. */
export const COMPRESSED = 0x80;
/** Length prefix plus type byte. */
export const FRAME_HEADER_BYTES = 5;

/** Why a peer's byte stream was refused. */
export type FrameFault = "garbage" | "oversize";

/** A malformed or oversize frame. */
export class FrameError extends ClusterError<FrameFault> {
  /**
   * Creates an instance.
   * @param reason the fault class: "garbage" (unknown type, bad payload) or "oversize" (above
   *   the frame limit); the error's `code`
   * @param message details
   */
  constructor(reason: FrameFault, message: string) {
    super(reason, message);
  }
}

/** A decoded frame. */
export interface Frame {
  /** One of {@link FrameType}. */
  readonly type: number;
  /** The payload was compressed on the wire (already inflated here). */
  readonly compressed: boolean;
  /** The payload. */
  readonly payload: Uint8Array;
}

function known(type: number): boolean {
  return type >= FrameType.Hello && type <= FrameType.Ack;
}

/**
 * Encodes one frame.
 *
 * @example
 * ```ts
 * encodeFrame(FrameType.Ack, new Uint8Array([0, 0, 0, 0])); // 9 bytes
 * ```
 */
export function encodeFrame(type: number, payload: Uint8Array, compressed = false): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length + 1);
  out[4] = compressed ? type | COMPRESSED : type;
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/** deflate-raw (node:zlib, available in Node and Deno). */
export function deflate(payload: Uint8Array): Uint8Array {
  const b = deflateRawSync(payload);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Inflates at most `maxBytes`; anything larger or malformed is a {@link FrameError}. */
export function inflate(payload: Uint8Array, maxBytes: number): Uint8Array {
  try {
    const b = inflateRawSync(payload, { maxOutputLength: maxBytes });
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (err) {
    const oversize = err instanceof RangeError;
    throw new FrameError(oversize ? "oversize" : "garbage", `inflate: ${(err as Error).message}`);
  }
}

/**
 * Splits a byte stream into frames, enforcing the size limit.
 *
 * @example
 * ```ts
 * const d = new FrameDecoder(1 << 20);
 * const frame = encodeFrame(FrameType.Digest, new Uint8Array([0, 0, 0, 0]));
 * d.push(frame.subarray(0, 3)); // []
 * d.push(frame.subarray(3)); // [{ type: 2, compressed: false, payload }]
 * ```
 */
export class FrameDecoder {
  #max: number;
  #buf: Uint8Array = new Uint8Array(0);
  #start = 0;
  #end = 0;
  #failed = false;

  /**
   * Creates an instance.
   * @param maxFrameBytes largest accepted length (type byte + payload, before inflation)
   */
  constructor(maxFrameBytes: number) {
    this.#max = maxFrameBytes;
  }

  /** Bytes buffered and not yet returned as frames. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Feeds bytes; returns the frames they complete. Throws {@link FrameError} for bad input. */
  push(chunk: Uint8Array): Frame[] {
    if (this.#failed) throw new FrameError("garbage", "decoder already failed");
    this.#append(chunk);
    const frames: Frame[] = [];
    try {
      for (;;) {
        const avail = this.#end - this.#start;
        if (avail < 4) break;
        const b = this.#buf;
        const s = this.#start;
        const len = ((b[s] << 24) | (b[s + 1] << 16) | (b[s + 2] << 8) | b[s + 3]) >>> 0;
        if (len === 0) throw new FrameError("garbage", "empty frame");
        if (len > this.#max) {
          throw new FrameError("oversize", `frame of ${len} bytes exceeds ${this.#max}`);
        }
        if (avail < 4 + len) break;
        const typeByte = b[s + 4];
        const type = typeByte & ~COMPRESSED;
        const compressed = (typeByte & COMPRESSED) !== 0;
        if (!known(type)) throw new FrameError("garbage", `unknown frame type ${typeByte}`);
        if (compressed && type !== FrameType.Entries && type !== FrameType.Snapshot) {
          throw new FrameError("garbage", `frame type ${type} cannot be compressed`);
        }
        let payload: Uint8Array = b.slice(s + 5, s + 4 + len);
        if (compressed) payload = inflate(payload, this.#max);
        frames.push({ type, compressed, payload });
        this.#start += 4 + len;
      }
    } catch (err) {
      this.#failed = true;
      this.#buf = new Uint8Array(0);
      this.#start = this.#end = 0;
      throw err;
    }
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return frames;
  }

  #append(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.#end + chunk.length > this.#buf.length) {
      const live = this.#end - this.#start;
      const need = live + chunk.length;
      // reuse the buffer when compaction suffices, otherwise grow (bounded by one frame
      // plus one chunk, because an oversize length is refused before it is buffered)
      const next = need <= this.#buf.length
        ? this.#buf
        : new Uint8Array(Math.max(need, this.#buf.length * 2, 4096));
      if (next === this.#buf) this.#buf.copyWithin(0, this.#start, this.#end);
      else next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
      this.#start = 0;
      this.#end = live;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }
}
