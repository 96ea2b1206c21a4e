/**
 * Option and result types of the log's public API.
 *
 * @module
 */

/**
 * How long `append` waits:
 * - `"none"`: returns once the entry has its seq (it is stored right after);
 * - `"local"`: once this node's store holds it (durable as the store's fsync policy says);
 * - `"quorum"`: once a majority of the members holds it (see `ReplicatedLog`).
 */
export type AckMode = "none" | "local" | "quorum";

/**
 * Options of an append.
 *
 * @example
 * ```ts
 * const options: AppendOptions = { key: "user:1", ack: "quorum", timeout: 2000 };
 * ```
 */
export interface AppendOptions {
  /** Makes the entry a cache write of this key. */
  readonly key?: string;
  /** Acknowledgement to wait for; default "local". */
  readonly ack?: AckMode;
  /** Quorum wait in ms; default 5000. */
  readonly timeout?: number;
  /** Keyed entries only: lifetime in ms from the entry's timestamp. */
  readonly ttl?: number;
}

/**
 * Where an appended entry landed.
 *
 * @example
 * ```ts
 * const at: AppendResult = { origin: "node-a", seq: 42 };
 * ```
 */
export interface AppendResult {
  /** This node's name. */
  readonly origin: string;
  /** The entry's seq in this node's log. */
  readonly seq: number;
}

/**
 * Options of `read`.
 *
 * @example
 * ```ts
 * const query: ReadOptions = { origin: "node-a", from: 1, limit: 100 };
 * ```
 */
export interface ReadOptions {
  /** Whose log. */
  readonly origin: string;
  /**
   * First seq (default 1). Entries that compaction or retention removed are skipped, so the
   * first entry returned may be above `from`: a reader behind the retention point starts at
   * the first retained entry (compare its seq with `from` to see what was skipped).
   */
  readonly from?: number;
  /** Most entries (default: all). */
  readonly limit?: number;
}

/**
 * An operation on a closed log.
 *
 * @example
 * ```ts
 * await log.close();
 * await log.append(bytes).catch((err) => err instanceof LogClosedError); // true
 * ```
 */
export class LogClosedError extends Error {
  /** Creates the error. */
  constructor() {
    super("the log is closed");
    this.name = "LogClosedError";
  }
}
