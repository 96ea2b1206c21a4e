/**
 * Tuning knobs and public option types of the membership layer.
 *
 * The field set mirrors hashicorp/memberlist's Config timings so the presets can copy
 * DefaultLocal/LAN/WANConfig one to one (docs/PROTOCOL.md §1.1).
 *
 * @module
 */
import type { Clock, HostPort, Network } from "../transport/mod.ts";
import type { Keyring } from "./wire/mod.ts";

/**
 * The memberlist part of a preset; values equal hashicorp DefaultLocal/LAN/WANConfig.
 *
 * @example
 * ```ts
 * const tuning: MemberlistTuning = {
 *   probeIntervalMs: 1000, probeTimeoutMs: 500, indirectChecks: 3, gossipIntervalMs: 200,
 *   gossipNodes: 3, gossipToTheDeadMs: 30_000, suspicionMult: 4, suspicionMaxTimeoutMult: 6,
 *   retransmitMult: 4, pushPullIntervalMs: 30_000, tcpTimeoutMs: 10_000,
 *   awarenessMaxMultiplier: 8, udpBufferSize: 1400, disableTcpPings: false, deadNodeReclaimMs: 0,
 * };
 * ```
 */
export interface MemberlistTuning {
  /** Time between probes of one member (round robin). */
  probeIntervalMs: number;
  /** How long to wait for a direct ack before asking relays (never scaled by awareness). */
  probeTimeoutMs: number;
  /** Number of relays asked for an indirect probe. */
  indirectChecks: number;
  /** Time between gossip rounds. */
  gossipIntervalMs: number;
  /** Peers contacted per gossip round. */
  gossipNodes: number;
  /** How long dead members still receive gossip (and are kept before reaping). */
  gossipToTheDeadMs: number;
  /** Suspicion timeout multiplier (Lifeguard minimum = mult × log10(n) × probe interval). */
  suspicionMult: number;
  /** Maximum suspicion timeout as a multiple of the minimum. */
  suspicionMaxTimeoutMult: number;
  /**
   * Broadcast retransmit multiplier: sends = mult × ceil(log10(n + 1)) on a loss-free network,
   * up to 3× that under loss measured by the probes (delivery.ts).
   */
  retransmitMult: number;
  /** Base interval of full state sync with one random member (0 disables). */
  pushPullIntervalMs: number;
  /** Deadline of every TCP stream exchange. */
  tcpTimeoutMs: number;
  /** Upper bound of the local health multiplier. */
  awarenessMaxMultiplier: number;
  /** UDP payload budget in bytes. */
  udpBufferSize: number;
  /** Skip the TCP fallback ping. */
  disableTcpPings: boolean;
  /** After this long, a dead name may come back at another address; 0 = never. */
  deadNodeReclaimMs: number;
  /**
   * Every this often, re-join one random member declared dead (not left), with probability
   * failed / alive, as Serf's ReconnectInterval does: this heals partitions that outlived
   * suspicion and gossip-to-the-dead; 0 disables. The presets set it (30 s on lan, as Serf).
   */
  reconnectIntervalMs: number;
  /**
   * How long a failed member's address (and a reaped member's tombstone) is kept for
   * reconnecting. The presets set it (24 h, as Serf's ReconnectTimeout).
   */
  reconnectTimeoutMs: number;
  /**
   * The fast path for crashed processes (refusal.ts): on evidence that a member may have
   * crashed (a refused TCP connection to it, or a hint such as a lost log connection), check
   * it at once, and when its own address keeps refusing TCP connections for
   * {@link refusalWindowMs}, declare it dead without suspicion. Silence (timeouts, loss,
   * partitions) never takes this path. false is memberlist's behaviour; the presets say
   * which environments turn it on, and why.
   */
  deadOnRefusal: boolean;
  /**
   * How long refusals must keep coming before a member is declared dead: three dials, at the
   * start, the middle and the end of this window. A member that restarts in place and listens
   * again within it is not declared dead. The presets set 150 ms.
   */
  refusalWindowMs: number;
}

/**
 * Membership events; each fires once per state transition.
 *
 * @example
 * ```ts
 * list.on("dead", (m: MemberlistEvents["dead"]) => console.log(m.name));
 * ```
 */
export interface MemberlistEvents {
  /** A node became alive from unknown, dead or left. */
  join: Member;
  /** An alive node changed its metadata. */
  update: Member;
  /** A node became suspect. */
  suspect: Member;
  /** A node was declared dead. */
  dead: Member;
  /** A node left gracefully. */
  left: Member;
}

/**
 * The membership state of a member.
 *
 * @example
 * ```ts
 * const s: MemberState = list.localMember().state; // "alive"
 * ```
 */
export type MemberState = "alive" | "suspect" | "dead" | "left";

/**
 * Version range a member speaks: memberlist protocol or delegate protocol.
 *
 * @example
 * ```ts
 * const { min, max, current }: VersionRange = member.protocol; // 1, 5, 2
 * ```
 */
export interface VersionRange {
  /** Lowest understood version. */
  min: number;
  /** Highest understood version. */
  max: number;
  /** Version spoken. */
  current: number;
}

/**
 * A snapshot of one member, as handed to callers and events.
 *
 * @example
 * ```ts
 * for (const m of list.members()) console.log(m.name, m.state, m.incarnation);
 * ```
 */
export interface Member {
  /** Unique node name. */
  name: string;
  /** Advertised gossip address. */
  address: HostPort;
  /** Application metadata (≤ 512 bytes). */
  meta: Uint8Array;
  /** Incarnation number last seen. */
  incarnation: number;
  /** Current state. */
  state: MemberState;
  /** Memberlist protocol versions (Vsn bytes 0..2). */
  protocol: VersionRange;
  /** Delegate protocol versions (Vsn bytes 3..5). */
  delegate: VersionRange;
}

/**
 * Hooks into the state exchanged by push/pull and reliable user messages.
 *
 * @example
 * ```ts
 * const delegate: MemberlistDelegate = { notifyMsg: (b) => console.log(b.length) };
 * ```
 */
export interface MemberlistDelegate {
  /** Extra state sent along push/pull. */
  localState?(join: boolean): Uint8Array;
  /** Receives the remote extra state of a push/pull. */
  mergeRemoteState?(buf: Uint8Array, join: boolean): void;
  /** Receives user messages (reliable or packet). */
  notifyMsg?(buf: Uint8Array): void;
  /**
   * A member announced a name already known at another address (two nodes started with one
   * name): `existing` is the member as known here (this node itself when it is our own name),
   * `other` where the newcomer claims it. Called on every such announcement (memberlist's
   * ConflictDelegate); the newcomer is not admitted.
   */
  notifyConflict?(existing: Member, other: { name: string; address: HostPort }): void;
}

/**
 * Destination of debug and warning lines.
 *
 * @example
 * ```ts
 * const logger: MemberlistLogger = { debug: () => {}, warn: (m, d) => console.warn(m, d) };
 * ```
 */
export interface MemberlistLogger {
  /** Chatty diagnostics. */
  debug(msg: string, data?: object): void;
  /** Something unusual that the node survived. */
  warn(msg: string, data?: object): void;
}

/**
 * Options of {@link Memberlist.create}.
 *
 * @example
 * ```ts
 * const opts: MemberlistOptions = {
 *   name: "a", network: nodeNetwork, bind: { host: "127.0.0.1", port: 0 }, tuning: presets.local.memberlist,
 * };
 * ```
 */
export interface MemberlistOptions {
  /** Unique node name. */
  name: string;
  /** Where to bind sockets (real or simulated). */
  network: Network;
  /** Time source; default systemClock. */
  clock?: Clock;
  /** Bind address; port 0 = ephemeral. */
  bind: { host: string; port: number };
  /** Advertised address; default derived from the bound one. */
  advertise?: HostPort;
  /** Timings. */
  tuning: MemberlistTuning;
  /** AES-GCM keys; when set, everything is encrypted and plaintext is rejected. */
  keyring?: Keyring;
  /**
   * With a keyring: refuse plaintext packets and streams (memberlist's GossipVerifyIncoming).
   * Default true; false only while a running cluster migrates from open to keyed.
   */
  gossipVerifyIncoming?: boolean;
  /**
   * With a keyring: encrypt what is sent (memberlist's GossipVerifyOutgoing). Default true;
   * false only during the first step of a migration from open to keyed.
   */
  gossipVerifyOutgoing?: boolean;
  /** Label header (not understood by memberlist < v0.3.0); default none. */
  label?: string;
  /** Initial metadata (≤ 512 bytes). */
  meta?: Uint8Array;
  /** LZW compression of packets and streams; default true. */
  enableCompression?: boolean;
  /** Protocol version spoken, 1..5; default 2. */
  protocolVersion?: number;
  /** Uniform [0, 1) source; default Math.random (inject for deterministic simulation). */
  random?: () => number;
  /** Push/pull state and user message hooks. */
  delegate?: MemberlistDelegate;
  /** Log sink; default silent. */
  logger?: MemberlistLogger;
}

/**
 * Per-type and error counters of one node.
 *
 * @example
 * ```ts
 * const c = list.counters();
 * console.log(c.messagesIn.ping ?? 0, c.malformed, c.rejected);
 * ```
 */
export interface MemberlistCounters {
  /** Datagrams received, by kind: the message type of a single-message packet, else "compound". */
  packetsIn: Record<string, number>;
  /** Datagram bytes received (on the wire), by the same kind. */
  bytesIn: Record<string, number>;
  /** Datagrams sent, by kind. */
  packetsOut: Record<string, number>;
  /** Datagram bytes sent (on the wire), by kind. */
  bytesOut: Record<string, number>;
  /** Decoded messages received, by message type name (each compound part counts). */
  messagesIn: Record<string, number>;
  /** Messages sent, by message type name (each compound part counts). */
  messagesOut: Record<string, number>;
  /** Streams accepted/opened, by kind ("pushPull", "user", "ping", ...). */
  streamsIn: Record<string, number>;
  /** Streams opened by this node, by kind. */
  streamsOut: Record<string, number>;
  /** Packets or streams that failed to decode (codec errors). */
  malformed: number;
  /** Packets or streams refused: decrypt failure, label mismatch, protocol incompatibility, limits. */
  rejected: number;
  /** Probes started. */
  probesSent: number;
  /** Probes that ended without any ack (the target became suspect). */
  probesFailed: number;
  /** Push/pull exchanges answered for other nodes (completed). */
  pushPullsIn: number;
  /** Push/pull exchanges initiated by this node (completed). */
  pushPullsOut: number;
  /** Times this node refuted an accusation about itself. */
  refutations: number;
  /** Suspicion timeouts that fired with fewer confirmations than wanted (Lifeguard degraded). */
  degradedTimeouts: number;
  /** Re-join attempts to failed members (see `reconnectIntervalMs`). */
  reconnects: number;
  /**
   * Accusations sent straight to a member that announced itself alive with an incarnation
   * older than the death or suspicion we hold about it (a restarted node), so it refutes.
   */
  accusationsSent: number;
  /**
   * Our current alive sent straight to a member that accused us: right after refuting it, or
   * when it accused an incarnation we had already out-bid (it missed our refutation), so its
   * suspicion timer does not declare us dead on its own.
   */
  accusationsAnswered: number;
  /**
   * Pings sent before believing an alive that would bring a dead or reaped member back (it
   * may be a replay of state from before its death, memberlist#312).
   */
  revivalChecks: number;
  /** Out-of-schedule checks of a member that may have crashed (see `deadOnRefusal`). */
  crashChecks: number;
  /** Members this node declared dead because their own address kept refusing connections. */
  crashDeaths: number;
}

/**
 * The largest metadata a member may carry (memberlist MetaMaxSize).
 *
 * @example
 * ```ts
 * if (meta.length > META_MAX_SIZE) throw new RangeError("meta too large");
 * ```
 */
export const META_MAX_SIZE = 512;
/**
 * memberlist ProtocolVersionMin.
 *
 * @example
 * ```ts
 * PROTOCOL_VERSION_MIN; // 1
 * ```
 */
export const PROTOCOL_VERSION_MIN = 1;
/**
 * memberlist ProtocolVersionMax.
 *
 * @example
 * ```ts
 * PROTOCOL_VERSION_MAX; // 5
 * ```
 */
export const PROTOCOL_VERSION_MAX = 5;
/** In-flight inbound push/pull limit (maxPushPullRequests). */
export const MAX_PUSH_PULL_REQUESTS = 128;
/** Largest stream payload accepted (maxPushStateBytes). */
export const MAX_STREAM_BYTES: number = 20 * 1024 * 1024;

/**
 * Checks a tuning for values that would break the algorithms (non-positive intervals...).
 *
 * @example
 * ```ts
 * validateTuning(presets.lan.memberlist); // ok, or throws RangeError
 * ```
 */
export function validateTuning(t: MemberlistTuning): void {
  const positive: (keyof MemberlistTuning)[] = [
    "probeIntervalMs",
    "probeTimeoutMs",
    "gossipIntervalMs",
    "suspicionMult",
    "suspicionMaxTimeoutMult",
    "retransmitMult",
    "tcpTimeoutMs",
    "awarenessMaxMultiplier",
  ];
  for (const k of positive) {
    const v = t[k];
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
      throw new RangeError(`tuning.${k} must be a positive number, got ${String(v)}`);
    }
  }
  const nonNegative: (keyof MemberlistTuning)[] = [
    "indirectChecks",
    "gossipNodes",
    "gossipToTheDeadMs",
    "pushPullIntervalMs",
    "deadNodeReclaimMs",
    "reconnectIntervalMs",
    "reconnectTimeoutMs",
    "refusalWindowMs",
  ];
  for (const k of nonNegative) {
    const v = t[k];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw new RangeError(`tuning.${k} must be a non-negative number, got ${String(v)}`);
    }
  }
  if (t.deadOnRefusal !== undefined && typeof t.deadOnRefusal !== "boolean") {
    throw new RangeError(`tuning.deadOnRefusal must be a boolean, got ${String(t.deadOnRefusal)}`);
  }
  if (!Number.isInteger(t.udpBufferSize) || t.udpBufferSize < 128 || t.udpBufferSize > 65_000) {
    throw new RangeError(`tuning.udpBufferSize must be an integer in [128, 65000]`);
  }
}
