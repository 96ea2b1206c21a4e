/**
 * One replication connection: handshake, then digests, entry batches, snapshots and acks in
 * both directions.
 *
 * Sending is a single "pump" per connection that, while the peer lacks something, picks the
 * origin the peer is most behind on and sends the next gap-free batch of it (a snapshot chunk
 * when the peer is behind this node's compaction point). What the peer lacks is known from
 * its digests plus what was already sent on this connection (TCP delivers in order), so a
 * healthy connection never sends an entry twice. Own appends are always wanted by the peer;
 * other origins are sent up to what this node held when the peer's digest arrived (the
 * origin itself usually delivers them first; digests repair the rest).
 *
 * @module
 */
import type { Clock, Stream, TimerHandle } from "../transport/types.ts";
import { DecodeError } from "./binary.ts";
import { type Entry, ENTRY_BODY_OVERHEAD } from "./entry.ts";
import { type FrameCache, packFrame } from "./frame_cache.ts";
import { type Frame, FrameDecoder, FrameError, FrameType } from "./frames.ts";
import {
  decodeEntries,
  decodeHeads,
  decodeHello,
  decodeSnapshot,
  encodeHeads,
  encodeHello,
  encodeSnapshot,
  PROTOCOL_VERSION,
} from "./messages.ts";
import type { QuorumTracker } from "./quorum.ts";
import type { LogStats, RejectReason } from "./stats.ts";
import type { LogTuning } from "./tuning.ts";

/** The log data a connection reads and feeds. */
export interface ReplicaData {
  /** origin → highest seq held. */
  heads(): ReadonlyMap<string, number>;
  /** origin → compaction point. */
  floors(): ReadonlyMap<string, number>;
  /** Up to `limit` entries of `origin` from `fromSeq`, ascending. */
  read(origin: string, fromSeq: number, limit: number): Promise<Entry[]>;
  /** Applies a gap-free batch (duplicates are skipped, a gap stops it). */
  applyEntries(origin: string, entries: Entry[]): Promise<void>;
  /** Installs a compacted range. */
  applySnapshot(origin: string, through: number, entries: Entry[]): Promise<void>;
}

/** What a connection needs from the replicator that owns it. */
export interface SessionHost {
  /** This node's name. */
  readonly name: string;
  /** This node's own log (usually its name). */
  readonly origin: string;
  /** Environment both sides must share. */
  readonly environment: string;
  /** Limits and batching. */
  readonly tuning: LogTuning;
  /** Timers. */
  readonly clock: Clock;
  /** Counters to bump. */
  readonly stats: LogStats;
  /** Acks of own entries go here. */
  readonly quorum: QuorumTracker;
  /** The log. */
  readonly data: ReplicaData;
  /** Entries frames shared by the connections. */
  readonly frames: FrameCache;
  /** Handshake done; false refuses the connection (a promise: decided a little later). */
  opened(session: PeerSession): boolean | Promise<boolean>;
  /** The connection is gone (called once per session, opened or not). */
  closed(session: PeerSession): void;
}

type SessionState = "hello" | "open" | "closed";

// a pump run writes its frames in chunks of about this size (one write, not one per frame)
const WRITE_CHUNK = 64 * 1024;
// the pump waits while this many bytes are handed to the socket and not yet written
const SEND_HIGH_WATER = 4 * 1024 * 1024;

function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

class PeerRejected extends Error {
  readonly reason: RejectReason;
  constructor(reason: RejectReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** A replication connection (inbound or outbound). */
export class PeerSession {
  /** The byte stream. */
  readonly stream: Stream;
  /** This side dialed. */
  readonly outbound: boolean;
  #host: SessionHost;
  #expected: string | undefined;
  // keyed: the name the peer proved in the handshake (its Hello must say the same)
  #authenticated: string | undefined;
  #heard = 0;
  #peer = "";
  #state: SessionState = "hello";
  #decoder: FrameDecoder;
  #timer: TimerHandle = undefined;
  #remote = new Map<string, number>();
  #targets = new Map<string, number>();
  #synced = false;
  #pumping = false;
  #registered = false;
  // outgoing frames gathered in this tick, written together
  #out: Uint8Array[] = [];
  #outBytes = 0;
  #flushQueued = false;
  #unwritten = 0;
  #drained: (() => void) | undefined;

  /**
   * Creates an instance.
   * @param host the owning replicator
   * @param stream the connection (owned from now on)
   * @param expectedName name of the dialed peer (outbound only)
   * @param authenticatedName name the peer proved in a keyed handshake
   */
  constructor(
    host: SessionHost,
    stream: Stream,
    expectedName?: string,
    authenticatedName?: string,
  ) {
    this.#host = host;
    this.#authenticated = authenticatedName;
    this.#heard = host.clock.now();
    this.stream = stream;
    this.outbound = expectedName !== undefined;
    this.#expected = expectedName;
    this.#decoder = new FrameDecoder(host.tuning.maxFrameBytes);
  }

  /** The peer's name ("" before the handshake). */
  get peer(): string {
    return this.#peer;
  }

  /** Closed for good. */
  get isClosed(): boolean {
    return this.#state === "closed";
  }

  /** Handshake done and accepted by the host. */
  get isOpen(): boolean {
    return this.#registered && this.#state === "open";
  }

  /** When the peer last sent anything (clock ms); a live peer sends a digest every sync. */
  get lastHeard(): number {
    return this.#heard;
  }

  /** Name this side dialed (outbound only). */
  get expectedName(): string | undefined {
    return this.#expected;
  }

  /** Sends Hello, arms the handshake deadline and starts reading. */
  start(): void {
    const h = this.#host;
    this.#timer = h.clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#state === "hello") this.#reject("handshake-timeout");
    }, h.tuning.connectTimeoutMs);
    this.#send(
      FrameType.Hello,
      encodeHello({ version: PROTOCOL_VERSION, environment: h.environment, name: h.name }),
    );
    void this.#readLoop();
  }

  /** Closes the connection; idempotent. */
  close(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    if (this.#timer !== undefined) this.#host.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#out = [];
    this.#outBytes = 0;
    this.#wake();
    this.stream.close();
    this.#host.closed(this);
  }

  /** Sends our digest (origin → head). */
  sendDigest(): void {
    if (this.#state !== "open") return;
    this.#send(FrameType.Digest, encodeHeads(this.#host.data.heads()));
  }

  /** Something new may be wanted by the peer: run the pump. */
  kick(): void {
    void this.#pump();
  }

  #reject(reason: RejectReason): void {
    if (this.#state === "closed") return;
    this.#host.stats.rejectedPeers[reason]++;
    this.close();
  }

  async #readLoop(): Promise<void> {
    const stats = this.#host.stats;
    try {
      for (;;) {
        const chunk = await this.stream.read();
        if (chunk === null || (this.#state as SessionState) === "closed") break;
        stats.bytesIn += chunk.length;
        this.#heard = this.#host.clock.now();
        for (const frame of this.#decoder.push(chunk)) {
          if ((this.#state as SessionState) === "closed") break;
          stats.framesIn++;
          await this.#handle(frame);
        }
      }
    } catch (err) {
      if (err instanceof PeerRejected || err instanceof FrameError) this.#reject(err.reason);
      else if (err instanceof DecodeError) this.#reject("garbage");
      // anything else (a store failure, a write on a dead socket) just ends the connection
    } finally {
      this.close();
    }
  }

  async #handle(f: Frame): Promise<void> {
    const h = this.#host;
    if (this.#state === "hello") {
      if (f.type !== FrameType.Hello) throw new PeerRejected("garbage", "expected Hello");
      const hello = decodeHello(f.payload);
      if (hello.version !== PROTOCOL_VERSION) {
        throw new PeerRejected("version", `version ${hello.version}`);
      }
      if (hello.environment !== h.environment) {
        throw new PeerRejected("environment", hello.environment);
      }
      if (hello.name === h.name || hello.name === "") throw new PeerRejected("self", "own name");
      if (this.#authenticated !== undefined && hello.name !== this.#authenticated) {
        throw new PeerRejected("name", `proved ${this.#authenticated}, says ${hello.name}`);
      }
      if (this.#expected !== undefined && hello.name !== this.#expected) {
        throw new PeerRejected("name", `dialed ${this.#expected}, reached ${hello.name}`);
      }
      this.#peer = hello.name;
      this.#state = "open";
      h.clock.clearTimeout(this.#timer);
      this.#timer = undefined;
      // frames wait (the read loop awaits this) until the host decides
      if (!(await h.opened(this)) || (this.#state as SessionState) === "closed") {
        this.close();
        return;
      }
      this.#registered = true;
      this.sendDigest();
      return;
    }
    switch (f.type) {
      case FrameType.Digest: {
        const heads = decodeHeads(f.payload);
        const mine = h.data.heads();
        for (const [origin, head] of heads) this.#noteRemote(origin, head);
        for (const [origin, head] of mine) {
          if (head > (this.#remote.get(origin) ?? 0)) this.#targets.set(origin, head);
        }
        this.#synced = true;
        void this.#pump();
        return;
      }
      case FrameType.Ack: {
        for (const [origin, head] of decodeHeads(f.payload)) this.#noteRemote(origin, head);
        return;
      }
      case FrameType.Entries: {
        const batch = decodeEntries(f.payload);
        await h.data.applyEntries(batch.origin, batch.entries);
        const n = batch.entries.length;
        if (n > 0) this.#noteRemote(batch.origin, batch.entries[n - 1].seq);
        if (batch.ackRequested) {
          const head = h.data.heads().get(batch.origin) ?? 0;
          this.#send(FrameType.Ack, encodeHeads([[batch.origin, head]]));
        }
        return;
      }
      case FrameType.Snapshot: {
        const chunk = decodeSnapshot(f.payload);
        await h.data.applySnapshot(chunk.origin, chunk.through, chunk.entries);
        h.stats.snapshotsReceived++;
        this.#noteRemote(chunk.origin, chunk.through);
        return;
      }
      default:
        throw new PeerRejected("garbage", `unexpected frame ${f.type}`);
    }
  }

  /** The peer said it holds `origin` through `head` (digest, ack, or entries it sent). */
  #noteRemote(origin: string, head: number): void {
    // the cursor may already be ahead (entries sent, not yet acknowledged): acks go to the
    // quorum regardless
    if (origin === this.#host.origin) this.#host.quorum.ack(this.#peer, head);
    if (head > (this.#remote.get(origin) ?? 0)) this.#remote.set(origin, head);
  }

  /** The origin the peer is most behind on, or undefined. */
  #pick(): string | undefined {
    const self = this.#host.origin;
    let best: string | undefined;
    let bestLag = 0;
    for (const [origin, head] of this.#host.data.heads()) {
      const target = origin === self ? head : Math.min(head, this.#targets.get(origin) ?? 0);
      const lag = target - (this.#remote.get(origin) ?? 0);
      if (lag > bestLag) {
        bestLag = lag;
        best = origin;
      }
    }
    return best;
  }

  async #pump(): Promise<void> {
    if (this.#pumping || !this.#synced || this.#state !== "open") return;
    this.#pumping = true;
    try {
      while (this.#state === "open") {
        const origin = this.#pick();
        if (origin === undefined) break;
        if (!(await this.#sendNext(origin))) break;
        if (this.#outBytes >= WRITE_CHUNK) this.#flush();
        while (this.#unwritten > SEND_HIGH_WATER && this.#state === "open") {
          await new Promise<void>((resolve) => (this.#drained = resolve));
        }
      }
      this.#flush();
    } catch {
      this.close();
    } finally {
      this.#pumping = false;
    }
  }

  #wake(): void {
    const d = this.#drained;
    this.#drained = undefined;
    d?.();
  }

  /** Sends the next batch or snapshot chunk of `origin`; false when nothing could be sent. */
  async #sendNext(origin: string): Promise<boolean> {
    const h = this.#host;
    const { maxBatchEntries, maxBatchBytes } = h.tuning;
    const have = this.#remote.get(origin) ?? 0;
    const floor = h.data.floors().get(origin) ?? 0;
    const list = await h.data.read(origin, have + 1, maxBatchEntries);
    if (this.#state !== "open" || (this.#remote.get(origin) ?? 0) !== have) return true;
    const batch: Entry[] = [];
    let bytes = 0;
    let full = false;
    for (const e of list) {
      if (have < floor ? e.seq > floor : e.seq !== have + 1 + batch.length) break;
      const size = ENTRY_BODY_OVERHEAD + 8 + e.value.length + (e.key?.length ?? 0);
      if (batch.length > 0 && bytes + size > maxBatchBytes) {
        full = true;
        break;
      }
      batch.push(e);
      bytes += size;
    }
    if (have < floor) {
      // a compacted range: holes are expected; it ends at the floor unless cut short
      const cut = full || (batch.length === list.length && list.length === maxBatchEntries);
      const through = cut && batch.length > 0 ? batch[batch.length - 1].seq : floor;
      this.#remote.set(origin, through);
      h.stats.snapshotsSent++;
      this.#send(FrameType.Snapshot, encodeSnapshot(origin, through, batch), true);
      return true;
    }
    if (batch.length === 0) return false; // the store lacks what its head promises: wait for a digest
    const last = batch[batch.length - 1].seq;
    this.#remote.set(origin, last);
    const ack = origin === h.origin && h.quorum.wanted > have;
    this.#queue(h.frames.entries(origin, batch, ack, bytes, h.tuning.compress));
    return true;
  }

  /**
   * Queues a frame. Frames of one tick go out in one write: the pump's at the end of its run
   * (or every {@link WRITE_CHUNK}), any other in a microtask, so nothing waits for a timer.
   */
  #send(type: number, payload: Uint8Array, compressible = false): void {
    if (this.#state === "closed") return;
    this.#queue(packFrame(type, payload, compressible && this.#host.tuning.compress));
  }

  #queue(frame: Uint8Array): void {
    if (this.#state === "closed") return;
    this.#host.stats.framesOut++;
    this.#host.stats.bytesOut += frame.length;
    this.#out.push(frame);
    this.#outBytes += frame.length;
    if (!this.#pumping && !this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => {
        this.#flushQueued = false;
        this.#flush();
      });
    }
  }

  #flush(): void {
    if (this.#state === "closed" || this.#outBytes === 0) return;
    const n = this.#outBytes;
    const bytes = this.#out.length === 1 ? this.#out[0] : concat(this.#out, n);
    this.#out = [];
    this.#outBytes = 0;
    this.#unwritten += n;
    this.stream.write(bytes).then(() => {
      this.#unwritten -= n;
      if (this.#unwritten <= SEND_HIGH_WATER) this.#wake();
    }, () => this.close());
  }
}
