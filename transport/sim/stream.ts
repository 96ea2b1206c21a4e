/**
 * Simulated TCP connections: reliable, in-order byte delivery with the link's latency.
 *
 * Each direction is a {@link Pipe}, one timeline entry that delivers its queued chunks in
 * order. A pipe whose endpoints are partitioned stalls and retries (like TCP retransmission)
 * every `streamRetryMs`; when the stall lasts `streamTimeoutMs`, the whole connection breaks:
 * reads return null on both sides and writes reject "ECONNRESET". A paused receiver gets its
 * bytes when the pause ends.
 *
 * @module
 */
import type { HostState, SimCore } from "./core.ts";
import type { HostPort, Stream } from "../types.ts";
import { TransportError } from "../types.ts";
import { TimelineEntry } from "./virtual_clock.ts";

// chunk markers: null is FIN (orderly close), RESET (by identity) is an abort
const RESET: Uint8Array = new Uint8Array(0);

type Reader = (chunk: Uint8Array | null) => void;

/** One direction of a connection. */
export class Pipe extends TimelineEntry {
  readonly core: SimCore;
  readonly from: HostState;
  readonly to: HostState;
  readonly conn: SimConnection;
  target: SimStream | null = null;
  #chunks: (Uint8Array | null)[] = [];
  #dues: number[] = [];
  #head = 0;
  #lastDue = -Infinity;
  #stallStart = -1;

  constructor(core: SimCore, from: HostState, to: HostState, conn: SimConnection) {
    super();
    this.core = core;
    this.from = from;
    this.to = to;
    this.conn = conn;
  }

  /** Queues a chunk (null = FIN, RESET = abort) for in-order delivery. */
  push(chunk: Uint8Array | null): void {
    const link = this.core.link(this.from, this.to);
    let at = this.core.arrival(this.from, this.to, link, chunk === null ? 0 : chunk.byteLength);
    if (at < this.#lastDue) at = this.#lastDue; // jitter must not reorder a stream
    this.#lastDue = at;
    this.#chunks.push(chunk);
    this.#dues.push(at);
    if (!this.queued) this.core.clock.schedule(this, this.#dues[this.#head]);
  }

  /** Drops everything still in flight (the connection is gone). */
  clear(): void {
    this.#chunks.length = 0;
    this.#dues.length = 0;
    this.#head = 0;
    this.core.clock.cancel(this);
  }

  run(): void {
    const core = this.core;
    const now = core.clock.now();
    while (this.#head < this.#chunks.length && this.#dues[this.#head] <= now) {
      if (this.to.pausedUntil > now) {
        core.clock.schedule(this, this.to.pausedUntil);
        return;
      }
      if (this.from.group !== this.to.group) {
        if (this.#stallStart < 0) this.#stallStart = now;
        if (now - this.#stallStart >= core.streamTimeoutMs) {
          this.conn.reset();
          return;
        }
        core.clock.schedule(this, now + core.streamRetryMs);
        return;
      }
      this.#stallStart = -1;
      const chunk = this.#chunks[this.#head];
      this.#chunks[this.#head] = null;
      this.#head++;
      if (chunk === RESET) {
        this.conn.reset();
        return;
      }
      this.target?.receive(chunk);
    }
    if (this.#head === this.#chunks.length) {
      this.#chunks.length = 0;
      this.#dues.length = 0;
      this.#head = 0;
    } else {
      core.clock.schedule(this, this.#dues[this.#head]);
    }
  }
}

/** Both ends and both directions of one simulated connection. */
export class SimConnection {
  readonly core: SimCore;
  /** Dialer to acceptor. */
  readonly up: Pipe;
  /** Acceptor to dialer. */
  readonly down: Pipe;
  readonly dialer: SimStream;
  readonly acceptor: SimStream;
  #reset = false;

  constructor(
    core: SimCore,
    dialerHost: HostState,
    dialerAddr: HostPort,
    acceptorHost: HostState,
    acceptorAddr: HostPort,
  ) {
    this.core = core;
    this.up = new Pipe(core, dialerHost, acceptorHost, this);
    this.down = new Pipe(core, acceptorHost, dialerHost, this);
    this.dialer = new SimStream(core, acceptorAddr, this.up);
    this.acceptor = new SimStream(core, dialerAddr, this.down);
    this.up.target = this.acceptor;
    this.down.target = this.dialer;
  }

  /** Aborts the connection on both sides at once. */
  reset(): void {
    if (this.#reset) return;
    this.#reset = true;
    this.core.stats.streamsBroken++;
    this.up.clear();
    this.down.clear();
    this.dialer.broken();
    this.acceptor.broken();
  }
}

/** One end of a simulated connection. */
export class SimStream implements Stream {
  readonly remote: HostPort;
  /** Called once when this end is finished (closed, reset or killed). */
  onGone: ((s: SimStream) => void) | null = null;
  #core: SimCore;
  #out: Pipe;
  #chunks: Uint8Array[] = [];
  #head = 0;
  #readers: Reader[] = [];
  // no more data will be queued
  #ended = false;
  // this end can no longer write
  #closed = false;
  #broken = false;
  #dead = false;

  constructor(core: SimCore, remote: HostPort, out: Pipe) {
    this.#core = core;
    this.remote = remote;
    this.#out = out;
  }

  /** This end is done: closed, reset or killed (queued data may still be readable). */
  get finished(): boolean {
    return this.#closed;
  }

  read(): Promise<Uint8Array | null> {
    // the caller's continuation must run before virtual time moves on
    this.#core.clock.noteAsyncWork();
    if (this.#head < this.#chunks.length) {
      const c = this.#chunks[this.#head];
      this.#chunks[this.#head++] = RESET;
      if (this.#head === this.#chunks.length) {
        this.#chunks.length = 0;
        this.#head = 0;
      }
      return Promise.resolve(c);
    }
    if (this.#ended) return Promise.resolve(null);
    return new Promise<Uint8Array | null>((resolve) => this.#readers.push(resolve));
  }

  write(bytes: Uint8Array): Promise<void> {
    this.#core.clock.noteAsyncWork();
    if (this.#broken) return Promise.reject(new TransportError("ECONNRESET", "stream was reset"));
    if (this.#closed) return Promise.reject(new TransportError("ECLOSED", "stream is closed"));
    this.#core.stats.streamBytesSent += bytes.byteLength;
    this.#out.push(bytes.slice());
    return Promise.resolve();
  }

  close(): void {
    this.#chunks.length = 0;
    this.#head = 0;
    this.#end();
    if (!this.#closed) {
      this.#closed = true;
      this.#out.push(null);
    }
    this.#gone();
  }

  /** The owning process died: nothing of this end ever resolves again; the peer is reset. */
  kill(): void {
    if (this.#dead) return;
    this.#dead = true;
    const wasOpen = !this.#closed;
    this.#closed = true;
    this.#ended = true;
    this.#chunks.length = 0;
    this.#readers = [];
    if (wasOpen) this.#out.push(RESET);
    this.#gone();
  }

  /** Bytes (or FIN) arriving from the peer. */
  receive(chunk: Uint8Array | null): void {
    if (this.#dead || this.#ended) return;
    if (chunk === null) {
      // like a socket without half-open support: the peer's FIN ends this side too
      this.#closed = true;
      this.#end();
      this.#gone();
      return;
    }
    this.#core.stats.streamBytesDelivered += chunk.byteLength;
    const reader = this.#readers.shift();
    if (reader !== undefined) {
      reader(chunk);
      this.#core.clock.noteAsyncWork();
    } else this.#chunks.push(chunk);
  }

  /** The connection was reset. */
  broken(): void {
    if (this.#dead) return;
    this.#broken = true;
    this.#closed = true;
    this.#chunks.length = 0;
    this.#head = 0;
    this.#end();
    this.#gone();
  }

  #end(): void {
    this.#ended = true;
    const readers = this.#readers;
    if (readers.length === 0) return;
    this.#readers = [];
    for (const r of readers) r(null);
    this.#core.clock.noteAsyncWork();
  }

  #gone(): void {
    const cb = this.onGone;
    if (cb === null) return;
    this.onGone = null;
    cb(this);
  }
}
