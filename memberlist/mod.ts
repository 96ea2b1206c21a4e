/**
 * Cluster membership and failure detection: SWIM with the Lifeguard extensions, wire-
 * compatible with hashicorp/memberlist (v0.2.2 and later). A Go memberlist node and a
 * TypeScript node can join one cluster.
 *
 * Members probe each other (direct, indirect with nacks, TCP fallback), suspect and then
 * declare dead with a Lifeguard suspicion timer that shrinks with independent confirmations,
 * refute accusations about themselves with a higher incarnation, spread every change by
 * transmit-limited gossip piggybacking, and repair drift with periodic push/pull state sync.
 * A node sends the same push/pull body again while its member table is unchanged, so a quiet
 * cluster of thousands does not re-encode and re-compress every table for every exchange.
 * Timers go through an injected Clock and sockets through an injected Network, so the same
 * code runs on loopback, on real networks and in a deterministic simulation.
 *
 * Beyond hashicorp/memberlist, these behaviours keep large, lossy or long-lived clusters whole:
 * - reconnect (Serf's answer to memberlist#222): members declared dead are remembered for
 *   `reconnectTimeoutMs` (24 h) and one of them is re-joined every `reconnectIntervalMs`
 *   (30 s) with probability failed / alive, so the halves of a healed partition merge again
 *   by themselves, even after each side reaped the other;
 * - tombstones (memberlist#312): a reaped member's last incarnation is kept as long, so a
 *   stale "alive" replayed by push/pull cannot revive it, and an alive that would bring a dead
 *   member back is believed only once the member answers a ping;
 * - direct accusations (memberlist#311, PR #345): an alive older than the death or suspicion
 *   we hold is answered by sending that accusation to the member (and re-gossiping a death),
 *   so a node restarted at incarnation 1 refutes at once;
 * - answered accusers: a refutation also goes straight to the accuser and to the member that
 *   relayed the accusation (gossip with a small retransmit limit may miss them), and so does
 *   our current alive when someone accuses an incarnation we already out-bid (it missed our
 *   refutation);
 * - crashed processes are declared dead at once (`deadOnRefusal`, refusal.ts): on evidence
 *   (a refused TCP connection, or a hint through {@link Memberlist.probeNow} such as a lost log
 *   connection) a member whose own address keeps refusing TCP connections for
 *   `refusalWindowMs` is declared dead without suspicion; silence keeps SWIM's path;
 * - a retransmit budget that grows with loss: each broadcast is sent `1/q` times as often,
 *   where q is the one-way delivery the direct probes measure (up to 3×; delivery.ts), so
 *   heavy loss does not leave a member without a single copy of a change.
 *
 * @example
 * ```ts
 * import { Memberlist } from "./mod.ts";
 * import { nodeNetwork } from "../transport/mod.ts";
 * import { presets } from "../presets/mod.ts";
 *
 * const list = await Memberlist.create({
 *   name: "node-a",
 *   network: nodeNetwork,
 *   bind: { host: "127.0.0.1", port: 0 },
 *   tuning: presets.local.memberlist,
 * });
 * list.on("join", (m) => console.log("join", m.name));
 * list.on("dead", (m) => console.log("dead", m.name));
 * await list.join(["127.0.0.1:7946"]);
 * await list.leave(1000);
 * await list.shutdown();
 * ```
 *
 * @module
 */
export { Memberlist } from "./memberlist.ts";
export { pickAdvertiseHost } from "./advertise.ts";
export type {
  BindOptions,
  Clock,
  HostPort,
  Network,
  PacketHandler,
  Stream,
  StreamHandler,
  TimerHandle,
  Transport,
} from "../transport/mod.ts";
export type {
  Member,
  MemberlistCounters,
  MemberlistDelegate,
  MemberlistEvents,
  MemberlistLogger,
  MemberlistOptions,
  MemberlistTuning,
  MemberState,
  VersionRange,
} from "./config.ts";
export { META_MAX_SIZE, PROTOCOL_VERSION_MAX, PROTOCOL_VERSION_MIN } from "./config.ts";
export { JoinError } from "./join.ts";
export type { JoinFailure, JoinResult } from "./join.ts";
export { RemoteError } from "./push_pull.ts";
export { ProtocolError } from "./versions.ts";
export { CodecError } from "./wire/mod.ts";
export { Keyring, KeyringError } from "./wire/mod.ts";
export type { EncryptionVersion } from "./wire/mod.ts";
export { MessageType } from "./wire/mod.ts";
export { suspicionTimeout } from "./suspicion.ts";
export { retransmitLimit } from "./queue.ts";
export { pushPullScale } from "./gossip.ts";
export { ClusterError } from "../errors/mod.ts";
