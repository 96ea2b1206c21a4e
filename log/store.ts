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
import { type Entry, validateEntry } from "./entry.ts";

/** What a compaction did. */
export interface CompactionResult {
  /** Entries removed. */
  readonly removed: number;
  /** Entries kept (all origins, after compaction). */
  readonly kept: number;
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
  /** Releases files and timers; idempotent. */
  close(): Promise<void>;
}

/** A store operation that breaks the log's invariants (gap, duplicate, closed store). */
export class StoreError extends Error {
  /**
   * Creates an instance.
   * @param message what went wrong
   */
  constructor(message: string) {
    super(message);
    this.name = "StoreError";
  }
}

interface OriginLog {
  entries: Entry[];
  head: number;
  floor: number;
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

  #log(origin: string): OriginLog {
    let log = this.#logs.get(origin);
    if (log === undefined) {
      log = { entries: [], head: 0, floor: 0 };
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
    let removed = 0;
    let kept = 0;
    for (const [origin, log] of this.#logs) {
      const limit = Math.min(upTo.get(origin) ?? 0, log.head);
      if (limit > log.floor) {
        const before = log.entries.length;
        log.entries = log.entries.filter((e) => e.seq > limit || keep(e));
        removed += before - log.entries.length;
        this.setMarks(origin, log.head, limit);
      }
      kept += log.entries.length;
    }
    return { removed, kept };
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}
