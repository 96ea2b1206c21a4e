/**
 * What a log keeps, and for how long: the shape of the memory budget (the presets give the
 * values), the plain-entry retention rule, and which origins are retired.
 *
 * The rules, in one place:
 * - a keyed entry is kept while it is its key's winner; a superseded write is dropped at the
 *   next compaction;
 * - an expired value stops being the winner at a sweep at most two checks after it expired
 *   (its change event is emitted then, once per node) and is dropped at the next compaction;
 * - a tombstone is kept for `tombstoneHorizonMs` after its timestamp (and at most 0.1 % of
 *   it, or a check, longer: the sweep takes them in buckets), then dropped; a keyed
 *   entry of an origin this replica already knew that arrives later than the horizon after
 *   its own timestamp (a member that was away that long) is neither stored nor applied (a
 *   hole, as compaction leaves), so it cannot bring a deleted key back; a replica that did
 *   not know the origin yet (a joiner) takes in all of it. A member away longer than the
 *   horizon comes back with an empty store (as Cassandra asks after `gc_grace`);
 * - plain (unkeyed) entries are kept per origin within `maxEntries`, `maxBytes` and
 *   `maxAgeMs`, oldest dropped first, like a NATS stream's limits;
 * - an origin that holds no entries is forgotten when it is retired (a newer run
 *   `name@<run>` of the same node exists) or silent for longer than the horizon; for a horizon
 *   plus a settle period after, the replica's digests still list it at the head it had, so
 *   that replicas which forget it later do not send it back (compaction.ts).
 *
 * Expiry is not a delete: an expired value leaves no tombstone, so an older write of its key
 * that arrives afterwards (from a member cut off since before it) becomes visible.
 *
 * @module
 */
import type { Entry } from "./entry.ts";

/**
 * Limits of plain (unkeyed) entries, per origin.
 *
 * @example
 * ```ts
 * const plain: PlainRetention = { maxEntries: 10_000, maxBytes: 8 << 20, maxAgeMs: 3_600_000 };
 * ```
 */
export interface PlainRetention {
  /** Most plain entries kept per origin. */
  readonly maxEntries: number;
  /** Most bytes of plain entries (values) kept per origin. */
  readonly maxBytes: number;
  /** Plain entries older than this (ms, by their timestamp) are dropped. */
  readonly maxAgeMs: number;
}

/**
 * When and how the log compacts itself, and what it keeps.
 *
 * @example
 * ```ts
 * const memory: MemoryTuning = {
 *   tombstoneHorizonMs: 86_400_000,
 *   plain: { maxEntries: 100_000, maxBytes: 32 << 20, maxAgeMs: 86_400_000 },
 *   checkIntervalMs: 1000, minGarbageBytes: 4 << 20, garbageRatio: 1, sliceMs: 2,
 * };
 * ```
 */
export interface MemoryTuning {
  /**
   * How long a tombstone is kept, and how late a keyed write may arrive and still be applied
   * (ms). Longer than a member may be away and rejoin with old state.
   */
  readonly tombstoneHorizonMs: number;
  /** Retention of plain entries per origin. */
  readonly plain: PlainRetention;
  /** Expiry sweep and compaction check every this many ms. */
  readonly checkIntervalMs: number;
  /** Compact once superseded bytes exceed this many bytes … */
  readonly minGarbageBytes: number;
  /** … and this multiple of the live bytes. */
  readonly garbageRatio: number;
  /** Longest stretch of compaction work before it yields to the event loop (ms). */
  readonly sliceMs: number;
}

const MiB = 1024 * 1024;

/**
 * The budget of a log given no tuning (an isolated log): the lan preset's values.
 *
 * @example
 * ```ts
 * const tuning = { ...presets.lan.log, memory: { ...DEFAULT_MEMORY_TUNING, sliceMs: 1 } };
 * ```
 */
export const DEFAULT_MEMORY_TUNING: MemoryTuning = Object.freeze({
  tombstoneHorizonMs: 24 * 3600_000,
  plain: Object.freeze({ maxEntries: 100_000, maxBytes: 32 * MiB, maxAgeMs: 24 * 3600_000 }),
  checkIntervalMs: 1000,
  minGarbageBytes: 4 * MiB,
  garbageRatio: 1,
  sliceMs: 2,
});

/**
 * An entry's V8 objects besides its payload: the entry, its timestamp, the Uint8Array and its
 * ArrayBuffer, a Map slot and an array slot.
 */
// (measured: ~20 MB of heap for ~25,000 held entries of the soak benchmark, 6 MB of it the
// idle runtime)
export const ENTRY_OVERHEAD = 320;

/** Bytes an entry is accounted for: payload, key and the objects around them (a heap estimate). */
export function entryBytes(e: Entry): number {
  return e.value.length + (e.key === undefined ? 0 : e.key.length * 2) + ENTRY_OVERHEAD;
}

/**
 * Plain-entry totals of one origin when a compaction starts.
 *
 * @example
 * ```ts
 * const u: PlainUsage = store.plainUsage?.("node-a") ?? { entries: 0, bytes: 0 };
 * ```
 */
export interface PlainUsage {
  /** Plain entries held. */
  readonly entries: number;
  /** Their value bytes. */
  readonly bytes: number;
}

/**
 * The retention decision of one origin's plain entries, fed in seq order: drops the oldest
 * until the count and byte limits hold, and every entry older than `maxAgeMs`.
 */
export class PlainCutter {
  #left: number;
  #leftBytes: number;
  #limits: PlainRetention;
  #oldest: number;

  /**
   * Creates an instance.
   * @param usage the origin's plain entries when the compaction started
   * @param limits the retention limits
   * @param now the current time (ms)
   */
  constructor(usage: PlainUsage, limits: PlainRetention, now: number) {
    this.#left = usage.entries;
    this.#leftBytes = usage.bytes;
    this.#limits = limits;
    this.#oldest = now - limits.maxAgeMs;
  }

  /** Whether the next plain entry (in seq order) is kept. */
  keep(e: Entry): boolean {
    const drop = this.#left > this.#limits.maxEntries ||
      this.#leftBytes > this.#limits.maxBytes || e.ts.wall < this.#oldest;
    this.#left--;
    this.#leftBytes -= e.value.length;
    return !drop;
  }
}

const RUN = /^(.+)@([0-9a-z]{1,12})$/;

/**
 * Origins superseded by a newer run of the same node: among origins `name@run` (the run in
 * base 36, as the cluster names a memory-store node's log), all but the newest per name.
 *
 * @example
 * ```ts
 * retiredRuns(["a@k1", "a@k2", "b"]); // Set { "a@k1" }
 * ```
 */
export function retiredRuns(origins: Iterable<string>): Set<string> {
  const newest = new Map<string, { origin: string; run: number }>();
  const retired = new Set<string>();
  for (const origin of origins) {
    const m = RUN.exec(origin);
    if (m === null) continue;
    const run = parseInt(m[2], 36);
    const cur = newest.get(m[1]);
    if (cur === undefined) newest.set(m[1], { origin, run });
    else if (run > cur.run) {
      retired.add(cur.origin);
      newest.set(m[1], { origin, run });
    } else retired.add(origin);
  }
  return retired;
}
