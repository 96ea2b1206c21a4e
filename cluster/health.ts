/**
 * Liveness and readiness of a node, from what the node knows: closed or leaving, joined (seen
 * enough alive members once), and, when asked for, a quorum of the voting membership.
 *
 * @module
 */
import type { ClusterHealth, ReadinessOptions } from "./types.ts";
import type { QuorumStatus } from "./voters.ts";

/** What {@link nodeHealth} looks at. */
export interface HealthInputs {
  /** The node was closed. */
  readonly closed: boolean;
  /** The node is leaving the cluster. */
  readonly leaving: boolean;
  /** Has seen `readiness.members` alive members at least once. */
  readonly joined: boolean;
  /** Alive members seen now, itself included. */
  readonly alive: number;
  /** What readiness requires. */
  readonly readiness: Required<ReadinessOptions>;
  /** The quorum as the node sees it. */
  readonly quorum: QuorumStatus;
}

/**
 * Live unless closed; ready when live, not leaving, joined and (with `readiness.quorum`)
 * holding a quorum. Every reason it is not ready is one sentence.
 *
 * @example
 * ```ts
 * nodeHealth({ closed: false, leaving: false, joined: false, alive: 1,
 *   readiness: { members: 2, quorum: false }, quorum });
 * // { live: true, ready: false, reasons: ["not joined yet: sees 1 alive member(s), needs 2"] }
 * ```
 */
export function nodeHealth(h: HealthInputs): ClusterHealth {
  if (h.closed) return { live: false, ready: false, reasons: ["the node is closed"] };
  const reasons: string[] = [];
  if (h.leaving) reasons.push("the node is leaving the cluster");
  if (!h.joined) {
    reasons.push(`not joined yet: sees ${h.alive} alive member(s), needs ${h.readiness.members}`);
  }
  if (h.readiness.quorum && !h.quorum.hasQuorum) {
    const q = h.quorum;
    reasons.push(`no quorum: ${q.reachable} of ${q.voters} voters reachable, ${q.needed} needed`);
  }
  return { live: true, ready: reasons.length === 0, reasons };
}
