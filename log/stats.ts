/**
 * Counters of a replicated log.
 *
 * @module
 */
import { type CompactionStats, createCompactionStats } from "./compaction.ts";

/** Why a peer connection was refused or cut. */
export type RejectReason =
  | "garbage"
  | "oversize"
  | "environment"
  | "version"
  | "handshake-timeout"
  | "self"
  | "name";

/** Every reject reason, in a stable order. */
export const REJECT_REASONS: readonly RejectReason[] = [
  "garbage",
  "oversize",
  "environment",
  "version",
  "handshake-timeout",
  "self",
  "name",
];

/**
 * What a node's log holds right now (gauges, computed by `stats()`).
 *
 * @example
 * ```ts
 * const m = log.stats().memory;
 * console.log(`${m.liveKeys} live keys in ${m.heldEntries} entries (${m.heldBytes} B)`);
 * ```
 */
export interface MemoryStats {
  /** Keys with a value (an expired one counts until the next sweep, a check interval). */
  liveKeys: number;
  /** Keys whose winner is a tombstone (kept until the horizon). */
  tombstones: number;
  /** Entries the store holds (every origin, keyed and plain). */
  heldEntries: number;
  /** Bytes the store holds (payload, key, per-entry overhead: a heap estimate). */
  heldBytes: number;
  /** Bytes of the cache's winners (the live part of `heldBytes`). */
  liveBytes: number;
  /** Plain (unkeyed) entries held. */
  plainEntries: number;
  /** Origins held. */
  origins: number;
  /** Segment bytes on disk (file store only). */
  diskBytes?: number;
}

/**
 * Counters since the log was created; they only grow (except `connections`).
 *
 * @example
 * ```ts
 * const s = createStats();
 * s.rejectedPeers.garbage; // 0
 * ```
 */
export interface LogStats {
  /** Frames received (valid ones). */
  framesIn: number;
  /** Frames sent. */
  framesOut: number;
  /** Bytes received on replication connections (wire bytes, compressed). */
  bytesIn: number;
  /** Bytes sent on replication connections (wire bytes, compressed). */
  bytesOut: number;
  /** Entries this node appended to its own log. */
  entriesAppended: number;
  /** Entries of other origins (or own, recovered from peers) stored and applied. */
  entriesApplied: number;
  /** Received entries already held (dropped: exactly-once). */
  entriesDuplicate: number;
  /** Received entries that would leave a gap (dropped; a later sync repairs). */
  entriesOutOfOrder: number;
  /** Snapshot chunks sent to peers behind the compaction point. */
  snapshotsSent: number;
  /** Snapshot chunks received and installed. */
  snapshotsReceived: number;
  /** Open replication connections (after handshake). */
  connections: number;
  /** Handshakes completed since start. */
  connectionsOpened: number;
  /** Dials that failed. */
  dialFailures: number;
  /** Peers disconnected for a protocol violation, by reason. */
  rejectedPeers: Record<RejectReason, number>;
  /** What is held now (gauges). */
  memory: MemoryStats;
  /** Automatic compaction: runs, sweeps, what they removed, and their pauses. */
  compaction: CompactionStats;
}

/** Fresh zeroed counters. */
export function createStats(): LogStats {
  const rejectedPeers = {} as Record<RejectReason, number>;
  for (const r of REJECT_REASONS) rejectedPeers[r] = 0;
  return {
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    entriesAppended: 0,
    entriesApplied: 0,
    entriesDuplicate: 0,
    entriesOutOfOrder: 0,
    snapshotsSent: 0,
    snapshotsReceived: 0,
    connections: 0,
    connectionsOpened: 0,
    dialFailures: 0,
    rejectedPeers,
    memory: {
      liveKeys: 0,
      tombstones: 0,
      heldEntries: 0,
      heldBytes: 0,
      liveBytes: 0,
      plainEntries: 0,
      origins: 0,
    },
    compaction: createCompactionStats(),
  };
}

/** A detached copy. */
export function copyStats(s: LogStats): LogStats {
  return {
    ...s,
    rejectedPeers: { ...s.rejectedPeers },
    memory: { ...s.memory },
    compaction: { ...s.compaction },
  };
}
