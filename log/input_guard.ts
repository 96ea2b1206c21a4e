/**
 * Checks on what peers send, so that no input, from a key holder or not, can wedge a node:
 *
 * - this node's own origin is written only by this node: entries and snapshots of it from a
 *   peer are refused;
 * - an entry whose (origin, seq) is already held with other content is refused (the first
 *   content held stays), counted and reported, so a forged copy never shadows silently;
 * - seqs and snapshot bounds beyond plausible ranges are refused (a `through` of 2^53-1 would
 *   otherwise end every later append of that origin);
 * - entries timestamped further ahead of local time than the maximum clock offset are not
 *   applied: they wait, and anti-entropy offers them again once local time has caught up.
 *
 * Each refusal bumps `stats.refusedInput[reason]`; reports go to the log's `onError` at most
 * once per peer and reason every {@link REPORT_EVERY_MS}.
 *
 * @module
 */
import { ClusterError } from "../errors/mod.ts";
import type { Clock } from "../transport/mod.ts";
import type { Entry } from "./entry.ts";
import type { HybridClock } from "./hlc.ts";
import type { InputRefusal, LogStats } from "./stats.ts";
import type { LogStore } from "./store.ts";
import { type LogLimits, MAX_PLAUSIBLE_SEQ } from "./tuning.ts";

/** Reports about one peer and reason go out at most this often (ms). */
export const REPORT_EVERY_MS = 10_000;

/**
 * Input a peer sent that was refused (the connection stays).
 *
 * @example
 * ```ts
 * log; // ReplicatedLog.create({ ..., onError: (err) => {
 * //   if (err instanceof RefusedInputError) console.warn(err.peer, err.code, err.offsetMs);
 * // } })
 * ```
 */
export class RefusedInputError extends ClusterError<InputRefusal> {
  /** The peer that sent it. */
  readonly peer: string;
  /** The origin of the refused entries. */
  readonly origin: string;
  /** "future-timestamp": how far (ms) the timestamp was ahead of local time. */
  readonly offsetMs: number | undefined;
  /**
   * Creates an instance.
   * @param peer the sender
   * @param reason why it was refused (the error's `code`)
   * @param origin the origin concerned
   * @param message details
   * @param offsetMs clock offset, for "future-timestamp"
   */
  constructor(
    peer: string,
    reason: InputRefusal,
    origin: string,
    message: string,
    offsetMs?: number,
  ) {
    super(reason, message);
    this.peer = peer;
    this.origin = origin;
    this.offsetMs = offsetMs;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether two entries of the same (origin, seq) carry the same content. */
export function sameEntry(a: Entry, b: Entry): boolean {
  return a.ts.wall === b.ts.wall && a.ts.logical === b.ts.logical &&
    a.tombstone === b.tombstone && a.key === b.key && a.ttl === b.ttl &&
    sameBytes(a.value, b.value);
}

/** What the guard needs from its log. */
export interface InputGuardOptions {
  /** This node's own origin. */
  readonly origin: string;
  /** Counters. */
  readonly stats: LogStats;
  /** The limits (max clock offset, max seq jump). */
  readonly limits: LogLimits;
  /** The hybrid clock (its maximum offset decides what is too far ahead). */
  readonly hlc: HybridClock;
  /** Time of the reports' throttle. */
  readonly clock: Clock;
  /** Where reports go. */
  readonly report: (err: RefusedInputError) => void;
}

/** The checks of one log (see the module comment). */
export class InputGuard {
  /**
   * What the connected owner of `origin` (other than `from`) reported holding of it; the
   * replicator's `ownerHolds` once the log replicates.
   */
  owners: (origin: string, from: string) => number | undefined = () => undefined;
  #o: InputGuardOptions;
  #lastReport = new Map<string, number>();

  /**
   * Creates an instance.
   * @param options origin, counters, limits, clock and report sink
   */
  constructor(options: InputGuardOptions) {
    this.#o = options;
  }

  #refuse(err: RefusedInputError, count: number): void {
    this.#o.stats.refusedInput[err.code] += count;
    const key = `${err.peer}\u0000${err.code}`;
    const now = this.#o.clock.now();
    const last = this.#lastReport.get(key);
    if (last !== undefined && now - last < REPORT_EVERY_MS) return;
    this.#lastReport.set(key, now);
    if (this.#lastReport.size > 1024) this.#lastReport.clear(); // bounded: names are peer-chosen
    try {
      this.#o.report(err);
    } catch {
      // the sink's failure is its own business
    }
  }

  /** True (refused and counted) when `origin` is this node's own. */
  ownOrigin(peer: string, origin: string, count: number): boolean {
    if (origin !== this.#o.origin) return false;
    this.#refuse(
      new RefusedInputError(
        peer,
        "own-origin",
        origin,
        `peer ${peer} sent ${count} entries of this node's own origin ${origin}: refused (only this node writes it)`,
      ),
      count,
    );
    return true;
  }

  /**
   * While an origin's owner is connected, nobody else may run ahead of it under its name: the
   * items above what the owner reported are cut (counted "relay-ahead"; they wait, the owner
   * delivers its own).
   */
  relayCut<T extends { readonly seq: number }>(from: string, origin: string, items: T[]): T[] {
    const ceiling = this.owners(origin, from);
    const over = ceiling === undefined ? -1 : items.findIndex((e) => e.seq > ceiling);
    if (over < 0) return items;
    this.#o.stats.refusedInput["relay-ahead"] += items.length - over;
    return items.slice(0, over);
  }

  /**
   * True when a peer's claim that `origin` reaches `seq` is plausible: at most the highest seq
   * any peer may name, at most `maxSeqAhead` beyond `held`, and for our own origin never
   * beyond what we wrote. Refusals are counted.
   */
  plausible(peer: string, origin: string, seq: number, held: number): boolean {
    const own = origin === this.#o.origin;
    if (
      seq <= held || (!own && seq <= MAX_PLAUSIBLE_SEQ && seq - held <= this.#o.limits.maxSeqAhead)
    ) {
      return true;
    }
    this.#refuse(
      new RefusedInputError(
        peer,
        "implausible-seq",
        origin,
        `peer ${peer} named seq ${seq} of ${origin} while this node holds ${held}: refused`,
      ),
      1,
    );
    return false;
  }

  /**
   * Index of the first entry timestamped too far ahead of local time (`entries.length` when
   * none is); the entries from there on are counted and wait.
   */
  futureCut(peer: string, origin: string, entries: readonly Entry[]): number {
    const hlc = this.#o.hlc;
    for (let i = 0; i < entries.length; i++) {
      const excess = hlc.excess(entries[i].ts);
      if (excess === 0) continue;
      const offset = excess + this.#o.limits.maxClockOffsetMs;
      this.#refuse(
        new RefusedInputError(
          peer,
          "future-timestamp",
          origin,
          `peer ${peer} sent entries of ${origin} timestamped ${offset} ms ahead of local time ` +
            `(max offset ${this.#o.limits.maxClockOffsetMs} ms): they wait until local time catches up`,
          offset,
        ),
        entries.length - i,
      );
      return i;
    }
    return entries.length;
  }

  /**
   * Received entries already held (seq at or below the head) must equal the stored ones: a
   * copy with other content is refused and counted; the stored one stays.
   */
  async checkHeld(peer: string, store: LogStore, dups: readonly Entry[]): Promise<void> {
    if (dups.length === 0) return;
    const origin = dups[0].origin;
    const floor = store.floors().get(origin) ?? 0;
    const above = dups.filter((e) => e.seq > floor); // below the floor compaction removed some
    if (above.length === 0) return;
    const first = above[0].seq;
    this.conflicts(peer, above, await store.read(origin, first, above.at(-1)!.seq - first + 1));
  }

  /**
   * Compares received entries already held (same seqs) with the stored ones; counts and
   * reports those whose content differs. The stored content stays.
   */
  conflicts(peer: string, received: readonly Entry[], stored: readonly Entry[]): number {
    const bySeq = new Map<number, Entry>();
    for (const e of stored) bySeq.set(e.seq, e);
    let n = 0;
    let first: Entry | undefined;
    for (const e of received) {
      const held = bySeq.get(e.seq);
      if (held !== undefined && !sameEntry(held, e)) {
        n++;
        first ??= e;
      }
    }
    if (first !== undefined) {
      this.#refuse(
        new RefusedInputError(
          peer,
          "conflict",
          first.origin,
          `peer ${peer} sent ${n} entries of ${first.origin} (first seq ${first.seq}) that differ ` +
            `from the ones held: refused, the held ones stay`,
        ),
        n,
      );
    }
    return n;
  }
}
