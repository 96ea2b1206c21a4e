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
import type { HostPort, Stream } from "../transport/mod.ts";

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

function nonce(counter: number): Uint8Array<ArrayBuffer> {
  const n = new Uint8Array(12);
  const v = new DataView(n.buffer);
  v.setUint32(4, Math.floor(counter / 0x1_0000_0000));
  v.setUint32(8, counter >>> 0);
  return n;
}

const subtle = globalThis.crypto.subtle;
const GCM = "AES-GCM";
// WebCrypto wants ArrayBuffer-backed views; ours always are (never a SharedArrayBuffer)
const view = (b: Uint8Array): Uint8Array<ArrayBuffer> => b as Uint8Array<ArrayBuffer>;

/** A session key in both forms: raw for node:crypto, imported for WebCrypto. */
export interface SessionKey {
  /** The 32 bytes. */
  readonly raw: Buffer;
  /** The same, imported for AES-GCM. */
  readonly key: CryptoKey;
}

/** Imports a 32-byte session key for AES-256-GCM. */
export async function importSessionKey(raw: Uint8Array): Promise<SessionKey> {
  const key = await subtle.importKey("raw", view(raw.slice()), GCM, false, [
    "encrypt",
    "decrypt",
  ]);
  return { raw: Buffer.from(raw), key };
}

// records up to this size go through node:crypto, synchronously: a WebCrypto call costs a hop
// to a worker thread, which a small frame (a quorum append, an ack) would pay in latency
const SYNC_RECORD = 2048;

function sealSync(k: SessionKey, iv: Uint8Array, header: Uint8Array, part: Uint8Array) {
  const c = createCipheriv("aes-256-gcm", k.raw, iv);
  c.setAAD(header);
  const body = c.update(part);
  const last = c.final();
  return Buffer.concat([body, last, c.getAuthTag()]);
}

function openSync(k: SessionKey, iv: Uint8Array, header: Uint8Array, body: Uint8Array) {
  try {
    const d = createDecipheriv("aes-256-gcm", k.raw, iv);
    d.setAAD(header);
    d.setAuthTag(body.subarray(body.length - TAG_BYTES));
    const head = d.update(body.subarray(0, body.length - TAG_BYTES));
    const tail = d.final();
    const out = tail.length === 0 ? head : Buffer.concat([head, tail]);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch {
    return undefined;
  }
}

/**
 * A {@link Stream} whose bytes are sealed records on `inner`. WebCrypto does the AES-GCM (on
 * Deno it is several times faster than node:crypto's, and it runs on Node and Bun alike);
 * records are sealed and opened concurrently but written and delivered in counter order.
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
  #sendKey: SessionKey;
  #receiveKey: SessionKey;
  #sent = 0;
  #received = 0;
  #buf: Uint8Array;
  // records being opened, in order (small ones already opened)
  #opening: (Uint8Array | undefined | Promise<Uint8Array | undefined>)[] = [];
  // writes being sealed by WebCrypto, not yet handed to `inner`
  #queued = 0;
  // resolves once the previous write was handed to `inner` (writes keep counter order)
  #order: Promise<void> = Promise.resolve();
  #onFault: (fault: SealFault) => void;
  #failed = false;

  /**
   * Creates an instance.
   * @param inner the connection, handshake done
   * @param sendKey AES-256-GCM key of this side's records ({@link importSessionKey})
   * @param receiveKey AES-256-GCM key of the peer's records
   * @param leftover bytes read past the handshake (the first records)
   * @param onFault called once when a record fails authentication (the stream then closes)
   */
  constructor(
    inner: Stream,
    sendKey: SessionKey,
    receiveKey: SessionKey,
    leftover: Uint8Array,
    onFault: (fault: SealFault) => void,
  ) {
    this.#inner = inner;
    this.remote = inner.remote;
    this.#sendKey = sendKey;
    this.#receiveKey = receiveKey;
    this.#buf = leftover;
    this.#onFault = onFault;
  }

  async read(): Promise<Uint8Array | null> {
    for (;;) {
      if (this.#failed) return null;
      this.#openBuffered();
      if (this.#opening.length > 0) {
        const next = this.#opening.shift();
        const plain = next instanceof Promise ? await next : next;
        if (plain === undefined) {
          this.#fail();
          return null;
        }
        if (plain.length > 0) return plain;
        continue;
      }
      if (this.#failed) return null;
      const chunk = await this.#inner.read();
      if (chunk === null) return null;
      this.#buf = this.#buf.length === 0 ? chunk : concat(this.#buf, chunk);
    }
  }

  /** Starts opening every complete record buffered (undefined result: not authentic). */
  #openBuffered(): void {
    for (;;) {
      const b = this.#buf;
      if (b.length < HEADER || this.#failed) return;
      const len = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
      if (len < TAG_BYTES || len > MAX_RECORD_PLAINTEXT + TAG_BYTES) {
        this.#opening.push(undefined);
        this.#buf = new Uint8Array(0);
        return;
      }
      if (b.length < HEADER + len) return;
      const header = b.slice(0, HEADER);
      const body = b.slice(HEADER, HEADER + len);
      this.#buf = b.subarray(HEADER + len);
      const iv = nonce(this.#received++);
      const k = this.#receiveKey;
      this.#opening.push(
        len <= SYNC_RECORD
          ? openSync(k, iv, header, body)
          : subtle.decrypt({ name: GCM, iv, additionalData: header }, k.key, body).then(
            (plain) => new Uint8Array(plain),
            () => undefined,
          ),
      );
    }
  }

  #fail(): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#buf = new Uint8Array(0);
    this.#opening = [];
    this.#onFault("tampered");
    this.#inner.close();
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.#failed) return Promise.reject(new Error("sealed stream failed"));
    if (this.#queued === 0 && bytes.length <= SYNC_RECORD) {
      // the latency path (acks, single appends): sealed and handed over in this call
      const out = new Uint8Array(HEADER + bytes.length + TAG_BYTES);
      new DataView(out.buffer).setUint32(0, bytes.length + TAG_BYTES);
      out.set(sealSync(this.#sendKey, nonce(this.#sent++), out.subarray(0, HEADER), bytes), HEADER);
      return this.#inner.write(out);
    }
    const records = Math.max(1, Math.ceil(bytes.length / MAX_RECORD_PLAINTEXT));
    const sealing: (Promise<ArrayBuffer> | Uint8Array)[] = [];
    const headers: Uint8Array<ArrayBuffer>[] = [];
    for (let i = 0; i < records; i++) {
      const part = bytes.subarray(i * MAX_RECORD_PLAINTEXT, (i + 1) * MAX_RECORD_PLAINTEXT);
      const header = new Uint8Array(HEADER);
      new DataView(header.buffer).setUint32(0, part.length + TAG_BYTES);
      headers.push(header);
      const iv = nonce(this.#sent++);
      // WebCrypto copies `part` now: the caller may reuse its buffer
      const k = this.#sendKey;
      sealing.push(
        part.length <= SYNC_RECORD
          ? sealSync(k, iv, header, part)
          : subtle.encrypt({ name: GCM, iv, additionalData: header }, k.key, view(part)),
      );
    }
    const sealed = Promise.all(sealing).then((parts) => {
      const out = new Uint8Array(bytes.length + records * (HEADER + TAG_BYTES));
      let off = 0;
      parts.forEach((p, i) => {
        out.set(headers[i], off);
        out.set(p instanceof Uint8Array ? p : new Uint8Array(p), off + HEADER);
        off += HEADER + p.byteLength;
      });
      return out;
    });
    // hand records to `inner` in counter order, without waiting for earlier writes to finish
    this.#queued++;
    const issued = this.#order.then(() => sealed).then(
      (out) => {
        this.#queued--;
        return { done: this.#inner.write(out) };
      },
      (err) => {
        this.#queued--;
        throw err;
      },
    );
    this.#order = issued.then(() => {}, () => {});
    return issued.then((x) => x.done);
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
