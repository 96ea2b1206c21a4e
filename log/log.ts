/**
 * The replicated append-only log: this node's single-writer log, replicas of every other
 * node's log, a last-writer-wins cache on top, and subscriptions.
 *
 * Guarantees:
 * - per-origin order: entries of an origin are stored, applied, delivered to subscribers
 *   and returned by `read` in seq order;
 * - no gaps: an origin's entries are applied only as seq = head + 1 (a batch with a gap is
 *   cut there and repaired by the next digest exchange); the only exception is a snapshot
 *   for a replica behind the compaction point, where compaction already removed the
 *   superseded entries on every node that compacted;
 * - exactly once: an entry already held is dropped, so subscribers see each entry once;
 * - convergence: once writes stop and the peers stay connected, every replica reaches equal
 *   `heads()` and an equal `cacheDigest()` within a sync interval or so;
 * - a peer that sends garbage, an oversize frame or a wrong environment is disconnected and
 *   counted in `stats().rejectedPeers`; nothing else is disturbed;
 * - no input wedges the node (input_guard.ts): its own origin is written only by itself,
 *   implausible seqs and far-future timestamps are refused, counted in
 *   `stats().refusedInput` and reported to `onError`.
 *
 * @module
 */
import { systemClock } from "../transport/mod.ts";
import type { Clock, HostPort } from "../transport/mod.ts";
import {
  type AppendOptions,
  type AppendResult,
  LogClosedError,
  type ReadOptions,
  type ReplicatedLogOptions,
} from "./api.ts";
import { LwwState, ReplicatedCache } from "./cache.ts";
import { Compactor, memoryStats, replayStore } from "./compaction.ts";
import { type Entry, validateEntry } from "./entry.ts";
import { HybridClock } from "./hlc.ts";
import { InputGuard } from "./input_guard.ts";
import type { ReplicaData } from "./peer.ts";
import { type LogPeer, Replicator } from "./replicator.ts";
import { copyStats, createStats, type LogStats } from "./stats.ts";
import {
  type CompactionResult,
  type LogStore,
  MemoryLogStore,
  readPaged,
  StoreError,
} from "./store.ts";
import { DEFAULT_MEMORY_TUNING } from "./retention.ts";
import { EntryFeed, type EntrySubscription } from "./subscription.ts";
import { LOG_LIMIT_DEFAULTS, logLimits } from "./tuning.ts";
import { acceptEntries, acceptSnapshot, type ApplyHost } from "./remote_apply.ts";

export type { ReplicatedLogOptions };

/** Which seqs of a group commit the store took (`error`: why the others were refused). */
interface Stored {
  readonly first: number;
  readonly last: number;
  readonly error?: unknown;
}

const encoder = new TextEncoder();
// entry size limit of an isolated log (no frames to fit in)
const ISOLATED_MAX_FRAME = 16 * 1024 * 1024;
// origin, seq, frame header and batch header around one entry, with room to spare
const FRAME_SLACK = 256;

/**
 * A replicated append-only log.
 *
 * Group commit: appends made before the store call runs (typically those of one tick) are
 * stored together: one store call, so one record and one fsync in a `FileLogStore`, and one
 * frame per peer.
 *
 * Quorum: `append(v, { ack: "quorum" })` resolves once a majority of the voting membership
 * (this node plus the names given to `setVoters`; `cluster()` gives every member that has not
 * left, failed ones included) holds the entry, counted per member name: 2 of 3, 3 of 4 or 5,
 * at least `minQuorum`. Otherwise it rejects at the deadline with a `QuorumError` (held by,
 * needed); the entry stays appended and keeps replicating. Without `setVoters` the peers of
 * `setPeers` are the voters; an isolated log is its own majority.
 *
 * @example
 * ```ts
 * import { nodeNetwork } from "../transport/mod.ts";
 * import { presets } from "../presets/mod.ts";
 * const log = await ReplicatedLog.create({
 *   name: "node-a", environment: "lan", network: nodeNetwork,
 *   bind: { host: "127.0.0.1", port: 0 }, tuning: presets.lan.log,
 * });
 * log.setPeers([{ name: "node-b", address: { host: "127.0.0.1", port: 3320 } }]);
 * await log.appendText("hello", { ack: "quorum" });
 * log.subscribe((e) => console.log(e.origin, e.seq));
 * await log.cache.set("k", "v");
 * await log.close();
 * ```
 */
export class ReplicatedLog {
  /** This node's name. */
  readonly name: string;
  /** This node's own log (entries it appends carry this origin). */
  readonly origin: string;
  /** The last-writer-wins cache over keyed entries. */
  readonly cache: ReplicatedCache;
  #store: LogStore;
  #clock: Clock;
  #maxFrameBytes: number;
  #hlc: HybridClock;
  #guard: InputGuard;
  #state: LwwState;
  #feed = new EntryFeed();
  #stats: LogStats = createStats();
  #compactor: Compactor;
  #replicator: Replicator | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #ownSeq = 0;
  #closed = false;
  #quorumTimeout: number;
  #originBytes: number;
  // group commit: own appends made before the store call runs share it (one record, one fsync)
  #pending: Entry[] = [];
  #pendingUrgent = false;
  #pendingStored: Promise<Stored> | undefined;

  private constructor(options: ReplicatedLogOptions, store: LogStore, clock: Clock) {
    this.name = options.name;
    this.origin = options.origin ?? options.name;
    this.#store = store;
    this.#clock = clock;
    this.#maxFrameBytes = options.tuning?.maxFrameBytes ?? ISOLATED_MAX_FRAME;
    const limits = options.tuning ? logLimits(options.tuning) : LOG_LIMIT_DEFAULTS;
    this.#hlc = new HybridClock(() => clock.now(), limits.maxClockOffsetMs);
    this.#guard = new InputGuard({
      origin: this.origin,
      stats: this.#stats,
      limits,
      hlc: this.#hlc,
      clock,
      report: options.onError ?? (() => {}),
    });
    this.#quorumTimeout = options.quorumTimeoutMs ?? 5000;
    this.#originBytes = encoder.encode(this.origin).length;
    const memory = options.tuning?.memory ?? DEFAULT_MEMORY_TUNING;
    // an expired value leaves within two checks; a tombstone within 0.1 % of the horizon
    this.#state = new LwwState(() => clock.now(), {
      expiryMs: memory.checkIntervalMs,
      tombstoneMs: Math.max(memory.checkIntervalMs, memory.tombstoneHorizonMs / 1024),
    });
    const [stats, serial] = [this.#stats.compaction, this.#serial.bind(this)];
    const host = { store, state: this.#state, origin: this.origin, clock, stats, serial };
    this.#compactor = new Compactor(host, memory);
    this.cache = new ReplicatedCache(
      this.#state,
      (key, value, tombstone, o) => {
        try {
          return this.#commit(this.#newEntry(value, key, tombstone, o.ttl), o);
        } catch (err) {
          return Promise.reject(err);
        }
      },
      () => clock.now(),
    );
  }

  /** Loads the store's content (cache, clock, own seq) and starts replicating. */
  static async create(options: ReplicatedLogOptions): Promise<ReplicatedLog> {
    if (options.name === "") throw new RangeError("name must not be empty");
    if (options.origin === "") throw new RangeError("origin must not be empty");
    const { network, bind, tuning } = options;
    if ((network === undefined) !== (bind === undefined)) {
      throw new TypeError("give both network and bind, or neither");
    }
    if (network !== undefined && tuning === undefined) {
      throw new TypeError("tuning is required when replicating");
    }
    const store = options.store ?? new MemoryLogStore();
    const log = new ReplicatedLog(options, store, options.clock ?? systemClock);
    await replayStore(store, log.#compactor, (e) => {
      // a timestamp beyond the max offset (stored before this check existed, or the local
      // clock went back) is not re-adopted: later appends must stay representable
      if (!log.#hlc.observe(e.ts)) log.#stats.refusedInput["future-timestamp"]++;
      log.#state.apply(e);
    });
    log.#ownSeq = store.heads().get(log.origin) ?? 0;
    log.#compactor.start();
    if (network === undefined || bind === undefined || tuning === undefined) return log;
    const apply = log.#applyHost();
    const data: ReplicaData = {
      heads: () => store.heads(),
      announced: () => log.#compactor.announced(store.heads()),
      floors: () => store.floors(),
      read: (origin, from, limit) => store.read(origin, from, limit),
      applyEntries: (origin, entries, from) =>
        log.#serial(() => acceptEntries(apply, origin, entries, from)),
      applySnapshot: (origin, through, entries, from) =>
        log.#serial(() => acceptSnapshot(apply, origin, through, entries, from)),
    };
    log.#guard.owners = (origin, from) => log.#replicator?.ownerHolds(origin, from);
    try {
      log.#replicator = await Replicator.start({
        name: options.name,
        origin: log.origin,
        environment: options.environment,
        network,
        clock: log.#clock,
        bind,
        tuning,
        stats: log.#stats,
        data,
        minQuorum: options.minQuorum,
        onPeerLost: options.onPeerLost,
        logger: options.logger,
        security: options.security,
      });
    } catch (err) {
      // a listener that cannot bind: nothing may keep running (the compactor's timer would
      // keep the process alive), and the store is closed as a closed log closes it
      await log.close();
      throw err;
    }
    return log;
  }

  /** The log listener's bound address; undefined when isolated. */
  get address(): HostPort | undefined {
    return this.#replicator?.address;
  }

  /** Sets the peers (name and log address), e.g. from membership. See {@link Replicator.setPeers}. */
  setPeers(peers: readonly LogPeer[]): void {
    if (this.#closed) throw new LogClosedError();
    this.#replicator?.setPeers(peers);
  }

  /**
   * Sets the voting membership of quorum appends (member names; this node always votes).
   * Pending quorum appends are re-checked: removing a failed member can complete them.
   *
   * @example
   * ```ts
   * log.setVoters(["node-a", "node-b", "node-c"]); // node-c crashed: still a voter
   * ```
   */
  setVoters(names: Iterable<string>): void {
    if (this.#closed) throw new LogClosedError();
    this.#replicator?.quorum.setVoters(names);
  }

  /** Names of peers with an open replication connection. */
  connectedPeers(): string[] {
    return this.#replicator?.connected() ?? [];
  }

  /** Appends bytes to this node's log. */
  append(value: Uint8Array, options: AppendOptions = {}): Promise<AppendResult> {
    try {
      return this.#commit(this.#newEntry(value, options.key, false, options.ttl), options);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Appends UTF-8 text. */
  appendText(text: string, options: AppendOptions = {}): Promise<AppendResult> {
    return this.append(encoder.encode(text), options);
  }

  /** Appends the JSON text of `value`. */
  appendJSON(value: unknown, options: AppendOptions = {}): Promise<AppendResult> {
    return this.appendText(JSON.stringify(value), options);
  }

  #newEntry(
    value: Uint8Array,
    key: string | undefined,
    tombstone: boolean,
    ttl: number | undefined,
  ): Entry {
    if (this.#closed) throw new LogClosedError();
    if (!(value instanceof Uint8Array)) throw new TypeError("value must be a Uint8Array");
    const size = value.length + (key === undefined ? 0 : encoder.encode(key).length) +
      this.#originBytes;
    if (size + FRAME_SLACK > this.#maxFrameBytes) {
      throw new RangeError(
        `entry of ${size} bytes exceeds the frame limit ${this.#maxFrameBytes}`,
      );
    }
    const e: { -readonly [K in keyof Entry]: Entry[K] } = {
      origin: this.origin,
      seq: this.#ownSeq + 1,
      ts: this.#hlc.now(),
      value,
      tombstone,
    };
    if (key !== undefined) e.key = key;
    if (ttl !== undefined) e.ttl = ttl;
    validateEntry(e);
    this.#ownSeq++;
    return e;
  }

  #commit(e: Entry, options: AppendOptions): Promise<AppendResult> {
    const ack = options.ack ?? "local";
    const rep = this.#replicator; // undefined when isolated: this node alone is the majority
    if (ack === "quorum") {
      rep?.quorum.expect(e.seq);
      this.#pendingUrgent = true;
    }
    const stored = this.#enqueueOwn(e);
    const at: AppendResult = { origin: e.origin, seq: e.seq };
    if (ack === "none") {
      stored.catch(() => {});
      return Promise.resolve(at);
    }
    const seq = e.seq;
    if (ack === "quorum" && rep !== undefined) {
      const timeout = options.timeout ?? this.#quorumTimeout;
      return stored.then((r) => {
        if (seq < r.first || seq > r.last) throw r.error ?? new StoreError(`seq ${seq} not stored`);
        return rep.quorum.wait(seq, timeout);
      }).then(() => at);
    }
    return stored.then((r) => {
      if (seq < r.first || seq > r.last) throw r.error ?? new StoreError(`seq ${seq} not stored`);
      return at;
    });
  }

  /** Queues an own entry for the next group commit; resolves with what that commit stored. */
  #enqueueOwn(e: Entry): Promise<Stored> {
    this.#pending.push(e);
    if (this.#pendingStored === undefined) {
      this.#pendingStored = this.#serial(() => this.#flushOwn());
    }
    return this.#pendingStored;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn);
    this.#chain = run.catch(() => {});
    return run;
  }

  /** Stores every queued own entry in one call, then applies, publishes and pushes them. */
  async #flushOwn(): Promise<Stored> {
    let batch = this.#pending;
    const urgent = this.#pendingUrgent;
    this.#pending = [];
    this.#pendingUrgent = false;
    this.#pendingStored = undefined;
    // after a failed commit, entries numbered before the reset no longer follow the head
    const head = this.#store.heads().get(this.origin) ?? 0;
    const skip = batch.findIndex((e) => e.seq === head + 1);
    if (skip < 0) return { first: 0, last: -1, error: new StoreError("append after a failure") };
    if (skip > 0) batch = batch.slice(skip);
    try {
      await this.#store.append(batch);
    } catch (err) {
      // keep later appends gap-free: continue from what the store really holds
      this.#ownSeq = this.#store.heads().get(this.origin) ?? 0;
      return { first: 0, last: -1, error: err };
    }
    for (const e of batch) {
      this.#state.apply(e);
      this.#feed.publish(e);
    }
    this.#stats.entriesAppended += batch.length;
    this.#replicator?.notifyAppend(urgent);
    return { first: batch[0].seq, last: batch[batch.length - 1].seq };
  }

  /** What the remote apply path (remote_apply.ts) needs of this log. */
  #applyHost(): ApplyHost {
    return {
      store: this.#store,
      guard: this.#guard,
      compactor: this.#compactor,
      stats: this.#stats,
      closed: () => this.#closed,
      deliver: (entries) => this.#deliver(entries),
    };
  }

  #deliver(entries: readonly Entry[]): void {
    for (const e of entries) {
      this.#hlc.observe(e.ts);
      this.#state.apply(e);
      this.#feed.publish(e);
    }
    this.#stats.entriesApplied += entries.length;
  }

  /**
   * Reads an origin's log from `from` (default 1), at most `limit` entries. Entries removed
   * by compaction or retention are skipped (see {@link ReadOptions.from}).
   */
  read(options: ReadOptions): AsyncGenerator<Entry, void, undefined> {
    return readPaged(this.#store, options);
  }

  /**
   * Every entry applied from now on (own appends and replicated ones), each exactly once, in
   * per-origin seq order. Without an argument: an async iterable (`close()` or `break` ends
   * it). With a callback: returns the unsubscribe function.
   */
  subscribe(): EntrySubscription;
  /** Calls `listener` with every entry applied from now on; returns the unsubscribe function. */
  subscribe(listener: (entry: Entry) => void): () => void;
  subscribe(listener?: (entry: Entry) => void): EntrySubscription | (() => void) {
    return listener === undefined ? this.#feed.iterate() : this.#feed.listen(listener);
  }

  /** origin → highest seq held here (a copy). */
  heads(): Map<string, number> {
    return new Map(this.#store.heads());
  }

  /**
   * Compacts every origin up to its current head at once: keyed entries survive only as
   * their key's winner (tombstones included), unkeyed entries at or below the point are
   * dropped. Peers behind the new compaction point receive a snapshot, then the tail. (The
   * log compacts by itself too, in slices, within its budget `tuning.memory`.)
   */
  compact(): Promise<CompactionResult> {
    return this.#compactor.compactNow((e) => this.#state.isWinner(e));
  }

  /** Hash over the sorted live cache state; equal on converged replicas. */
  cacheDigest(): string {
    return this.#state.digest();
  }

  /** A copy of the counters. */
  stats(): LogStats {
    const s = copyStats(this.#stats);
    s.memory = memoryStats(this.#store, this.#state);
    return s;
  }

  /** Closes connections, listener and timers, ends subscriptions, closes the store. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#replicator?.close();
    this.#feed.close();
    await this.#compactor.close();
    await this.#chain;
    await this.#store.close();
  }
}
