/**
 * Counters of a replicated log.
 *
 * @module
 */

/** Why a peer connection was refused or cut. */
export type RejectReason =
  | "garbage"
  | "oversize"
  | "environment"
  | "version"
  | "handshake-timeout"
  | "self"
  | "name"
  | "connection-limit"
  | "address-limit"
  | "frame-timeout"
  | "idle"
  | "buffer-limit"
  // keyed replication and TLS (connection_guard.ts, replicator.ts)
  | "unauthenticated"
  | "key"
  | "tampered"
  | "tls"
  | "not-member"
  | "duplicate";

/** Every reject reason, in a stable order. */
export const REJECT_REASONS: readonly RejectReason[] = [
  "garbage",
  "oversize",
  "environment",
  "version",
  "handshake-timeout",
  "self",
  "name",
  "connection-limit",
  "address-limit",
  "frame-timeout",
  "idle",
  "buffer-limit",
  "unauthenticated",
  "key",
  "tampered",
  "tls",
  "not-member",
  "duplicate",
];

/**
 * Why received input was refused without cutting the connection: entries or a snapshot of
 * this node's own origin ("own-origin"), an entry whose (origin, seq) is held with other
 * content ("conflict"), a timestamp beyond the maximum clock offset ("future-timestamp", the
 * entries wait), a seq or snapshot bound beyond plausible ranges ("implausible-seq"), entries
 * relayed by another peer beyond what their connected owner reported ("relay-ahead", they
 * wait: the owner delivers its own).
 */
export type InputRefusal =
  | "own-origin"
  | "conflict"
  | "future-timestamp"
  | "implausible-seq"
  | "relay-ahead";

/** Every input refusal, in a stable order. */
export const INPUT_REFUSALS: readonly InputRefusal[] = [
  "own-origin",
  "conflict",
  "future-timestamp",
  "implausible-seq",
  "relay-ahead",
];

/**
 * Where the log writes what it refuses or fails at, with structured fields (message first,
 * then fields: the call shape of `console` and winston; pino takes fields first, so wrap it).
 *
 * @example
 * ```ts
 * const logger: LogLogger = { debug() {}, warn: (m, f) => console.warn(m, f) };
 * ```
 */
export interface LogLogger {
  /** Routine detail (a dial that failed, a connection that ended). */
  debug(message: string, fields?: Record<string, unknown>): void;
  /** A peer refused for a protocol violation, or another anomaly the node survived. */
  warn(message: string, fields?: Record<string, unknown>): void;
}

/** The logger that writes nothing. */
export const silentLogLogger: LogLogger = { debug() {}, warn() {} };

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
  /**
   * Plaintext peers let in by a keyed node whose `verifyIncoming` is off (migration); should
   * stop growing once every node dials keyed.
   */
  plaintextAccepted: number;
  /**
   * Peers disconnected for a protocol violation, by reason. Keyed/TLS: `unauthenticated` (no
   * handshake, e.g. plaintext), `key` (holds none of our keys), `tampered` (a record failed
   * authentication: replayed, reordered or modified), `tls` (certificate refused),
   * `not-member` (authenticated name not a current member), `duplicate` (a second session
   * under the name of a member whose session is alive).
   */
  rejectedPeers: Record<RejectReason, number>;
  /** Entries (snapshots: chunks, digests: heads) refused while the connection stays, by reason. */
  refusedInput: Record<InputRefusal, number>;
  /** Bytes of incomplete frames buffered now, all connections together. */
  bufferedBytes: number;
  /** The highest `bufferedBytes` seen. */
  bufferedBytesPeak: number;
  /** Times a peer's catch-up stopped until its next digest (flow control). */
  repliesPaused: number;
  /** What is held now (gauges). */
  memory: MemoryStats;
  /** Automatic compaction: runs, sweeps, what they removed, and their pauses. */
  compaction: CompactionStats;
}

/** Fresh zeroed counters. */
export function createStats(): LogStats {
  const rejectedPeers = {} as Record<RejectReason, number>;
  for (const r of REJECT_REASONS) rejectedPeers[r] = 0;
  const refusedInput = {} as Record<InputRefusal, number>;
  for (const r of INPUT_REFUSALS) refusedInput[r] = 0;
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
    plaintextAccepted: 0,
    rejectedPeers,
    refusedInput,
    bufferedBytes: 0,
    bufferedBytesPeak: 0,
    repliesPaused: 0,
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
    refusedInput: { ...s.refusedInput },
    memory: { ...s.memory },
    compaction: { ...s.compaction },
  };
}

/**
 * Counters of the automatic compaction (part of `stats()`).
 *
 * @example
 * ```ts
 * const c = log.stats().compaction;
 * console.log(`${c.runs} runs, longest pause ${c.pauseMaxMs.toFixed(1)} ms`);
 * ```
 */
export interface CompactionStats {
  /** Store compactions run (automatic and manual). */
  runs: number;
  /** Entries removed by them. */
  removed: number;
  /** Full passes of the expiry sweep over the cache (one per check, or spread over several). */
  sweeps: number;
  /** Expired values removed from the cache (one change event each). */
  expired: number;
  /** Tombstones dropped after the horizon. */
  tombstonesDropped: number;
  /** Empty retired origins forgotten. */
  originsDropped: number;
  /** Keyed entries that arrived later than the horizon and were neither stored nor applied. */
  staleRefused: number;
  /** Slices run (each one pause of the event loop). */
  slices: number;
  /** Longest slice (ms). */
  pauseMaxMs: number;
  /** Slices longer than 10 ms (a loaded machine may deschedule the process mid-slice). */
  slicesOver10ms: number;
  /**
   * Longest slice counted on the CPU (ms): the lesser of its wall-clock time and the
   * process's CPU time meanwhile, so neither waiting for a core nor other threads (GC
   * helpers) lengthen it.
   */
  pauseMaxCpuMs: number;
  /** Slices longer than 10 ms counted on the CPU. */
  slicesOver10msOnCpu: number;
  /** Time spent in slices (ms): the compaction's share of the CPU. */
  busyMs: number;
}

/** Fresh zeroed counters. */
export function createCompactionStats(): CompactionStats {
  return {
    runs: 0,
    removed: 0,
    sweeps: 0,
    expired: 0,
    tombstonesDropped: 0,
    originsDropped: 0,
    staleRefused: 0,
    slices: 0,
    pauseMaxMs: 0,
    slicesOver10ms: 0,
    pauseMaxCpuMs: 0,
    slicesOver10msOnCpu: 0,
    busyMs: 0,
  };
}
