/**
 * Replication tuning. The values come from outside (the environment presets); the log only
 * defines the shape.
 *
 * @module
 */
import type { MemoryTuning } from "./retention.ts";

/**
 * How the replicator pushes, batches and bounds its traffic.
 *
 * @example
 * ```ts
 * const tuning: LogTuning = {
 *   pushMode: "immediate", batchWindowMs: 0, compress: false, syncIntervalMs: 1000,
 *   maxBatchEntries: 1024, maxBatchBytes: 1 << 20, maxFrameBytes: 16 << 20, connectTimeoutMs: 1000,
 * };
 * ```
 */
export interface LogTuning {
  /**
   * "immediate": each append goes to connected peers at once (appends of one tick share a
   * frame); "batched": within a window, except that a waiting quorum append sends the
   * gathered batch at once.
   */
  pushMode: "immediate" | "batched";
  /** Batched mode: how long appends gather before they are sent (ms). */
  batchWindowMs: number;
  /** Deflate entry and snapshot frames. */
  compress: boolean;
  /** Digest exchange (and redial of lost peers) every this many ms. */
  syncIntervalMs: number;
  /** Most entries in one frame. */
  maxBatchEntries: number;
  /** Soft byte budget of one frame's entries (a single larger entry still goes alone). */
  maxBatchBytes: number;
  /** Hard limit of one frame, also after inflation; a peer exceeding it is disconnected. */
  maxFrameBytes: number;
  /** Dial and handshake deadline (ms). */
  connectTimeoutMs: number;
  /**
   * Hybrid-clock timestamps further ahead of local time than this (ms) are never adopted:
   * entries carrying one wait (anti-entropy offers them again) until local time catches up.
   * Default {@link LOG_LIMIT_DEFAULTS}.
   */
  maxClockOffsetMs?: number;
  /** Most replication connections at once, handshaken or not. */
  maxConnections?: number;
  /** Most inbound replication connections from one remote IP address. */
  maxConnectionsPerAddress?: number;
  /** A frame whose first byte arrived must be complete within this many ms. */
  frameTimeoutMs?: number;
  /** A handshaken connection that sends nothing for this many ms is cut. */
  idleTimeoutMs?: number;
  /** Bytes of incomplete frames buffered across all connections; above it the largest holder is cut. */
  maxBufferedBytes?: number;
  /**
   * Flow control: bytes of entries and snapshots sent to a peer per digest it sent. The
   * receiving side sends a digest every half of this, so an honest stream never stalls.
   */
  maxReplyBytes?: number;
  /** A peer's head or snapshot bound more than this many seqs ahead of ours is refused. */
  maxSeqAhead?: number;
  /** Compaction budget, tombstone horizon and retention; default the lan preset's. */
  memory?: MemoryTuning;
}

/** The limits of {@link LogTuning} with every optional value filled in. */
export type LogLimits = Required<
  Pick<
    LogTuning,
    | "maxClockOffsetMs"
    | "maxConnections"
    | "maxConnectionsPerAddress"
    | "frameTimeoutMs"
    | "idleTimeoutMs"
    | "maxBufferedBytes"
    | "maxReplyBytes"
    | "maxSeqAhead"
  >
>;

/**
 * Limits used when a {@link LogTuning} leaves them out: the lan preset's values.
 *
 * @example
 * ```ts
 * LOG_LIMIT_DEFAULTS.maxClockOffsetMs; // 500
 * ```
 */
export const LOG_LIMIT_DEFAULTS: Readonly<LogLimits> = Object.freeze({
  maxClockOffsetMs: 500,
  maxConnections: 1024,
  maxConnectionsPerAddress: 16,
  frameTimeoutMs: 10_000,
  idleTimeoutMs: 30_000,
  maxBufferedBytes: 64 * 1024 * 1024,
  maxReplyBytes: 1024 * 1024,
  maxSeqAhead: 2 ** 32,
});

/** Highest seq a peer may ever name: 2^50, 35 years at a million appends per second. */
export const MAX_PLAUSIBLE_SEQ: number = 2 ** 50;

/**
 * The limits of `tuning`, defaults filled in.
 *
 * @example
 * ```ts
 * logLimits({ ...tuning, idleTimeoutMs: 1000 }).idleTimeoutMs; // 1000
 * ```
 */
export function logLimits(tuning: LogTuning): LogLimits {
  const out: LogLimits = { ...LOG_LIMIT_DEFAULTS };
  for (const k of Object.keys(out) as (keyof LogLimits)[]) {
    const v = tuning[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}
