/**
 * The storage SPI of the replicated log, and the in-memory default.
 *
 * A store holds one log per origin. Entries of an origin arrive in seq order without gaps
 * (`append`), except through a snapshot (`installSnapshot`), which jumps the head forward and
 * moves the origin's compaction point ("floor") with it. Below the floor an origin's log may
 * have holes (compaction removed superseded entries); above it, it never does.
 *
 * @module
 */
import { ClusterError } from "../errors/mod.ts";
import { type Entry, validateEntry } from "./entry.ts";
import { entryBytes, type PlainUsage } from "./retention.ts";

/** What a compaction did. */
export interface CompactionResult {
  /** Entries removed. */
  readonly removed: number;
  /** Entries kept (all origins, after compaction). */
  readonly kept: number;
}

/**
 * What a store holds (part of the log's `stats().memory`).
 *
 * @example
 * ```ts
 * const u = new MemoryLogStore().usage(); // { origins: 0, entries: 0, bytes: 0, ... }
 * ```
 */
export interface StoreUsage {
  /** Origins with a log here. */
  readonly origins: number;
  /** Entries held. */
  readonly entries: number;
  /** Bytes held (payload, key and a fixed per-entry overhead; an estimate of the heap). */
  readonly bytes: number;
  /** Plain (unkeyed) entries held. */
  readonly plainEntries: number;
  /** Bytes of the plain entries (accounted as `bytes`). */
  readonly plainBytes: number;
  /** Bytes of segment files on disk (file stores only). */
  readonly diskBytes?: number;
}

/**
 * A compaction in progress, run a slice at a time so that no pause is long. Reads, appends
 * and snapshots may happen between steps.
 *
 * @example
 * ```ts
 * const job = store.startCompaction(new Map(store.heads()), (e) => e.key !== undefined);
 * while (!job.step(256)) await new Promise((r) => setTimeout(r, 0));
 * ```
 */
export interface CompactionJob {
  /** Examines about `entries` more entries; true when the compaction is complete. */
  step(entries: number): boolean;
  /** Entries removed so far. */
  readonly removed: number;
}

/**
 * Storage of every origin's log. Implementations need not be thread-safe: the log calls one
 * mutating method at a time and awaits it.
 *
 * @example
 * ```ts
 * const store: LogStore = new MemoryLogStore();
 * await store.append([{ origin: "a", seq: 1, ts: { wall: 1, logical: 0 }, value: new Uint8Array(), tombstone: false }]);
 * store.heads().get("a"); // 1
 * ```
 */
export interface LogStore {
  /**
   * Appends entries; each must carry seq = its origin's head + 1 (after the entries before
   * it in the same call). Throws {@link StoreError} otherwise, storing nothing.
   */
  append(entries: readonly Entry[]): Promise<void>;
  /**
   * Installs a compacted range of `origin`: `entries` ascending, all above the current head
   * and at most `through`. Afterwards head = floor = `through` (when `through` is higher).
   */
  installSnapshot(origin: string, through: number, entries: readonly Entry[]): Promise<void>;
  /** Up to `limit` entries of `origin` with seq ≥ `fromSeq`, ascending. */
  read(origin: string, fromSeq: number, limit: number): Promise<Entry[]>;
  /** origin → highest seq held. Read-only; may be a live view. */
  heads(): ReadonlyMap<string, number>;
  /** origin → compaction point (0 when never compacted). Read-only; may be a live view. */
  floors(): ReadonlyMap<string, number>;
  /**
   * Compacts every origin up to `upTo` (origin → seq): entries at or below it survive only
   * when `keep` says so; the floor moves to `upTo`. Entries above it are untouched.
   */
  compact(
    upTo: ReadonlyMap<string, number>,
    keep: (entry: Entry) => boolean,
  ): Promise<CompactionResult>;
  /**
   * Optional, for automatic compaction: starts a compaction like {@link compact}, to be run
   * in steps. `keep` sees each origin's entries in seq order, one origin after another.
   */
  startCompaction?(
    upTo: ReadonlyMap<string, number>,
    keep: (entry: Entry) => boolean,
  ): CompactionJob;
  /** Optional: what the store holds. */
  usage?(): StoreUsage;
  /** Optional: plain entries of one origin (retention). */
  plainUsage?(origin: string): PlainUsage;
  /** Optional: forgets an origin altogether (head, floor, entries). */
  dropOrigin?(origin: string): void;
  /** Releases files and timers; idempotent. */
  close(): Promise<void>;
}

/** A store operation that breaks the log's invariants (gap, duplicate, closed store). */
export class StoreError extends ClusterError<"store"> {
  /**
   * Creates an instance.
   * @param message what went wrong
   */
  constructor(message: string) {
    super("store", message);
  }
}

interface OriginLog {
  entries: Entry[];
  head: number;
  floor: number;
  plainEntries: number;
  plainBytes: number;
}

/** Index of the first entry with seq ≥ `seq`. */
function lowerBound(entries: readonly Entry[], seq: number): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entries[mid].seq < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Keeps every origin's log in memory. The default store: fast, and lost on restart (the
 * other replicas still hold everything this node replicated to them).
 *
 * @example
 * ```ts
 * const store = new MemoryLogStore();
 * const entries = await store.read("node-a", 1, 100);
 * ```
 */
export class MemoryLogStore implements LogStore {
  #logs = new Map<string, OriginLog>();
  #heads = new Map<string, number>();
  #floors = new Map<string, number>();
  #closed = false;
  #entries = 0;
  #bytes = 0;
  #plain = 0;
  #plainBytes = 0;

  #log(origin: string): OriginLog {
    let log = this.#logs.get(origin);
    if (log === undefined) {
      log = { entries: [], head: 0, floor: 0, plainEntries: 0, plainBytes: 0 };
      this.#logs.set(origin, log);
      this.#heads.set(origin, 0);
      this.#floors.set(origin, 0);
    }
    return log;
  }

  #open(): void {
    if (this.#closed) throw new StoreError("store is closed");
  }

  /** Throws {@link StoreError} if `append(entries)` would break an invariant; changes nothing. */
  checkAppend(entries: readonly Entry[]): void {
    this.#open();
    const next = new Map<string, number>();
    for (const e of entries) {
      try {
        validateEntry(e);
      } catch (err) {
        throw new StoreError(`invalid entry: ${(err as Error).message}`);
      }
      const head = next.get(e.origin) ?? this.#heads.get(e.origin) ?? 0;
      if (e.seq !== head + 1) {
        throw new StoreError(`${e.origin}: expected seq ${head + 1}, got ${e.seq}`);
      }
      next.set(e.origin, e.seq);
    }
  }

  /** Throws {@link StoreError} if `installSnapshot` would break an invariant. */
  checkSnapshot(origin: string, through: number, entries: readonly Entry[]): void {
    this.#open();
    let prev = this.#heads.get(origin) ?? 0;
    if (!Number.isSafeInteger(through) || through < prev) {
      throw new StoreError(`${origin}: snapshot through ${through} is below head ${prev}`);
    }
    for (const e of entries) {
      try {
        validateEntry(e);
      } catch (err) {
        throw new StoreError(`invalid entry: ${(err as Error).message}`);
      }
      if (e.origin !== origin || e.seq <= prev || e.seq > through) {
        throw new StoreError(`${origin}: snapshot entry ${e.origin}/${e.seq} out of order`);
      }
      prev = e.seq;
    }
  }

  append(entries: readonly Entry[]): Promise<void> {
    try {
      this.appendNow(entries);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Synchronous {@link append}. */
  appendNow(entries: readonly Entry[]): void {
    this.checkAppend(entries);
    for (const e of entries) this.put(e);
  }

  installSnapshot(origin: string, through: number, entries: readonly Entry[]): Promise<void> {
    try {
      this.installSnapshotNow(origin, through, entries);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Synchronous {@link installSnapshot}. */
  installSnapshotNow(origin: string, through: number, entries: readonly Entry[]): void {
    this.checkSnapshot(origin, through, entries);
    for (const e of entries) this.put(e);
    this.setMarks(origin, through, through);
  }

  /** Stores an entry above its origin's head without the no-gap check (recovery, snapshots). */
  put(e: Entry): void {
    const log = this.#log(e.origin);
    if (e.seq <= log.head) throw new StoreError(`${e.origin}: seq ${e.seq} is not above head`);
    log.entries.push(e);
    log.head = e.seq;
    this.#heads.set(e.origin, e.seq);
    this.#count(log, e, 1);
  }

  #count(log: OriginLog, e: Entry, sign: 1 | -1): void {
    this.#entries += sign;
    this.#bytes += sign * entryBytes(e);
    if (e.key === undefined) {
      log.plainEntries += sign;
      log.plainBytes += sign * e.value.length;
      this.#plain += sign;
      this.#plainBytes += sign * entryBytes(e);
    }
  }

  usage(): StoreUsage {
    return {
      origins: this.#logs.size,
      entries: this.#entries,
      bytes: this.#bytes,
      plainEntries: this.#plain,
      plainBytes: this.#plainBytes,
    };
  }

  plainUsage(origin: string): PlainUsage {
    const log = this.#logs.get(origin);
    return { entries: log?.plainEntries ?? 0, bytes: log?.plainBytes ?? 0 };
  }

  dropOrigin(origin: string): void {
    const log = this.#logs.get(origin);
    if (log === undefined) return;
    for (const e of log.entries) this.#count(log, e, -1);
    this.#logs.delete(origin);
    this.#heads.delete(origin);
    this.#floors.delete(origin);
  }

  /** Raises an origin's head and floor (never lowers them). */
  setMarks(origin: string, head: number, floor: number): void {
    const log = this.#log(origin);
    if (head > log.head) {
      log.head = head;
      this.#heads.set(origin, head);
    }
    if (floor > log.floor) {
      log.floor = floor;
      this.#floors.set(origin, floor);
    }
  }

  read(origin: string, fromSeq: number, limit: number): Promise<Entry[]> {
    if (this.#closed) return Promise.reject(new StoreError("store is closed"));
    return Promise.resolve(this.readNow(origin, fromSeq, limit));
  }

  /** Synchronous {@link read}. */
  readNow(origin: string, fromSeq: number, limit: number): Entry[] {
    const log = this.#logs.get(origin);
    if (log === undefined || limit <= 0) return [];
    const i = lowerBound(log.entries, fromSeq);
    return log.entries.slice(i, i + limit);
  }

  /** Every stored entry of `origin`, ascending (a live array: do not modify). */
  entriesOf(origin: string): readonly Entry[] {
    return this.#logs.get(origin)?.entries ?? [];
  }

  heads(): ReadonlyMap<string, number> {
    return this.#heads;
  }

  floors(): ReadonlyMap<string, number> {
    return this.#floors;
  }

  compact(
    upTo: ReadonlyMap<string, number>,
    keep: (entry: Entry) => boolean,
  ): Promise<CompactionResult> {
    if (this.#closed) return Promise.reject(new StoreError("store is closed"));
    return Promise.resolve(this.compactNow(upTo, keep));
  }

  /** Synchronous {@link compact}. */
  compactNow(upTo: ReadonlyMap<string, number>, keep: (entry: Entry) => boolean): CompactionResult {
    const job = this.startCompaction(upTo, keep);
    while (!job.step(1 << 16));
    return { removed: job.removed, kept: this.#entries };
  }

  startCompaction(
    upTo: ReadonlyMap<string, number>,
    keep: (entry: Entry) => boolean,
  ): CompactionJob {
    this.#open();
    const plan: [string, number][] = [];
    for (const [origin, log] of this.#logs) {
      plan.push([origin, Math.min(upTo.get(origin) ?? log.floor, log.head)]);
    }
    // survivors are gathered in a new array while reads keep using the old, intact one; the
    // tail appended meanwhile (above the limit) is moved over when the origin is done
    let at = 0;
    let log: OriginLog | undefined;
    let next: Entry[] = [];
    let i = 0;
    let w = 0;
    let limit = 0;
    const job = {
      removed: 0,
      step: (n: number): boolean => {
        while (n > 0) {
          if (log === undefined) {
            if (at >= plan.length) return true;
            const [origin, upto] = plan[at];
            log = this.#logs.get(origin);
            if (log === undefined) {
              at++;
              continue;
            }
            limit = upto;
            // the floor moves first: a peer behind it gets a snapshot, which allows holes
            this.setMarks(origin, log.head, limit);
            // sized once: growing a large array by push copies it, a long pause of its own
            next = new Array<Entry>(log.entries.length);
            w = 0;
            i = 0;
          }
          const old = log.entries;
          for (; n > 0 && i < old.length && old[i].seq <= limit; i++, n--) {
            const e = old[i];
            if (keep(e)) next[w++] = e;
            else {
              job.removed++;
              this.#count(log, e, -1);
            }
          }
          if (n > 0 || i >= old.length || old[i].seq > limit) {
            for (; i < old.length; i++) next[w++] = old[i];
            next.length = w;
            log.entries = next;
            log = undefined;
            at++;
          }
        }
        return at >= plan.length && log === undefined;
      },
    };
    return job;
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}

const PAGE = 512;

/**
 * An origin's entries from `from` (default 1), at most `limit`, read from the store a page at
 * a time. Entries removed by compaction or retention are skipped.
 *
 * @example
 * ```ts
 * for await (const e of readPaged(store, { origin: "a", from: 1 })) console.log(e.seq);
 * ```
 */
export async function* readPaged(
  store: LogStore,
  options: { readonly origin: string; readonly from?: number; readonly limit?: number },
): AsyncGenerator<Entry, void, undefined> {
  let from = options.from ?? 1;
  let left = options.limit ?? Number.POSITIVE_INFINITY;
  while (left > 0) {
    const page = await store.read(options.origin, from, Math.min(PAGE, left));
    if (page.length === 0) return;
    for (const e of page) yield e;
    left -= page.length;
    from = page[page.length - 1].seq + 1;
  }
}
