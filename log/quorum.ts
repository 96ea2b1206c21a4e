/**
 * Quorum acknowledgement of this node's own appends.
 *
 * The quorum is a majority of the voting membership: this node plus the voters it was given
 * (`setVoters`, member names: the cluster passes every member that has not left, alive or
 * not), or, for a log wired by hand that never calls `setVoters`, the peers of `setPeers`.
 * With v voters (this node included) an entry needs `max(floor(v / 2) + 1, minimum)`
 * holders, `minimum` being the operator's floor (`min_quorum`). Holders are counted per voter
 * name, so a member restarted under a fresh origin still holds one seat. A peer's
 * acknowledgement is the highest seq of our origin it reported holding (Ack frames and
 * digests) on its current connection: a closed connection forgets it (the peer may have
 * crashed and lost a memory store), and a new one reports afresh.
 *
 * @module
 */
import { ClusterError } from "../errors/mod.ts";
import type { Clock, TimerHandle } from "../transport/mod.ts";

/** A quorum append did not reach a majority in time (the entry stays appended locally). */
export class QuorumError extends ClusterError<"quorum"> {
  /** The entry's origin. */
  readonly origin: string;
  /** The entry's seq. */
  readonly seq: number;
  /** Holders when the wait ended (this node included). */
  readonly acks: number;
  /** Holders needed. */
  readonly needed: number;
  /** Size of the voting membership when the wait ended (this node included). */
  readonly voters: number;
  /**
   * Creates an instance.
   * @param origin the entry's origin
   * @param seq the entry's seq
   * @param acks holders reached
   * @param needed holders needed
   * @param why "timeout" or "closed"
   * @param voters voting members (this node included)
   */
  constructor(
    origin: string,
    seq: number,
    acks: number,
    needed: number,
    why: string,
    voters: number = needed,
  ) {
    super(
      "quorum",
      `quorum not reached for ${origin}/${seq}: held by ${acks}, ${needed} needed ` +
        `(${voters} voting members) (${why})`,
    );
    this.origin = origin;
    this.seq = seq;
    this.acks = acks;
    this.needed = needed;
    this.voters = voters;
  }
}

/**
 * Holders a quorum needs among `voters` voting members (this node included): a majority,
 * and at least `minimum` (the `min_quorum` floor, default 1).
 *
 * @example
 * ```ts
 * quorumNeeded(3); // 2
 * quorumNeeded(4); // 3
 * quorumNeeded(1, 2); // 2: a lone node of a cluster meant to hold 2 copies has no quorum
 * ```
 * @param voters voting members, this node included
 * @param minimum the floor (default 1)
 */
export function quorumNeeded(voters: number, minimum = 1): number {
  return Math.max(Math.floor(voters / 2) + 1, minimum);
}

/** Options of a {@link QuorumTracker}. */
export interface QuorumOptions {
  /** This node's name: dropped from the voters given (it always counts as a holder). */
  readonly self?: string;
  /** Floor of holders needed (`min_quorum`); default 1. */
  readonly minimum?: number;
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
 * const q = new QuorumTracker("a", systemClock, { self: "a" });
 * q.setVoters(["a", "b", "c"]); // members that have not left, alive or not
 * const done = q.wait(1, 1000);
 * q.ack("b", 1); // 2 of 3: resolved
 * await done;
 * ```
 */
export class QuorumTracker {
  #origin: string;
  #clock: Clock;
  #self: string | undefined;
  #minimum: number;
  #peers = new Set<string>();
  #voters: Set<string> | undefined;
  #acked = new Map<string, number>();
  #waiters: Waiter[] = [];
  #wanted = 0;

  /**
   * Creates an instance.
   * @param origin this node's own log (for error messages)
   * @param clock timers for the deadlines
   * @param options this node's name and the floor
   */
  constructor(origin: string, clock: Clock, options: QuorumOptions = {}) {
    this.#origin = origin;
    this.#clock = clock;
    this.#self = options.self;
    this.#minimum = options.minimum ?? 1;
  }

  /** Voting members other than this node. */
  get #members(): Set<string> {
    return this.#voters ?? this.#peers;
  }

  /** Size of the voting membership, this node included. */
  get voters(): number {
    return this.#members.size + 1;
  }

  /** Holders needed for a quorum. */
  get needed(): number {
    return quorumNeeded(this.voters, this.#minimum);
  }

  /** Highest seq a quorum append waits (or waited) for: frames up to it ask for acks. */
  get wanted(): number {
    return this.#wanted;
  }

  /**
   * The replication peers (names, without this node). They are the voters only until
   * {@link setVoters} is called.
   */
  setPeers(names: Iterable<string>): void {
    this.#peers = new Set(names);
    this.#settle();
  }

  /** Replaces the voting membership (member names; this node's own name is ignored). */
  setVoters(names: Iterable<string>): void {
    const voters = new Set(names);
    if (this.#self !== undefined) voters.delete(this.#self);
    this.#voters = voters;
    this.#settle();
  }

  /** Notes that `peer` holds our log through `seq`. */
  ack(peer: string, seq: number): void {
    if (seq <= (this.#acked.get(peer) ?? 0)) return;
    this.#acked.set(peer, seq);
    this.#settle();
  }

  /** Forgets what `peer` acknowledged (its connection ended or restarted: it reports afresh). */
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
        reject(this.#error(seq, "timeout"));
      }, timeoutMs);
      this.#waiters.push(w);
      // appends are stored in seq order, so waiters almost always arrive sorted
      const n = this.#waiters.length;
      if (n > 1 && this.#waiters[n - 2].seq > seq) this.#waiters.sort((a, b) => a.seq - b.seq);
    });
  }

  #error(seq: number, why: string): QuorumError {
    return new QuorumError(this.#origin, seq, this.holders(seq), this.needed, why, this.voters);
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
      w.reject(this.#error(w.seq, "closed"));
    }
  }
}
