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
 * Bounds (peer_bounds.ts): deadlines per frame and for silence, the bytes of incomplete
 * frames, and flow control: a peer's digest or ack buys it `maxReplyBytes` of history and
 * relays; the receiving side acks its heads every quarter of that, so honest streams never
 * stall.
 *
 * @module
 */
import type { Stream, TimerHandle } from "../transport/mod.ts";
import { FrameWriter, WRITE_CHUNK } from "./frame_writer.ts";
import { ClusterError } from "../errors/mod.ts";
import type { SessionHost } from "./session_host.ts";

export type { ReplicaData, SessionHost } from "./session_host.ts";
import { DecodeError } from "./binary.ts";
import { packFrame, takeBatch } from "./frame_cache.ts";
import { type Frame, FrameDecoder, FrameError, FrameType } from "./frames.ts";
import {
  decodeEntries,
  decodeHeads,
  decodeHello,
  decodeSnapshot,
  encodeHeads,
  encodeHello,
  encodeSnapshot,
  helloFault,
  PROTOCOL_VERSION,
} from "./messages.ts";
import { ReceiveWatch, ReplyBudget, rewindStale } from "./peer_bounds.ts";
import type { RejectReason } from "./stats.ts";
import { MAX_PLAUSIBLE_SEQ } from "./tuning.ts";

type SessionState = "hello" | "open" | "closed";

/** The peer broke the protocol; `code` is the counter it goes to. */
class PeerRejected extends ClusterError<RejectReason> {}

/** A replication connection (inbound or outbound). */
export class PeerSession {
  /** The byte stream. */
  readonly stream: Stream;
  /** This side dialed. */
  readonly outbound: boolean;
  #host: SessionHost<PeerSession>;
  #expected: string | undefined;
  // keyed: the name the peer proved in the handshake (its Hello must say the same)
  #authenticated: string | undefined;
  #heard = 0;
  #peer = "";
  #state: SessionState = "hello";
  #decoder: FrameDecoder;
  #timer: TimerHandle = undefined;
  #remote = new Map<string, number>();
  // origin → the highest head the peer itself reported (digests, acks, entries it sent)
  #claimed = new Map<string, number>();
  // origin → when entries of it were last sent on this connection
  #sentAt = new Map<string, number>();
  #targets = new Map<string, number>();
  #synced = false;
  #pumping = false;
  #registered = false;
  #lostByPeer = false;
  #writer: FrameWriter;
  #watch: ReceiveWatch;
  #budget = new ReplyBudget();

  /**
   * Creates an instance.
   * @param host the owning replicator
   * @param stream the connection (owned from now on)
   * @param expectedName name of the dialed peer (outbound only)
   * @param authenticatedName name the peer proved in a keyed handshake
   */
  constructor(
    host: SessionHost<PeerSession>,
    stream: Stream,
    expectedName?: string,
    authenticatedName?: string,
  ) {
    this.#host = host;
    this.#authenticated = authenticatedName;
    this.#heard = host.clock.now();
    this.stream = stream;
    this.#writer = new FrameWriter(stream, () => {
      if (this.#state !== "closed") this.#lostByPeer = this.#registered;
      this.close();
    });
    this.outbound = expectedName !== undefined;
    this.#expected = expectedName;
    this.#decoder = new FrameDecoder(host.tuning.maxFrameBytes);
    this.#watch = new ReceiveWatch(host.clock.now());
  }

  /** Bytes of the incomplete frame buffered now. */
  get bufferedBytes(): number {
    return this.#watch.buffered;
  }

  /** Cuts the connection if a frame or idle deadline passed at `now` (see peer_bounds.ts). */
  sweep(now: number): void {
    const h = this.#host;
    const why = this.#watch.expired(now, h.limits, h.tuning.syncIntervalMs, this.#state === "open");
    if (why !== undefined) this.reject(why);
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

  /**
   * The connection was open and ended from the peer's side (its end of stream, or a write
   * that failed), not by this node: a hint that the peer's process may be gone.
   */
  get lostByPeer(): boolean {
    return this.#lostByPeer;
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
      if (this.#state === "hello") this.reject("handshake-timeout", "no Hello in time");
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
    this.#writer.close();
    const freed = this.#watch.setBuffered(0);
    if (freed !== 0) this.#host.buffered(this, freed);
    this.stream.close();
    this.#host.closed(this);
  }

  /** Sends our digest (origin → head); it also grants the peer a new reply budget. */
  sendDigest(): void {
    if (this.#state !== "open") return;
    this.#watch.granted();
    this.#send(FrameType.Digest, encodeHeads(this.#host.data.announced()));
  }

  /** Something new may be wanted by the peer: run the pump. */
  kick(): void {
    void this.#pump();
  }

  /** Cuts the connection for `reason` and counts it. */
  reject(reason: RejectReason, detail = ""): void {
    if (this.#state === "closed") return;
    this.#host.stats.rejectedPeers[reason]++;
    this.#host.logger.warn("refused a replication peer", {
      peer: this.#peer || this.#expected || "(before hello)",
      reason,
      detail,
    });
    this.close();
  }

  async #readLoop(): Promise<void> {
    const stats = this.#host.stats;
    try {
      for (;;) {
        const chunk = await this.stream.read();
        if ((this.#state as SessionState) === "closed") break;
        if (chunk === null) {
          this.#lostByPeer = this.#registered;
          break;
        }
        stats.bytesIn += chunk.length;
        this.#heard = this.#host.clock.now();
        const frames = this.#decoder.push(chunk);
        const grown = this.#watch.read(
          this.#host.clock.now(),
          frames.length,
          this.#decoder.buffered,
        );
        if (grown !== 0) this.#host.buffered(this, grown);
        for (const frame of frames) {
          if ((this.#state as SessionState) === "closed") break;
          stats.framesIn++;
          await this.#handle(frame);
        }
        if (this.#state !== "open") continue;
        if (this.#watch.grantDue(chunk.length, this.#host.limits.maxReplyBytes)) {
          // an ack of our heads, not a digest: a digest would re-aim the peer's relays
          this.#watch.granted();
          this.#send(FrameType.Ack, encodeHeads(this.#host.data.heads()));
        }
      }
    } catch (err) {
      if (err instanceof PeerRejected) this.reject(err.code, err.message);
      else if (err instanceof FrameError) {
        this.reject(err.code, err.message);
      } else if (err instanceof DecodeError) this.reject("garbage", err.message);
      else {
        // anything else (a store failure, a write on a dead socket) just ends the connection
        this.#host.logger.debug("replication connection ended", {
          peer: this.#peer || this.#expected || "(before hello)",
          error: err instanceof Error ? err.message : String(err),
        });
      }
    } finally {
      this.close();
    }
  }

  async #handle(f: Frame): Promise<void> {
    const h = this.#host;
    if (this.#state === "hello") {
      if (f.type !== FrameType.Hello) throw new PeerRejected("garbage", "expected Hello");
      const hello = decodeHello(f.payload);
      const fault = helloFault(hello, h, this.#authenticated, this.#expected);
      if (fault !== undefined) throw new PeerRejected(fault[0], fault[1]);
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
        rewindStale(this.#sentAt, this.#remote, heads, h.clock.now(), h.tuning.syncIntervalMs);
        for (const [origin, head] of heads) this.#noteRemote(origin, head);
        for (const [origin, head] of mine) {
          if (head > (this.#remote.get(origin) ?? 0)) this.#targets.set(origin, head);
        }
        this.#synced = true;
        this.#refill();
        void this.#pump();
        return;
      }
      case FrameType.Ack: {
        for (const [origin, head] of decodeHeads(f.payload)) this.#noteRemote(origin, head);
        // an ack asks for more too (a digest would also re-aim relays of other origins)
        if (this.#synced) {
          const paused = this.#budget.spent;
          this.#refill();
          if (paused) void this.#pump();
        }
        return;
      }
      case FrameType.Entries: {
        const batch = decodeEntries(f.payload);
        if (!(await h.data.applyEntries(batch.origin, batch.entries, this.#peer))) return;
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
        const from = this.#peer;
        if (!(await h.data.applySnapshot(chunk.origin, chunk.through, chunk.entries, from))) return;
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
    const h = this.#host;
    // no peer holds more of our origin than we wrote, nor any origin beyond the plausible:
    // such a claim would fake quorum acks or stop that origin flowing to the peer
    const own = origin === h.origin;
    if (head > MAX_PLAUSIBLE_SEQ || (own && head > (h.data.heads().get(origin) ?? 0))) {
      h.stats.refusedInput["implausible-seq"]++;
      return;
    }
    // the cursor may already be ahead (entries sent, not yet acknowledged): acks go to the
    // quorum regardless
    if (own) h.quorum.ack(this.#peer, head);
    if (head > (this.#remote.get(origin) ?? 0)) this.#remote.set(origin, head);
    if (head > (this.#claimed.get(origin) ?? 0)) this.#claimed.set(origin, head);
  }

  /** The highest head of `origin` the peer itself reported; undefined when it never did. */
  claimed(origin: string): number | undefined {
    return this.#claimed.get(origin);
  }

  /** The next batch of `origin` holds only own appends made after the peer last asked. */
  #live(origin: string): boolean {
    return origin === this.#host.origin &&
      (this.#remote.get(origin) ?? 0) >= this.#budget.liveFrom;
  }

  #lags(origin: string): boolean {
    return (this.#host.data.heads().get(origin) ?? 0) > (this.#remote.get(origin) ?? 0);
  }

  /** The peer asked (digest or ack): a fresh reply budget; own appends from now on are live. */
  #refill(): void {
    const h = this.#host;
    this.#budget.refill(h.limits.maxReplyBytes, h.data.heads().get(h.origin) ?? 0);
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
        let origin = this.#pick();
        if (origin === undefined) break;
        if (this.#budget.spent && !this.#live(origin)) {
          // the peer's budget is spent: only own appends made since it asked still go out,
          // the rest (history, relays) waits for its next digest or ack
          origin = this.#live(this.#host.origin) ? this.#host.origin : undefined;
          if (origin === undefined || !this.#lags(origin)) {
            this.#host.stats.repliesPaused++;
            break;
          }
        }
        if (!(await this.#sendNext(origin))) break;
        if (this.#writer.pending >= WRITE_CHUNK) this.#writer.flush();
        while (this.#writer.backedUp && this.#state === "open") await this.#writer.drained();
      }
      this.#writer.flush();
    } catch {
      this.close();
    } finally {
      this.#pumping = false;
    }
  }

  /** Sends the next batch or snapshot chunk of `origin`; false when nothing could be sent. */
  async #sendNext(origin: string): Promise<boolean> {
    const h = this.#host;
    const { maxBatchEntries } = h.tuning;
    const have = this.#remote.get(origin) ?? 0;
    const live = this.#live(origin); // before the cursor moves
    // a charged frame fits what is left of the peer's budget (one entry at least)
    const maxBatchBytes = live ? h.tuning.maxBatchBytes : this.#budget.fit(h.tuning.maxBatchBytes);
    const floor = h.data.floors().get(origin) ?? 0;
    const list = await h.data.read(origin, have + 1, maxBatchEntries);
    if (this.#state !== "open" || (this.#remote.get(origin) ?? 0) !== have) return true;
    const { batch, bytes, full } = takeBatch(list, have, floor, maxBatchBytes);
    if (have < floor) {
      // a compacted range: holes are expected; it ends at the floor unless cut short
      const cut = full || (batch.length === list.length && list.length === maxBatchEntries);
      const through = cut && batch.length > 0 ? batch[batch.length - 1].seq : floor;
      this.#remote.set(origin, through);
      this.#sentAt.set(origin, h.clock.now());
      h.stats.snapshotsSent++;
      const size = this.#send(FrameType.Snapshot, encodeSnapshot(origin, through, batch), true);
      this.#budget.charge(size, live);
      return true;
    }
    if (batch.length === 0) return false; // the store lacks what its head promises: wait for a digest
    const last = batch[batch.length - 1].seq;
    this.#remote.set(origin, last);
    this.#sentAt.set(origin, h.clock.now());
    const ack = origin === h.origin && h.quorum.wanted > have;
    const size = this.#queue(h.frames.entries(origin, batch, ack, bytes, h.tuning.compress));
    this.#budget.charge(size, live);
    return true;
  }

  /** Queues a frame (frame_writer.ts batches the writes); returns its size. */
  #send(type: number, payload: Uint8Array, compressible = false): number {
    if (this.#state === "closed") return 0;
    return this.#queue(packFrame(type, payload, compressible && this.#host.tuning.compress));
  }

  /** Queues a packed frame; returns its size. */
  #queue(frame: Uint8Array): number {
    if (this.#state === "closed") return 0;
    this.#host.stats.framesOut++;
    this.#host.stats.bytesOut += frame.length;
    this.#writer.queue(frame, this.#pumping);
    return frame.length;
  }
}
