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
  "unauthenticated",
  "key",
  "tampered",
  "tls",
  "not-member",
  "duplicate",
];

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
    plaintextAccepted: 0,
    rejectedPeers,
  };
}

/** A detached copy. */
export function copyStats(s: LogStats): LogStats {
  return { ...s, rejectedPeers: { ...s.rejectedPeers } };
}
