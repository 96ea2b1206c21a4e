/**
 * The record layer of keyed replication: after the handshake (secure_handshake.ts) every byte
 * of a log connection travels in records `[u32 length][AES-256-GCM ciphertext + 16-byte tag]`,
 * the length being authenticated data. Each direction has its own session key and a record
 * counter that is the GCM nonce, so a replayed, reordered, dropped or modified record fails
 * authentication and ends the connection.
 *
 * A record carries at most {@link MAX_RECORD_PLAINTEXT} bytes, so a reader buffers at most one
 * such record before it can tell whether the bytes are genuine.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createCipheriv, createDecipheriv } from "node:crypto";
import type { HostPort, Stream } from "../transport/types.ts";

/** Largest plaintext of one record (larger writes are split). */
export const MAX_RECORD_PLAINTEXT: number = 64 * 1024;
/** GCM tag length. */
export const TAG_BYTES: number = 16;
const HEADER = 4;

/** Why a sealed stream gave up on its peer. */
export type SealFault = "tampered";

/** Bytes buffered before `inner`'s own chunks: what a handshake read past its last message. */
export class PrefixedStream implements Stream {
  readonly remote: HostPort;
  #inner: Stream;
  #prefix: Uint8Array | undefined;

  /**
   * Creates an instance.
   * @param inner the stream that continues the prefix
   * @param prefix bytes already read from it
   */
  constructor(inner: Stream, prefix: Uint8Array) {
    this.#inner = inner;
    this.remote = inner.remote;
    this.#prefix = prefix.length > 0 ? prefix : undefined;
  }

  read(): Promise<Uint8Array | null> {
    const p = this.#prefix;
    if (p === undefined) return this.#inner.read();
    this.#prefix = undefined;
    return Promise.resolve(p);
  }

  write(bytes: Uint8Array): Promise<void> {
    return this.#inner.write(bytes);
  }

  close(): void {
    this.#inner.close();
  }
}

function nonce(counter: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeUInt32BE(Math.floor(counter / 0x1_0000_0000), 4);
  n.writeUInt32BE(counter >>> 0, 8);
  return n;
}

/**
 * A {@link Stream} whose bytes are sealed records on `inner`.
 *
 * @example
 * ```ts
 * const sealed = new SealedStream(tcp, sendKey, receiveKey, leftover, () => stats.tampered++);
 * await sealed.write(new TextEncoder().encode("frame bytes"));
 * ```
 */
export class SealedStream implements Stream {
  readonly remote: HostPort;
  #inner: Stream;
  #sendKey: Buffer;
  #receiveKey: Buffer;
  #sent = 0;
  #received = 0;
  #buf: Uint8Array;
  #onFault: (fault: SealFault) => void;
  #failed = false;

  /**
   * Creates an instance.
   * @param inner the connection, handshake done
   * @param sendKey 32-byte key of this side's records
   * @param receiveKey 32-byte key of the peer's records
   * @param leftover bytes read past the handshake (the first records)
   * @param onFault called once when a record fails authentication (the stream then closes)
   */
  constructor(
    inner: Stream,
    sendKey: Uint8Array,
    receiveKey: Uint8Array,
    leftover: Uint8Array,
    onFault: (fault: SealFault) => void,
  ) {
    this.#inner = inner;
    this.remote = inner.remote;
    this.#sendKey = Buffer.from(sendKey);
    this.#receiveKey = Buffer.from(receiveKey);
    this.#buf = leftover;
    this.#onFault = onFault;
  }

  async read(): Promise<Uint8Array | null> {
    for (;;) {
      if (this.#failed) return null;
      const plain = this.#open();
      if (plain !== undefined) {
        if (plain.length > 0) return plain;
        continue;
      }
      const chunk = await this.#inner.read();
      if (chunk === null) return null;
      this.#buf = this.#buf.length === 0 ? chunk : concat(this.#buf, chunk);
    }
  }

  /** The next complete record's plaintext, or undefined when none is buffered yet. */
  #open(): Uint8Array | undefined {
    const b = this.#buf;
    if (b.length < HEADER) return undefined;
    const len = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
    if (len < TAG_BYTES || len > MAX_RECORD_PLAINTEXT + TAG_BYTES) {
      this.#fail();
      return undefined;
    }
    if (b.length < HEADER + len) return undefined;
    const header = b.subarray(0, HEADER);
    const body = b.subarray(HEADER, HEADER + len - TAG_BYTES);
    const tag = b.subarray(HEADER + len - TAG_BYTES, HEADER + len);
    this.#buf = b.subarray(HEADER + len);
    try {
      const d = createDecipheriv("aes-256-gcm", this.#receiveKey, nonce(this.#received));
      d.setAAD(header);
      d.setAuthTag(tag);
      const head = d.update(body);
      const tail = d.final();
      this.#received++;
      const out = tail.length === 0 ? head : Buffer.concat([head, tail]);
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    } catch {
      this.#fail();
      return undefined;
    }
  }

  #fail(): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#buf = new Uint8Array(0);
    this.#onFault("tampered");
    this.#inner.close();
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.#failed) return Promise.reject(new Error("sealed stream failed"));
    const records = Math.max(1, Math.ceil(bytes.length / MAX_RECORD_PLAINTEXT));
    const out = Buffer.allocUnsafe(bytes.length + records * (HEADER + TAG_BYTES));
    let off = 0;
    for (let i = 0; i < records; i++) {
      const part = bytes.subarray(i * MAX_RECORD_PLAINTEXT, (i + 1) * MAX_RECORD_PLAINTEXT);
      out.writeUInt32BE(part.length + TAG_BYTES, off);
      const c = createCipheriv("aes-256-gcm", this.#sendKey, nonce(this.#sent++));
      c.setAAD(out.subarray(off, off + HEADER));
      off += HEADER;
      off += c.update(part).copy(out, off);
      off += c.final().copy(out, off);
      off += c.getAuthTag().copy(out, off);
    }
    return this.#inner.write(new Uint8Array(out.buffer, out.byteOffset, off));
  }

  close(): void {
    this.#inner.close();
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
