/**
 * A pull-based {@link Stream} over a `node:net` socket.
 *
 * Incoming chunks are queued until `read()` takes them; when more than {@link HIGH_WATER}
 * bytes wait, the socket is paused so a slow reader applies TCP backpressure to the sender
 * instead of growing memory.
 *
 * @module
 */
import type { Socket } from "node:net";
import { clearTimeout as nodeClearTimeout, setTimeout as nodeSetTimeout } from "node:timers";
import { toTransportError } from "./node_error.ts";
import type { HostPort, Stream } from "./types.ts";
import { TransportError } from "./types.ts";

/** Queued bytes above which the socket is paused. */
export const HIGH_WATER: number = 1 << 20;
/** Queued bytes at or below which a paused socket resumes. */
export const LOW_WATER: number = 256 << 10;
/** How long a gracefully closed socket may linger (flushing, waiting for the peer's FIN). */
const LINGER_MS = 2000;

type Reader = (chunk: Uint8Array | null) => void;
interface PendingWrite {
  resolve: () => void;
  reject: (err: TransportError) => void;
}

/** Maps `::ffff:a.b.c.d` to `a.b.c.d` so dual-stack sockets report plain IPv4 peers. */
export function unmapV4(host: string): string {
  return host.startsWith("::ffff:") && host.indexOf(".") > 0 ? host.slice(7) : host;
}

/** A {@link Stream} over a connected `net.Socket`. */
export class NodeStream implements Stream {
  /** The peer's address. */
  readonly remote: HostPort;
  #socket: Socket;
  #chunks: Uint8Array[] = [];
  #head = 0;
  #queued = 0;
  #readers: Reader[] = [];
  #writes = new Set<PendingWrite>();
  // no more data will be queued (peer FIN, error, or our close)
  #ended = false;
  #closed = false;
  #paused = false;
  #gone = false;
  #onGone: (stream: NodeStream) => void;

  /**
   * @param socket a connected socket; the stream owns it from now on
   * @param onGone called once when the socket is fully closed (the transport forgets it)
   */
  constructor(socket: Socket, onGone: (stream: NodeStream) => void) {
    this.#socket = socket;
    this.#onGone = onGone;
    this.remote = { host: unmapV4(socket.remoteAddress ?? ""), port: socket.remotePort ?? 0 };
    socket.setNoDelay(true);
    socket.on("data", (data: Uint8Array) => this.#onData(data));
    socket.on("end", () => this.#finishReads());
    // an error is always followed by "close"; the listener only keeps it from being fatal
    socket.on("error", () => this.#finishReads());
    socket.on("close", () => this.#onClose());
  }

  /** Bytes received but not yet read. */
  get queuedBytes(): number {
    return this.#queued;
  }

  read(): Promise<Uint8Array | null> {
    if (this.#head < this.#chunks.length) return Promise.resolve(this.#take());
    if (this.#ended) return Promise.resolve(null);
    return new Promise<Uint8Array | null>((resolve) => this.#readers.push(resolve));
  }

  write(bytes: Uint8Array): Promise<void> {
    const socket = this.#socket;
    if (this.#closed || this.#gone || !socket.writable) {
      return Promise.reject(new TransportError("ECLOSED", "stream is closed"));
    }
    return new Promise<void>((resolve, reject) => {
      const pending: PendingWrite = { resolve, reject };
      this.#writes.add(pending);
      socket.write(bytes, (err?: Error | null) => {
        if (!this.#writes.delete(pending)) return;
        if (err) reject(toTransportError(err, "write to", this.remote, "ECLOSED"));
        else resolve();
      });
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#dropQueue();
    this.#finishReads();
    if (this.#gone) return;
    const socket = this.#socket;
    // graceful: flush what was written, send FIN, discard whatever still arrives; a peer
    // that never answers the FIN is cut off after LINGER_MS
    socket.resume();
    socket.end();
    const timer = nodeSetTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once("close", () => nodeClearTimeout(timer));
  }

  /** Closes at once without flushing (transport shutdown). */
  destroy(): void {
    this.#closed = true;
    this.#dropQueue();
    this.#finishReads();
    this.#socket.destroy();
  }

  #onData(data: Uint8Array): void {
    if (this.#closed) return;
    // a plain Uint8Array view: Buffer.slice has view semantics that surprise callers
    const chunk = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const reader = this.#readers.shift();
    if (reader !== undefined) {
      reader(chunk);
      return;
    }
    this.#chunks.push(chunk);
    this.#queued += chunk.byteLength;
    if (!this.#paused && this.#queued > HIGH_WATER) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  #take(): Uint8Array {
    const chunk = this.#chunks[this.#head];
    this.#chunks[this.#head++] = EMPTY;
    if (this.#head === this.#chunks.length) {
      this.#chunks.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
    this.#queued -= chunk.byteLength;
    if (this.#paused && this.#queued <= LOW_WATER) {
      this.#paused = false;
      if (!this.#closed) this.#socket.resume();
    }
    return chunk;
  }

  #dropQueue(): void {
    this.#chunks.length = 0;
    this.#head = 0;
    this.#queued = 0;
  }

  #finishReads(): void {
    this.#ended = true;
    const readers = this.#readers;
    if (readers.length === 0) return;
    this.#readers = [];
    for (const r of readers) r(null);
  }

  #onClose(): void {
    this.#gone = true;
    this.#finishReads();
    if (this.#writes.size > 0) {
      const err = new TransportError("ECLOSED", "stream closed before the write completed");
      for (const w of this.#writes) w.reject(err);
      this.#writes.clear();
    }
    this.#onGone(this);
  }
}

const EMPTY = new Uint8Array(0);
