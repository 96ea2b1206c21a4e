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
  /** Compaction budget, tombstone horizon and retention; default the lan preset's. */
  memory?: MemoryTuning;
}
