/**
 * The three tuning presets picked by the stanza's `environment`.
 *
 * The memberlist part equals hashicorp/memberlist's DefaultLocalConfig, DefaultLANConfig and
 * DefaultWANConfig, so a Go node with the matching default config detects failures on the same
 * schedule as ours. Beyond those, `deadOnRefusal` (on in local and lan) declares a process that
 * crashed on a live host dead as soon as its address keeps refusing connections, where
 * memberlist waits out a suspicion (memberlist/refusal.ts). The log part tunes replication of
 * the append-only log.
 *
 * @example
 * ```ts
 * import { presets } from "@response/cluster/presets";
 * presets.lan.memberlist.probeIntervalMs; // 1000
 * presets.wan.log.pushMode; // "batched"
 * ```
 *
 * @module
 */
import type { MemberlistTuning } from "../memberlist/mod.ts";
import type { LogTuning } from "../log/mod.ts";

/**
 * The tuning preset a cluster runs with; every member must use the same one. The list of
 * environments is this type and the {@link presets} table: the stanza's validation, its error
 * messages and the node metadata check all read them from here.
 */
export type Environment = "local" | "lan" | "wan";

/** One environment's tuning: membership and replication. */
export interface Preset {
  /** The environment this preset belongs to. */
  readonly environment: Environment;
  /** Membership timings (hashicorp/memberlist defaults for this environment). */
  readonly memberlist: Readonly<MemberlistTuning>;
  /** Replication of the append-only log. */
  readonly log: Readonly<LogTuning>;
}

// Shared by every environment: these limits are about memory and frame sizes, not latency.
const MiB = 1024 * 1024;
// memberlist's reconnect timeout ("forget after"), and so the log's tombstone horizon
const FORGET_AFTER_MS = 24 * 3600_000;

/** LAN: one data center. Memberlist's DefaultLANConfig. */
const lan: Preset = {
  environment: "lan",
  memberlist: {
    probeIntervalMs: 1000, // one probe per second per node: detection in seconds at low cost
    probeTimeoutMs: 500, // 99.9th percentile of a LAN round trip is far below this
    indirectChecks: 3, // three relays tolerate two lossy paths
    gossipIntervalMs: 200, // 5 gossip rounds per second: convergence in ~2 s at 1,000 nodes
    gossipNodes: 3, // fan-out per round
    gossipToTheDeadMs: 30_000, // keep telling dead nodes for 30 s so they can refute
    suspicionMult: 4, // suspicion lasts 4 × log10(n) probe intervals at least (Lifeguard)
    suspicionMaxTimeoutMult: 6, // and 6× that without confirmations
    retransmitMult: 4, // each broadcast goes out 4 × ceil(log10(n+1)) times (more under loss)
    pushPullIntervalMs: 30_000, // full state sync repairs what gossip missed
    tcpTimeoutMs: 10_000, // streams (push/pull, fallback ping) give up after this
    awarenessMaxMultiplier: 8, // a slow node probes up to 8× less often instead of flapping
    udpBufferSize: 1400, // fits a 1500-byte Ethernet MTU
    disableTcpPings: false, // the TCP fallback ping spots UDP-only trouble
    deadNodeReclaimMs: 0, // a dead name cannot return at another address (memberlist default)
    reconnectIntervalMs: 30_000, // re-join one failed member per round: healed partitions merge (Serf)
    reconnectTimeoutMs: FORGET_AFTER_MS, // forget a failed member's address after a day (Serf)
    // On: in one data center a refused connection comes from the member's own host, whose
    // process is gone; declaring it dead at once turns 5.5 s of failover into well under 1 s.
    deadOnRefusal: true,
    refusalWindowMs: 150, // three refusals over 150 ms: a restart in place that listens again by then is no death
  },
  log: {
    pushMode: "immediate", // sub-millisecond links: every append goes out at once
    batchWindowMs: 0,
    compress: false, // CPU costs more than bytes on a LAN
    syncIntervalMs: 5_000, // digest exchange repairs anything a push missed
    maxBatchEntries: 1024, // bounds one catch-up frame
    maxBatchBytes: 1 * MiB,
    maxFrameBytes: 16 * MiB, // hard limit: a larger frame disconnects the peer
    connectTimeoutMs: 5_000,
    // bounds against bad or hostile input (docs/SECURITY.md)
    maxClockOffsetMs: 500, // CockroachDB's default max offset: NTP keeps a LAN far closer
    maxConnections: 1024, // a full mesh of 1,000 nodes, plus a few redials in flight
    maxConnectionsPerAddress: 16, // one node per address, room for redials and a few co-hosted nodes
    frameTimeoutMs: 10_000, // a 16 MiB frame needs 1.6 MB/s, which every LAN link delivers
    idleTimeoutMs: 30_000, // six missed digests (one per 5 s sync interval)
    maxBufferedBytes: 64 * MiB, // four full frames at once; beyond, the biggest holder is cut
    maxReplyBytes: 1 * MiB, // per digest; above a LAN's bandwidth-delay product, so no stall
    maxSeqAhead: 2 ** 32, // a snapshot may jump 4 billion entries, not to 2^53
    memory: {
      // a tombstone outlives the longest absence after which a member may still rejoin with
      // its old state: memberlist forgets a failed member's address after reconnectTimeout
      tombstoneHorizonMs: FORGET_AFTER_MS,
      // plain entries per origin, like a NATS stream's limits: at most ~32 MiB per origin
      plain: { maxEntries: 100_000, maxBytes: 32 * MiB, maxAgeMs: 24 * 3600_000 },
      checkIntervalMs: 1_000, // expired values leave memory (and emit their event) within ~1 s
      minGarbageBytes: 4 * MiB, // below this, compacting costs more than the memory it frees
      garbageRatio: 1, // compact when superseded bytes exceed the live bytes: at most 2× live
      sliceMs: 2, // no compaction pause over ~2 ms; appends and sockets run in between
    },
  },
};

const lanMemory = lan.log.memory as NonNullable<LogTuning["memory"]>;

/**
 * Local: one host or a loopback test bed. Memberlist's DefaultLocalConfig. Its short probe
 * timeout and small retransmit count assume no packet loss; between hosts use `lan`.
 */
const local: Preset = {
  environment: "local",
  memberlist: {
    ...lan.memberlist,
    probeTimeoutMs: 200, // loopback answers in microseconds
    indirectChecks: 1, // few paths to differ on one host
    gossipIntervalMs: 100,
    gossipToTheDeadMs: 15_000,
    suspicionMult: 3,
    retransmitMult: 2,
    pushPullIntervalMs: 15_000,
    tcpTimeoutMs: 1_000,
    reconnectIntervalMs: 10_000, // one host: retrying is cheap, heal in seconds
    deadOnRefusal: true, // on: on one host a refusal can only come from that host's kernel
  },
  log: {
    ...lan.log,
    syncIntervalMs: 1_000, // cheap on loopback, and makes repairs quick
    connectTimeoutMs: 1_000,
    maxClockOffsetMs: 250, // one host, one clock: only scheduling delays separate timestamps
    maxConnectionsPerAddress: 256, // every peer of a loopback test bed shares 127.0.0.1
    frameTimeoutMs: 5_000, // loopback moves 16 MiB in milliseconds
    idleTimeoutMs: 10_000, // ten missed digests (one per second)
    memory: {
      ...lanMemory,
      // test beds and demos: keep less plain history, and compact earlier
      plain: { maxEntries: 10_000, maxBytes: 8 * MiB, maxAgeMs: 3600_000 },
      minGarbageBytes: 1 * MiB,
    },
  },
};

/** WAN: across data centers. Memberlist's DefaultWANConfig. */
const wan: Preset = {
  environment: "wan",
  memberlist: {
    ...lan.memberlist,
    probeIntervalMs: 5_000, // long, variable round trips
    probeTimeoutMs: 3_000,
    gossipIntervalMs: 500,
    gossipNodes: 4,
    gossipToTheDeadMs: 60_000,
    suspicionMult: 6,
    pushPullIntervalMs: 60_000,
    tcpTimeoutMs: 30_000,
    // Off: between data centers a reset may come from a firewall, NAT or proxy on the path
    // rather than the member's host, and a 5 s probe interval already sets WAN's pace.
    deadOnRefusal: false,
  },
  log: {
    ...lan.log,
    pushMode: "batched", // many appends per round trip instead of one
    batchWindowMs: 20, // adds at most 20 ms to visibility, small next to WAN latency
    compress: true, // bytes are expensive across data centers
    syncIntervalMs: 15_000,
    connectTimeoutMs: 30_000,
    maxClockOffsetMs: 1_000, // NTP over long, asymmetric paths drifts further; LWW order may lag 1 s
    frameTimeoutMs: 60_000, // a 16 MiB frame needs 2.3 Mbit/s: a slow inter-region link
    idleTimeoutMs: 90_000, // six missed digests (one per 15 s sync interval)
    maxReplyBytes: 4 * MiB, // a 100 ms round trip at ~300 Mbit/s (compressed bytes) never stalls
    // same horizon (the reconnect timeout is the same) and budgets: memory is no cheaper
    memory: lanMemory,
  },
};

function deepFreeze(p: Preset): Preset {
  Object.freeze(p.memberlist);
  if (p.log.memory !== undefined) {
    Object.freeze(p.log.memory.plain);
    Object.freeze(p.log.memory);
  }
  Object.freeze(p.log);
  return Object.freeze(p);
}

/** The presets by environment name; frozen. */
export const presets: Readonly<Record<Environment, Preset>> = Object.freeze({
  local: deepFreeze(local),
  lan: deepFreeze(lan),
  wan: deepFreeze(wan),
});

/**
 * The environment names, in the order of {@link presets}.
 *
 * @example
 * ```ts
 * environments; // ["local", "lan", "wan"]
 * ```
 */
export const environments: readonly Environment[] = Object.freeze(
  Object.keys(presets) as Environment[],
);

/**
 * Whether `name` is one of the {@link environments}.
 *
 * @example
 * ```ts
 * isEnvironment("lan"); // true
 * isEnvironment("lann"); // false
 * ```
 */
export function isEnvironment(name: unknown): name is Environment {
  return typeof name === "string" && Object.hasOwn(presets, name);
}
