/**
 * The replicated append-only log.
 *
 * Every node owns one single-writer log (seq 1, 2, 3 … per origin) and keeps a replica of
 * every other node's log. Replication runs over the log's own TCP listener: length-prefixed
 * frames with a hard size limit, a handshake (protocol version, environment, node name),
 * digest exchange on connect and every sync interval, gap-free catch-up streams (most-behind
 * origin first, a snapshot for a peer behind the compaction point), immediate or batched and
 * compressed pushes of new appends, and acknowledgements for quorum appends. A
 * last-writer-wins cache (`log.cache`) is materialized from keyed entries.
 *
 * Stores: {@link MemoryLogStore} (default) and {@link FileLogStore} (segment files with a
 * length and CRC-32 per record, an fsync policy, torn-tail recovery, compaction).
 *
 * Memory and disk follow live data: every replica compacts by itself, in short slices, within
 * the budget of `tuning.memory` (superseded writes, expired values and tombstones past the
 * horizon leave; plain entries keep within per-origin limits; empty retired origins are
 * forgotten). The rules are in retention.ts; `stats().memory` and `stats().compaction` show
 * what is held and what compaction costs.
 *
 * @example
 * ```ts
 * import { ReplicatedLog } from "./mod.ts";
 * import { nodeNetwork } from "../transport/mod.ts";
 * import { presets } from "../presets/mod.ts";
 *
 * const log = await ReplicatedLog.create({
 *   name: "node-a", environment: "lan", network: nodeNetwork,
 *   bind: { host: "0.0.0.0", port: 3320 }, tuning: presets.lan.log,
 * });
 * log.setPeers([{ name: "node-b", address: { host: "10.0.0.2", port: 3320 } }]);
 * await log.appendJSON({ hello: "world" }, { ack: "quorum" });
 * await log.cache.set("session:1", "alice", { ttl: 60_000 });
 * for await (const e of log.subscribe()) console.log(e.origin, e.seq);
 * ```
 *
 * @module
 */
export { ReplicatedLog } from "./log.ts";
export { LogClosedError } from "./api.ts";
export type { ReplicatedLogOptions } from "./log.ts";
export type { AckMode, AppendOptions, AppendResult, ReadOptions } from "./api.ts";
export type { LogPeer } from "./replicator.ts";
export type { LogLimits, LogTuning } from "./tuning.ts";
export { LOG_LIMIT_DEFAULTS, logLimits, MAX_PLAUSIBLE_SEQ } from "./tuning.ts";
export { RefusedInputError } from "./input_guard.ts";
export type { LogSecurity } from "./connection_guard.ts";
export type { LogKeys } from "./secure_handshake.ts";
export type { LogTls } from "./tls_stream.ts";
export type { Entry, Timestamp } from "./entry.ts";
export { compareLww, compareTimestamps, decodeEntry, encodeEntry } from "./entry.ts";
export { ReplicatedCache } from "./cache.ts";
export type { ReplicatedCache as ReplicatedLogCache } from "./cache.ts";
export type { CacheChange, CacheWriteOptions } from "./cache.ts";
export type { EntrySubscription } from "./subscription.ts";
export { QuorumError, quorumNeeded } from "./quorum.ts";
export type { InputRefusal, LogLogger, LogStats, MemoryStats, RejectReason } from "./stats.ts";
export type { CompactionStats } from "./compaction.ts";
export { DEFAULT_MEMORY_TUNING, retiredRuns } from "./retention.ts";
export type { MemoryTuning, PlainRetention, PlainUsage } from "./retention.ts";
export { MemoryLogStore, StoreError } from "./store.ts";
export { FileLogStore } from "./file_store.ts";
export type { FileLogStoreOptions, FsyncPolicy, RecoveryReport } from "./file_store.ts";
export type { CompactionJob, CompactionResult, LogStore, StoreUsage } from "./store.ts";
export { HybridClock } from "./hlc.ts";
export { DecodeError } from "./binary.ts";
// the transport types the options above mention
export type {
  BindOptions,
  Clock,
  HostPort,
  Network,
  PacketHandler,
  Stream,
  StreamHandler,
  TimerHandle,
  Transport,
} from "../transport/mod.ts";
export { ClusterError } from "../errors/mod.ts";
