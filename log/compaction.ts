/**
 * Automatic compaction: every replica, on its own, sweeps expired values and old tombstones
 * out of the cache, compacts the store when superseded bytes pass the budget, applies the
 * plain-entry retention, and forgets empty retired origins (the rules are in retention.ts).
 *
 * All work runs in slices of at most `sliceMs` (checked every few hundred entries), each one
 * a task of the log's serial chain, with a timer turn between slices so that sockets and
 * timers are served. Every slice's duration is measured (`stats().compaction`).
 *
 * @module
 */
import process from "node:process";
import type { Clock, TimerHandle } from "../transport/mod.ts";
import type { LwwState } from "./cache.ts";
import type { Entry } from "./entry.ts";
import { type MemoryTuning, PlainCutter, type PlainUsage, retiredRuns } from "./retention.ts";
import type { CompactionStats, MemoryStats } from "./stats.ts";

export { type CompactionStats, createCompactionStats } from "./stats.ts";
import type { CompactionJob, CompactionResult, LogStore } from "./store.ts";

/** What the compactor needs from its log. */
export interface CompactorHost {
  /** The store. */
  readonly store: LogStore;
  /** The cache's winners. */
  readonly state: LwwState;
  /** This node's own origin (never forgotten). */
  readonly origin: string;
  /** Timers and the time. */
  readonly clock: Clock;
  /** Counters to bump. */
  readonly stats: CompactionStats;
  /** Runs `fn` as a task of the log's serial chain. */
  serial<T>(fn: () => Promise<T>): Promise<T>;
}

const STEP = 256;
// below the budget, a compaction still runs this many check intervals after the last one
const SETTLE_CHECKS = 60;
// members forgotten for silence remembered by name (their late writes are refused): the newest
const MAX_SILENT_FORGOTTEN = 10_000;

/** The gauges of `stats().memory`. */
export function memoryStats(store: LogStore, state: LwwState): MemoryStats {
  const u = store.usage?.();
  const m: MemoryStats = {
    liveKeys: state.size - state.tombstones,
    tombstones: state.tombstones,
    heldEntries: u?.entries ?? 0,
    heldBytes: u?.bytes ?? 0,
    liveBytes: state.liveBytes,
    plainEntries: u?.plainEntries ?? 0,
    origins: store.heads().size,
  };
  if (u?.diskBytes !== undefined) m.diskBytes = u.diskBytes;
  return m;
}

/**
 * Runs the automatic compaction of one log.
 *
 * @example
 * ```ts
 * const c = new Compactor(host, DEFAULT_MEMORY_TUNING);
 * c.start();
 * await c.close();
 * ```
 */
export class Compactor {
  #host: CompactorHost;
  #tuning: MemoryTuning;
  #timer: TimerHandle = undefined;
  #running: Promise<unknown> = Promise.resolve();
  #closed = false;
  #wake: (() => void) | undefined;
  #lastRun: number;
  // newest timestamp seen per origin: an empty origin silent past the horizon is forgotten
  #lastSeen = new Map<string, number>();
  // members forgotten for silence (not retired runs): their late writes are still refused
  #forgotten = new Set<string>();
  // origins forgotten lately → the head they had: announced in digests, so that peers which
  // have not forgotten them yet do not offer them back (each replica forgets at its own time),
  // and taken as held, so that only a later entry brings such an origin back
  #recent = new Map<string, { through: number; until: number }>();

  /**
   * Creates an instance.
   * @param host the log's parts
   * @param tuning budgets and horizon
   */
  constructor(host: CompactorHost, tuning: MemoryTuning) {
    this.#host = host;
    this.#tuning = tuning;
    this.#lastRun = host.clock.now();
  }

  /** The tombstone horizon (ms). */
  get horizonMs(): number {
    return this.#tuning.tombstoneHorizonMs;
  }

  /** Starts the periodic check. */
  start(): void {
    if (this.#closed || this.#timer !== undefined) return;
    this.#timer = this.#host.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#running.then(() => this.#cycle()).catch(() => {})
        .finally(() => this.start());
    }, this.#tuning.checkIntervalMs);
  }

  /**
   * The entries of a batch new to this replica that may be stored and applied: all of them
   * when this replica did not know the origin yet (`headBefore` 0: a joiner takes in the whole
   * history); otherwise not the keyed entries older than the horizon, late writes of a member
   * that was away that long, which could bring back a key whose tombstone is already gone.
   */
  admit(origin: string, headBefore: number, entries: Entry[]): Entry[] {
    for (const e of entries) this.noteOrigin(e);
    if (headBefore === 0 && !this.#forgotten.has(origin)) return entries;
    const oldest = this.#host.clock.now() - this.#tuning.tombstoneHorizonMs;
    if (entries.every((e) => e.key === undefined || e.ts.wall >= oldest)) return entries;
    const kept = entries.filter((e) => e.key === undefined || e.ts.wall >= oldest);
    this.#host.stats.staleRefused += entries.length - kept.length;
    return kept;
  }

  /**
   * The head `origin` had when this replica forgot it lately (0 when it did not): what the
   * replica counts as held of an origin it no longer stores.
   */
  forgottenThrough(origin: string): number {
    return this.#recent.get(origin)?.through ?? 0;
  }

  /** A forgotten origin is held again (a later entry or snapshot of it arrived). */
  revived(origin: string): void {
    this.#recent.delete(origin);
  }

  /**
   * What digests say this replica holds: the store's heads, plus the origins forgotten lately
   * at the head they had (so peers stop offering them).
   */
  announced(heads: ReadonlyMap<string, number>): ReadonlyMap<string, number> {
    if (this.#recent.size === 0) return heads;
    const all = new Map(heads);
    for (const [origin, r] of this.#recent) if (!all.has(origin)) all.set(origin, r.through);
    return all;
  }

  /** Notes an entry of an origin (its newest timestamp). */
  noteOrigin(e: Entry): void {
    const cur = this.#lastSeen.get(e.origin);
    if (cur === undefined || e.ts.wall > cur) this.#lastSeen.set(e.origin, e.ts.wall);
  }

  /**
   * Runs a whole compaction now with `keep` (the manual `compact()`), after any automatic
   * one in progress.
   */
  async compactNow(keep: (e: Entry) => boolean): Promise<CompactionResult> {
    const run = this.#running.then(() =>
      this.#host.serial(async () => {
        const store = this.#host.store;
        const r = await store.compact(new Map(store.heads()), keep);
        this.#host.stats.runs++;
        this.#host.stats.removed += r.removed;
        return r;
      })
    );
    this.#running = run.catch(() => {});
    return await run;
  }

  /** One check: sweep, compact when over budget, forget empty retired origins. */
  async #cycle(): Promise<void> {
    await this.#sweep();
    if (this.#closed) return;
    const store = this.#host.store;
    if (this.#due()) {
      this.#lastRun = this.#host.clock.now();
      const heads = new Map(store.heads());
      const keep = this.#keeper(heads);
      if (store.startCompaction === undefined) {
        await this.#host.serial(async () => {
          const r = await store.compact(heads, keep);
          this.#host.stats.removed += r.removed;
        });
      } else {
        let job: CompactionJob | undefined;
        await this.#sliced((n) => {
          job ??= (store.startCompaction as NonNullable<LogStore["startCompaction"]>)(heads, keep);
          return job.step(n);
        });
        this.#host.stats.removed += job?.removed ?? 0;
      }
      this.#host.stats.runs++;
    }
    if (!this.#closed) await this.#host.serial(() => this.#forgetOrigins());
  }

  /** Removes expired values and tombstones past the horizon from the cache, in slices. */
  async #sweep(): Promise<void> {
    const { state, clock, stats } = this.#host;
    const horizon = this.#tuning.tombstoneHorizonMs;
    const due: Entry[] = [];
    await this.#sliced((n) => {
      const now = clock.now();
      due.length = 0;
      const taken = state.takeDue(now, now - horizon, n, due);
      for (const e of due) {
        if (!state.remove(e)) continue;
        if (e.tombstone) stats.tombstonesDropped++;
        else stats.expired++;
      }
      return taken < n;
    });
    stats.sweeps++;
  }

  /** Whether the store is over its budget (superseded bytes, or plain-entry limits). */
  #due(): boolean {
    const { store, state } = this.#host;
    const usage = store.usage?.();
    if (usage === undefined) {
      return this.#host.clock.now() - this.#lastRun >= SETTLE_CHECKS * this.#tuning.checkIntervalMs;
    }
    const live = state.liveBytes + usage.plainBytes;
    const garbage = usage.bytes - live;
    if (garbage > this.#tuning.minGarbageBytes && garbage > this.#tuning.garbageRatio * live) {
      return true;
    }
    // below the budget, what expired or was superseded still leaves within a bounded time
    const since = this.#host.clock.now() - this.#lastRun;
    if (garbage > 0 && since >= SETTLE_CHECKS * this.#tuning.checkIntervalMs) return true;
    if (usage.plainEntries === 0) return false;
    const { plain } = this.#tuning;
    for (const origin of store.heads().keys()) {
      const u = store.plainUsage?.(origin);
      if (u !== undefined && (u.entries > plain.maxEntries || u.bytes > plain.maxBytes)) {
        return true;
      }
    }
    // age: look again every eighth of the maximum age
    const ageCheck = Math.max(this.#tuning.checkIntervalMs, plain.maxAgeMs / 8);
    return this.#host.clock.now() - this.#lastRun >= ageCheck;
  }

  /** What survives: keyed winners, and plain entries within the retention limits. */
  #keeper(heads: ReadonlyMap<string, number>): (e: Entry) => boolean {
    const { store, state, clock } = this.#host;
    const usage = new Map<string, PlainUsage>();
    for (const origin of heads.keys()) {
      usage.set(origin, store.plainUsage?.(origin) ?? { entries: 0, bytes: 0 });
    }
    const now = clock.now();
    let origin = "";
    let cutter: PlainCutter | undefined;
    return (e: Entry): boolean => {
      if (e.key !== undefined) return state.isWinner(e);
      if (e.origin !== origin || cutter === undefined) {
        origin = e.origin;
        cutter = new PlainCutter(
          usage.get(origin) ?? { entries: 0, bytes: 0 },
          this.#tuning.plain,
          now,
        );
      }
      return cutter.keep(e);
    };
  }

  /**
   * Forgets origins that hold nothing and are retired or silent past the horizon. A forgotten
   * origin is announced at its head for a horizon plus a settle period: longer than the spread
   * of the times at which the replicas forget it (the same rule, applied at each one's own
   * compaction times), so that none of them learns it back from another.
   */
  async #forgetOrigins(): Promise<void> {
    const { store, clock, stats } = this.#host;
    if (store.dropOrigin === undefined) return;
    const now = clock.now();
    for (const [origin, r] of this.#recent) if (r.until <= now) this.#recent.delete(origin);
    const announce = this.#tuning.tombstoneHorizonMs + SETTLE_CHECKS * this.#tuning.checkIntervalMs;
    const heads = [...store.heads().keys()];
    const retired = retiredRuns(heads);
    for (const origin of heads) {
      if (origin === this.#host.origin) continue;
      let seen = this.#lastSeen.get(origin);
      if (seen === undefined) this.#lastSeen.set(origin, seen = now);
      if (!retired.has(origin) && seen + this.#tuning.tombstoneHorizonMs >= now) continue;
      if ((await store.read(origin, 1, 1)).length > 0) continue;
      const through = store.heads().get(origin) ?? 0;
      store.dropOrigin(origin);
      this.#recent.set(origin, { through, until: now + announce });
      if (!retired.has(origin)) this.#remember(origin);
      this.#lastSeen.delete(origin);
      stats.originsDropped++;
    }
  }

  /** Remembers a member forgotten for silence; the oldest names go past the limit. */
  #remember(origin: string): void {
    this.#forgotten.delete(origin);
    this.#forgotten.add(origin);
    if (this.#forgotten.size > MAX_SILENT_FORGOTTEN) {
      this.#forgotten.delete(this.#forgotten.values().next().value as string);
    }
  }

  /** Runs `work` in slices of the serial chain until it reports done. */
  async #sliced(work: (n: number) => boolean): Promise<void> {
    const { clock, stats } = this.#host;
    const budget = this.#tuning.sliceMs;
    for (;;) {
      if (this.#closed) return;
      const done = await this.#host.serial(() => {
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        let d = false;
        do d = work(STEP); while (!d && performance.now() - t0 < budget);
        const ms = performance.now() - t0;
        const c = process.cpuUsage(cpu0);
        // waiting for a core lengthens the wall clock, other threads (GC helpers) the CPU time
        const cpuMs = Math.min(ms, (c.user + c.system) / 1000);
        stats.slices++;
        stats.busyMs += ms;
        if (ms > stats.pauseMaxMs) stats.pauseMaxMs = ms;
        if (ms > 10) stats.slicesOver10ms++;
        if (cpuMs > stats.pauseMaxCpuMs) stats.pauseMaxCpuMs = cpuMs;
        if (cpuMs > 10) stats.slicesOver10msOnCpu++;
        return Promise.resolve(d);
      });
      if (done) return;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        clock.setTimeout(resolve, 0);
      });
      this.#wake = undefined;
    }
  }

  /** Stops the checks; waits for a cycle in progress to end. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#host.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#wake?.();
    await this.#running;
  }
}

/** Replays a store into `visit`, origin by origin, in seq order. */
export async function replayStore(
  store: LogStore,
  compactor: Compactor,
  visit: (e: Entry) => void,
): Promise<void> {
  for (const origin of [...store.heads().keys()]) {
    for (let from = 1;;) {
      const page = await store.read(origin, from, 1024);
      if (page.length === 0) break;
      for (const e of page) {
        compactor.noteOrigin(e);
        visit(e);
      }
      from = page[page.length - 1].seq + 1;
    }
  }
}
