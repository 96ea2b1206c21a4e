/**
 * Option and result types of the log's public API.
 *
 * @module
 */
import { ClusterError } from "../errors/mod.ts";
import type { Clock, HostPort, Network } from "../transport/mod.ts";
import type { LogStore } from "./store.ts";
import type { LogTuning } from "./tuning.ts";
import type { RefusedInputError } from "./input_guard.ts";
import type { LogLogger } from "./stats.ts";
import type { LogSecurity } from "./connection_guard.ts";

/**
 * How long `append` waits:
 * - `"none"`: returns once the entry has its seq (it is stored right after); survives
 *   nothing: a crash before the store call loses it;
 * - `"local"`: once this node's store holds it (durable as the store's fsync policy says);
 *   survives a restart of this node with a file store, not the loss of this node;
 * - `"quorum"`: once a majority of the voting membership holds it: every member that has not
 *   left, alive or not (a failed one counts until removed), this node included, and at least
 *   `min_quorum`; survives the loss of any minority of the voting members. Otherwise it
 *   rejects with `QuorumError` at the timeout (the entry stays appended and keeps
 *   replicating). See `ReplicatedLog`.
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
export class LogClosedError extends ClusterError<"closed"> {
  /** Creates the error. */
  constructor() {
    super("closed", "the log is closed");
  }
}

/** What `ReplicatedLog.create` needs. */
export interface ReplicatedLogOptions {
  /** This node's name, unique in the cluster (the peers' `setPeers` entries use it). */
  readonly name: string;
  /**
   * Name of this node's own log; default `name`. A node that restarts without its log (a
   * memory store) must not reuse the origin of its previous run: its new seq 1, 2, … would
   * be taken for the old entries its peers already hold, and dropped as duplicates. Give such
   * a node a fresh origin per run (e.g. `${name}@${startTime}`), or keep its log in a
   * `FileLogStore`.
   */
  readonly origin?: string;
  /** "local", "lan" or "wan": peers with another environment are refused. */
  readonly environment: string;
  /**
   * Where sockets come from (`nodeNetwork` in production). Without `network` and `bind` the
   * log is isolated: nothing is bound, nothing replicates, the API works locally.
   */
  readonly network?: Network;
  /** Timers and timestamps; default `systemClock`. */
  readonly clock?: Clock;
  /** Address of the log listener (the stanza's bind_address:bind_port). */
  readonly bind?: HostPort;
  /** Batching and limits (the environment preset's `log` part); required when replicating. */
  readonly tuning?: LogTuning;
  /** Storage; default a fresh `MemoryLogStore`. The log closes it on close. */
  readonly store?: LogStore;
  /** Default deadline of quorum appends in ms; default 5000. */
  readonly quorumTimeoutMs?: number;
  /**
   * Floor of holders a quorum append needs, whatever the size of the voting membership
   * (the stanza's `min_quorum`); default 1, a plain majority.
   */
  readonly minQuorum?: number;
  /**
   * Called when a listed peer's replication connection ends without this node closing it,
   * or its log port refuses a connection: a hint that its process may have crashed (the
   * cluster hands it to membership, which checks the member at once).
   */
  readonly onPeerLost?: (peer: string, reason: string) => void;
  /** Refused peer input (see {@link RefusedInputError}), throttled per peer and reason. */
  readonly onError?: (err: RefusedInputError) => void;
  /** Where refused peers and failed dials are written; default silent. */
  readonly logger?: LogLogger;
  /** Keyed (a keyring) or mutual-TLS protection of the log port; default none (open). */
  readonly security?: LogSecurity;
}
