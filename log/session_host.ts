/**
 * The contract between one replication connection (peer.ts) and what owns it: the log data it
 * reads and feeds, and the replicator's limits, counters and callbacks (`Session` is the
 * connection type, PeerSession: kept a parameter so this file does not import peer.ts). A test gives a session
 * a fake host; the replicator is the real one.
 *
 * @module
 */
import type { Clock } from "../transport/mod.ts";
import type { Entry } from "./entry.ts";
import type { FrameCache } from "./frame_cache.ts";
import type { QuorumTracker } from "./quorum.ts";
import type { LogLogger, LogStats } from "./stats.ts";
import type { LogLimits, LogTuning } from "./tuning.ts";

/** The log data a connection reads and feeds. */
export interface ReplicaData {
  /** origin → highest seq held. */
  heads(): ReadonlyMap<string, number>;
  /**
   * What digests say this node holds: `heads()` plus origins it forgot lately, at the head
   * they had (so that peers do not offer them back).
   */
  announced(): ReadonlyMap<string, number>;
  /** origin → compaction point. */
  floors(): ReadonlyMap<string, number>;
  /** Up to `limit` entries of `origin` from `fromSeq`, ascending. */
  read(origin: string, fromSeq: number, limit: number): Promise<Entry[]>;
  /**
   * Applies a gap-free batch from peer `from` (duplicates are skipped, a gap stops it);
   * false when the batch was refused outright (e.g. entries of this node's own origin).
   */
  applyEntries(origin: string, entries: Entry[], from: string): Promise<boolean>;
  /** Installs a compacted range from peer `from`; false when refused. */
  applySnapshot(origin: string, through: number, entries: Entry[], from: string): Promise<boolean>;
}

/** What a connection needs from the replicator that owns it. */
export interface SessionHost<Session> {
  /** This node's name. */
  readonly name: string;
  /** This node's own log (usually its name). */
  readonly origin: string;
  /** Environment both sides must share. */
  readonly environment: string;
  /** Limits and batching. */
  readonly tuning: LogTuning;
  /** The connection limits, defaults filled in. */
  readonly limits: LogLimits;
  /** Timers. */
  readonly clock: Clock;
  /** Counters to bump. */
  readonly stats: LogStats;
  /** Where refusals and failures are written. */
  readonly logger: LogLogger;
  /** Acks of own entries go here. */
  readonly quorum: QuorumTracker;
  /** The log. */
  readonly data: ReplicaData;
  /** Entries frames shared by the connections. */
  readonly frames: FrameCache;
  /** Handshake done; false refuses the connection (a promise: decided a little later). */
  opened(session: Session): boolean | Promise<boolean>;
  /** The connection is gone (called once per session, opened or not). */
  closed(session: Session): void;
  /** The session's incomplete-frame bytes changed by `delta` (the host bounds the total). */
  buffered(session: Session, delta: number): void;
}
