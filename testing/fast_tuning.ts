/**
 * Shortened memberlist timings for real-socket tests: probe 200 ms / 100 ms, one relay, gossip
 * 50 ms × 3, suspicion 3 × log10(n) probes (max ×6), retransmit 2, gossip-to-the-dead and
 * push/pull 2 s, TCP timeout 1 s; so a few seconds cover many probe rounds.
 */
import type { MemberlistTuning } from "../memberlist/mod.ts";

/** The fast test tuning described above. */
export const FAST_TUNING: MemberlistTuning = {
  probeIntervalMs: 200,
  probeTimeoutMs: 100,
  indirectChecks: 1,
  gossipIntervalMs: 50,
  gossipNodes: 3,
  gossipToTheDeadMs: 2000,
  suspicionMult: 3,
  suspicionMaxTimeoutMult: 6,
  retransmitMult: 2,
  pushPullIntervalMs: 2000,
  tcpTimeoutMs: 1000,
  awarenessMaxMultiplier: 8,
  udpBufferSize: 1400,
  disableTcpPings: false,
  deadNodeReclaimMs: 0,
  reconnectIntervalMs: 30_000, // Serf's defaults, as the presets have them
  reconnectTimeoutMs: 24 * 3600_000,
  deadOnRefusal: false, // memberlist's behaviour; the fast path has tests of its own
  refusalWindowMs: 150,
};
