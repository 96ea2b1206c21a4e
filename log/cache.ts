/**
 * The cache: a last-writer-wins map materialized from the keyed entries of every origin.
 *
 * The winner of a key is its entry with the greatest (HLC timestamp, origin) pair, whatever
 * order entries arrive in, so every replica that holds the same entries shows the same map.
 * A delete is a tombstone entry: it wins over every older set, and since compaction keeps
 * each key's winner, a replica that missed the delete cannot bring the old value back. A TTL
 * counts from the entry's own timestamp, so all replicas agree on when a value expires.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { AppendOptions, AppendResult } from "./api.ts";
import { compareLww, type Entry } from "./entry.ts";
import { ExpiryQueue } from "./expiry_queue.ts";
import { entryBytes } from "./retention.ts";

/** One change of the cache's visible state. */
export interface CacheChange {
  /** The key. */
  readonly key: string;
  /** New value; undefined when deleted. */
  readonly value: Uint8Array | undefined;
  /** The key was deleted (or expired). */
  readonly deleted: boolean;
  /** The key's value expired (`deleted` is true too); emitted once per node, by the sweep. */
  readonly expired: boolean;
  /** The winning entry. */
  readonly entry: Entry;
}

/** Options of `set` and `delete`. */
export type CacheWriteOptions = Omit<AppendOptions, "key">;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Whether a keyed entry has expired at `now` (ms). */
export function expired(e: Entry, now: number): boolean {
  return e.ttl !== undefined && now >= e.ts.wall + e.ttl;
}

/**
 * Per-key winners. Internal state of {@link ReplicatedCache}, fed by the log.
 *
 * @example
 * ```ts
 * const state = new LwwState();
 * state.apply({ origin: "a", seq: 1, ts: { wall: 1, logical: 0 }, key: "k", value: new Uint8Array([1]), tombstone: false });
 * state.winner("k")?.seq; // 1
 * ```
 */
export class LwwState {
  #winners = new Map<string, Entry>();
  #listeners = new Set<(change: CacheChange) => void>();
  #now: () => number;
  // winners that arrived already expired: no change event on arrival, none on removal
  #silent = new WeakSet<Entry>();
  #liveBytes = 0;
  #tombstones = 0;
  // winners with a TTL by expiry, tombstones by timestamp: the sweep takes the due ones
  #expiries: ExpiryQueue;
  #deletes: ExpiryQueue;

  /**
   * Creates an instance.
   * @param now milliseconds on the timestamps' scale (to tell values that arrive expired)
   * @param buckets how late the sweep may take an expired value (`expiryMs`) and a tombstone
   *   past the horizon (`tombstoneMs`); defaults 1 s and 1 min
   */
  constructor(
    now: () => number = Date.now,
    buckets: { expiryMs: number; tombstoneMs: number } = { expiryMs: 1000, tombstoneMs: 60_000 },
  ) {
    this.#now = now;
    this.#expiries = new ExpiryQueue(buckets.expiryMs);
    this.#deletes = new ExpiryQueue(buckets.tombstoneMs);
  }

  /** Takes a keyed entry into account; true when it became the key's winner. */
  apply(e: Entry): boolean {
    if (e.key === undefined) return false;
    const cur = this.#winners.get(e.key);
    if (cur !== undefined && compareLww(e, cur) <= 0) return false;
    if (cur !== undefined) this.#account(cur, -1);
    this.#winners.set(e.key, e);
    this.#account(e, 1);
    if (!e.tombstone && expired(e, this.#now())) {
      // arrived expired: no event of its own, and none from the sweep; when it hides a value
      // that was visible, that value's expiry is announced now
      this.#silent.add(e);
      if (cur !== undefined && !cur.tombstone && !this.#silent.has(cur)) {
        this.#emit(e, true, true);
      }
      return true;
    }
    this.#emit(e, e.tombstone, false);
    return true;
  }

  #account(e: Entry, sign: 1 | -1): void {
    this.#liveBytes += sign * entryBytes(e);
    if (e.tombstone) {
      this.#tombstones += sign;
      if (sign > 0) this.#deletes.add(e, e.ts.wall);
      else this.#deletes.delete(e, e.ts.wall);
    } else if (e.ttl !== undefined) {
      if (sign > 0) this.#expiries.add(e, e.ts.wall + e.ttl);
      else this.#expiries.delete(e, e.ts.wall + e.ttl);
    }
  }

  /**
   * Moves into `out` up to `limit` winners that may leave: values expired by `now` and
   * tombstones timestamped before `tombstonesBefore` (whole buckets only, so a little later
   * than due, never earlier); they are no longer filed, and stay winners until `remove`.
   */
  takeDue(now: number, tombstonesBefore: number, limit: number, out: Entry[]): number {
    const n = this.#expiries.take(now, limit, out);
    return n + this.#deletes.take(tombstonesBefore, limit - n, out);
  }

  #emit(e: Entry, deleted: boolean, expiredNow: boolean): void {
    if (this.#listeners.size === 0) return;
    const change: CacheChange = {
      key: e.key as string,
      value: deleted ? undefined : e.value,
      deleted,
      expired: expiredNow,
      entry: e,
    };
    for (const l of this.#listeners) {
      try {
        l(change);
      } catch {
        // a listener's failure is its own business
      }
    }
  }

  /**
   * Forgets `e` when it is still its key's winner: an expired value (emits the expiry
   * change) or a tombstone past the horizon (silently). Compaction then drops the entry.
   */
  remove(e: Entry): boolean {
    if (e.key === undefined || this.#winners.get(e.key) !== e) return false;
    this.#winners.delete(e.key);
    this.#account(e, -1);
    if (!e.tombstone && !this.#silent.has(e)) this.#emit(e, true, true);
    return true;
  }

  /** Keys with a winner (live, expired not yet swept, or tombstone). */
  get size(): number {
    return this.#winners.size;
  }

  /** Winners that are tombstones. */
  get tombstones(): number {
    return this.#tombstones;
  }

  /** Bytes of the winners (accounted as the store does). */
  get liveBytes(): number {
    return this.#liveBytes;
  }

  /** The current winner of `key` (tombstones included). */
  winner(key: string): Entry | undefined {
    return this.#winners.get(key);
  }

  /** Whether `e` is its key's current winner (compaction keeps exactly these). */
  isWinner(e: Entry): boolean {
    if (e.key === undefined) return false;
    const w = this.#winners.get(e.key);
    return w !== undefined && w.origin === e.origin && w.seq === e.seq;
  }

  /** Every winner, tombstones included. */
  winners(): IterableIterator<Entry> {
    return this.#winners.values();
  }

  /** Adds a change listener; returns its remover. */
  listen(listener: (change: CacheChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * SHA-256 (hex) over the sorted non-deleted winners: key, origin, seq, timestamp, ttl and
   * value. Expiry is hashed as data rather than evaluated, so replicas compare equal at
   * different moments.
   */
  digest(): string {
    const h = createHash("sha256");
    const keys = [...this.#winners.keys()].sort();
    for (const k of keys) {
      const e = this.#winners.get(k) as Entry;
      if (e.tombstone) continue;
      h.update(
        `${JSON.stringify(k)}|${JSON.stringify(e.origin)}|${e.seq}|${e.ts.wall}.${e.ts.logical}|${
          e.ttl ?? ""
        }|`,
      );
      h.update(e.value);
      h.update("\n");
    }
    return h.digest("hex");
  }
}

/**
 * The replicated cache of a log: reads come from the local materialized state, writes are
 * keyed appends (`set`) and tombstones (`delete`) that replicate like any entry.
 *
 * @example
 * ```ts
 * await log.cache.set("greeting", "hello", { ttl: 60_000 });
 * log.cache.getText("greeting"); // "hello"
 * await log.cache.delete("greeting");
 * const off = log.cache.onChange((c) => console.log(c.key, c.deleted));
 * off();
 * ```
 */
export class ReplicatedCache {
  #state: LwwState;
  #write: (
    key: string,
    value: Uint8Array,
    tombstone: boolean,
    options: CacheWriteOptions,
  ) => Promise<AppendResult>;
  #now: () => number;

  /**
   * Creates an instance.
   * @param state the materialized winners
   * @param write appends a keyed entry
   * @param now milliseconds on the timestamps' scale (expiry checks)
   */
  constructor(
    state: LwwState,
    write: (
      key: string,
      value: Uint8Array,
      tombstone: boolean,
      options: CacheWriteOptions,
    ) => Promise<AppendResult>,
    now: () => number,
  ) {
    this.#state = state;
    this.#write = write;
    this.#now = now;
  }

  #live(key: string): Entry | undefined {
    const e = this.#state.winner(key);
    if (e === undefined || e.tombstone || expired(e, this.#now())) return undefined;
    return e;
  }

  /** The value of `key`, or undefined (absent, deleted or expired). */
  get(key: string): Uint8Array | undefined {
    return this.#live(key)?.value;
  }

  /** The value of `key` as UTF-8 text. */
  getText(key: string): string | undefined {
    const v = this.get(key);
    return v === undefined ? undefined : decoder.decode(v);
  }

  /** The value of `key` parsed as JSON (throws SyntaxError if it is not JSON). */
  getJSON<T = unknown>(key: string): T | undefined {
    const t = this.getText(key);
    return t === undefined ? undefined : JSON.parse(t) as T;
  }

  /** Whether `key` has a live value. */
  has(key: string): boolean {
    return this.#live(key) !== undefined;
  }

  /** Live entries as [key, value] pairs, sorted by key. */
  entries(): [string, Uint8Array][] {
    const now = this.#now();
    const out: [string, Uint8Array][] = [];
    for (const e of this.#state.winners()) {
      if (!e.tombstone && !expired(e, now)) out.push([e.key as string, e.value]);
    }
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  /** Sets `key` (strings are stored as UTF-8); `ttl` in ms counts from the entry's timestamp. */
  set(
    key: string,
    value: Uint8Array | string,
    options: CacheWriteOptions = {},
  ): Promise<AppendResult> {
    return this.#write(
      key,
      typeof value === "string" ? encoder.encode(value) : value,
      false,
      options,
    );
  }

  /** Sets `key` to the JSON text of `value`. */
  setJSON(key: string, value: unknown, options: CacheWriteOptions = {}): Promise<AppendResult> {
    return this.set(key, JSON.stringify(value), options);
  }

  /** Deletes `key` (a tombstone that replicates and wins over older sets). */
  delete(key: string, options: CacheWriteOptions = {}): Promise<AppendResult> {
    return this.#write(key, new Uint8Array(0), true, { ...options, ttl: undefined });
  }

  /** Calls `listener` on every change of a key's winner (local or replicated); returns its remover. */
  onChange(listener: (change: CacheChange) => void): () => void {
    return this.#state.listen(listener);
  }

  /** Hash over the sorted live state; equal on replicas holding the same entries. */
  digest(): string {
    return this.#state.digest();
  }
}
