/**
 * Quorum acknowledgement of this node's own appends.
 *
 * The quorum is a majority of the members the replicator was told about through `setPeers`
 * plus this node: with n peers, `floor((n + 1) / 2) + 1` holders of an entry (this node
 * counting as one). A peer's acknowledgement is the highest seq of our origin it reported
 * holding (Ack frames and digests); acknowledgements survive disconnects, since the peer
 * still holds what it acknowledged.
 *
 * @module
 */
import type { Clock, TimerHandle } from "../transport/mod.ts";

/** A quorum append did not reach a majority in time (the entry stays appended locally). */
export class QuorumError extends Error {
  /** The entry's origin. */
  readonly origin: string;
  /** The entry's seq. */
  readonly seq: number;
  /** Holders when the wait ended (this node included). */
  readonly acks: number;
  /** Holders needed. */
  readonly needed: number;
  /**
   * Creates an instance.
   * @param origin the entry's origin
   * @param seq the entry's seq
   * @param acks holders reached
   * @param needed holders needed
   * @param why "timeout" or "closed"
   */
  constructor(origin: string, seq: number, acks: number, needed: number, why: string) {
    super(`quorum not reached for ${origin}/${seq}: ${acks} of ${needed} (${why})`);
    this.name = "QuorumError";
    this.origin = origin;
    this.seq = seq;
    this.acks = acks;
    this.needed = needed;
  }
}

interface Waiter {
  seq: number;
  resolve: () => void;
  reject: (err: QuorumError) => void;
  timer: TimerHandle;
}

/**
 * Tracks which peers hold our entries and resolves quorum waits.
 *
 * @example
 * ```ts
 * import { systemClock } from "../transport/clock.ts";
 * const q = new QuorumTracker("a", systemClock);
 * q.setMembers(["b", "c"]);
 * const done = q.wait(1, 1000);
 * q.ack("b", 1); // 2 of 3: resolved
 * await done;
 * ```
 */
export class QuorumTracker {
  #origin: string;
  #clock: Clock;
  #members = new Set<string>();
  #acked = new Map<string, number>();
  #waiters: Waiter[] = [];
  #wanted = 0;

  /**
   * Creates an instance.
   * @param origin this node's own log (for error messages)
   * @param clock timers for the deadlines
   */
  constructor(origin: string, clock: Clock) {
    this.#origin = origin;
    this.#clock = clock;
  }

  /** Holders needed for a quorum. */
  get needed(): number {
    return Math.floor((this.#members.size + 1) / 2) + 1;
  }

  /** Highest seq a quorum append waits (or waited) for: frames up to it ask for acks. */
  get wanted(): number {
    return this.#wanted;
  }

  /** Replaces the member set (peer names, without this node). */
  setMembers(names: Iterable<string>): void {
    this.#members = new Set(names);
    this.#settle();
  }

  /** Notes that `peer` holds our log through `seq`. */
  ack(peer: string, seq: number): void {
    if (seq <= (this.#acked.get(peer) ?? 0)) return;
    this.#acked.set(peer, seq);
    this.#settle();
  }

  /** Forgets what `peer` acknowledged (a new connection reports afresh: it may have restarted). */
  reset(peer: string): void {
    this.#acked.delete(peer);
  }

  /** Holders of `seq` among members, this node included. */
  holders(seq: number): number {
    let n = 1;
    for (const m of this.#members) if ((this.#acked.get(m) ?? 0) >= seq) n++;
    return n;
  }

  /** Announces a quorum append before it is sent, so its frames ask for acks. */
  expect(seq: number): void {
    if (seq > this.#wanted) this.#wanted = seq;
  }

  /** Resolves when a majority holds `seq`; rejects with {@link QuorumError} after `timeoutMs`. */
  wait(seq: number, timeoutMs: number): Promise<void> {
    this.expect(seq);
    if (this.holders(seq) >= this.needed) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { seq, resolve, reject, timer: undefined };
      w.timer = this.#clock.setTimeout(() => {
        const i = this.#waiters.indexOf(w);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(new QuorumError(this.#origin, seq, this.holders(seq), this.needed, "timeout"));
      }, timeoutMs);
      this.#waiters.push(w);
      // appends are stored in seq order, so waiters almost always arrive sorted
      const n = this.#waiters.length;
      if (n > 1 && this.#waiters[n - 2].seq > seq) this.#waiters.sort((a, b) => a.seq - b.seq);
    });
  }

  #settle(): void {
    const needed = this.needed;
    let done = 0;
    // holders(seq) only shrinks as seq grows: resolve the satisfied prefix
    while (done < this.#waiters.length && this.holders(this.#waiters[done].seq) >= needed) {
      const w = this.#waiters[done++];
      this.#clock.clearTimeout(w.timer);
      w.resolve();
    }
    if (done > 0) this.#waiters.splice(0, done);
  }

  /** Rejects every pending wait (log closing). */
  close(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      this.#clock.clearTimeout(w.timer);
      w.reject(new QuorumError(this.#origin, w.seq, this.holders(w.seq), this.needed, "closed"));
    }
  }
}
