/**
 * The public types of a running node: options, members as reported, events, counters.
 *
 * @module
 */
import type { Environment } from "./config.ts";
import type { SecurityState } from "./security.ts";
import type { Keyring, Member, MemberlistCounters } from "../memberlist/mod.ts";
import type { LogStats, LogStore } from "../log/mod.ts";
import type { DiscoveryFactory } from "../discovery/mod.ts";
import type { Clock, Network } from "../transport/mod.ts";
import type { QuorumStatus } from "./voters.ts";

/**
 * Where the cluster writes what it does: every layer (memberlist, log, discovery, the node's
 * own events) calls `logger.<level>(message, fields)`, message first, then one object of
 * structured fields that always includes `layer`. `console` and winston fit as they are; wrap
 * pino or bunyan (fields first) with `fieldsFirst()`. The default writes nothing.
 *
 * @example
 * ```ts
 * const node = await cluster(stanza, { logger: console });
 * // warn "memberlist: another node announces this node's name from another address"
 * //      { layer: "memberlist", node: "web", mine: "10.0.0.5:3322", theirs: "10.0.0.6:3322" }
 * ```
 */
export interface Logger {
  /** Routine detail. */
  debug(message: string, fields?: Record<string, unknown>): void;
  /** Notable events (joined, member failed). */
  info(message: string, fields?: Record<string, unknown>): void;
  /** Degraded but running. */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** Something failed. */
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Options of {@link cluster} beyond the config stanza. */
export interface ClusterOptions {
  /** Unique node name. Default: host name plus a short random suffix. */
  name?: string;
  /** Attributes advertised to every member (with the environment and log address: ≤ 512 bytes JSON). */
  meta?: Record<string, string>;
  /**
   * Encryption of gossip and of the log port: memberlist-compatible AES-GCM keys (16, 24 or 32
   * bytes, first is primary), or a {@link Keyring} to keep for rotation. Every member needs the
   * same keys. Takes precedence over the stanza's `encrypt`/`encrypt_file`. Rotation
   * (`addKey`, `useKey`, `removeKey`) applies to new log connections; open ones keep their
   * session keys.
   */
  keyring?: Keyring | Uint8Array[];
  /** Where this node keeps the logs; default: in memory. */
  store?: LogStore;
  /** Logger; default: silent. */
  logger?: Logger;
  /** Extra discovery plugins by name, usable as `autojoin: { <name>: {...} }`. */
  discovery?: Record<string, DiscoveryFactory>;
  /** Network to bind on (default: real UDP/TCP sockets). Simulations pass a simulated one. */
  network?: Network;
  /** Clock for every timer (default: the system clock). Simulations pass a virtual one. */
  clock?: Clock;
  /** Uniform [0, 1) source for gossip and join jitter (default `Math.random`). Simulations seed one. */
  random?: () => number;
  /** What {@link Cluster.health} requires for `ready`; see {@link ReadinessOptions}. */
  readiness?: ReadinessOptions;
  /**
   * Where the node's metrics go (OpenTelemetry). Default: the global meter provider of
   * `@opentelemetry/api` at the time `cluster()` runs (a no-op until an SDK is installed, so
   * install it first); `false` registers nothing.
   */
  meterProvider?: MeterProviderLike | false;
}

/**
 * What readiness requires beyond "running and not leaving".
 *
 * @example
 * ```ts
 * const node = await cluster(stanza, { readiness: { members: 3, quorum: true } });
 * ```
 */
export interface ReadinessOptions {
  /**
   * Joined means this node has seen at least this many alive members of its environment,
   * itself included; once reached it stays joined (peers failing later do not make the node
   * unready, unless `quorum` is asked). Default 2 when the stanza has `members` or `autojoin`
   * (a node that must join someone), else 1. Set 1 for a single replica that discovers peers.
   */
  members?: number;
  /** Also require a majority of the known members alive (for `ack: "quorum"` writes). */
  quorum?: boolean;
}

/** Liveness and readiness of a node, as a load balancer or Kubernetes probe wants them. */
export interface ClusterHealth {
  /** The node runs (not closed). A liveness probe restarts the process when false. */
  readonly live: boolean;
  /** Joined (and, when configured, holding quorum), and not leaving: send it traffic. */
  readonly ready: boolean;
  /** Why not live or not ready, one sentence each; empty when ready. */
  readonly reasons: readonly string[];
}

/** A member as the cluster reports it. */
export interface ClusterMember {
  /** Unique node name. */
  readonly name: string;
  /** Its memberlist address, `host:port`. */
  readonly address: string;
  /** Its log listener, `host:port`, when it runs @response/cluster. */
  readonly logAddress: string | undefined;
  /** alive | suspect | dead | left. */
  readonly state: Member["state"];
  /** Incarnation number (bumped by each refutation or metadata update). */
  readonly incarnation: number;
  /** Its environment, when it runs @response/cluster. */
  readonly environment: Environment | undefined;
  /** Attributes it advertises. */
  readonly meta: Readonly<Record<string, string>>;
}

/** Events of a {@link Cluster}, by name. */
export interface ClusterEvents {
  /** A member joined (or came back). */
  "member-join": ClusterMember;
  /** A member's metadata changed. */
  "member-update": ClusterMember;
  /** A member is suspected of having failed. */
  "member-suspect": ClusterMember;
  /** A member was declared dead. */
  "member-failed": ClusterMember;
  /** A member left gracefully. */
  "member-leave": ClusterMember;
  /**
   * The quorum this node sees changed (voters, reachable voters, holders needed, or
   * `hasQuorum`): take writes that need `ack: "quorum"` and report ready only while
   * `hasQuorum` is true.
   */
  quorum: QuorumStatus;
  /** Something went wrong that the cluster cannot fix by itself (e.g. an environment mismatch). */
  error: Error;
}

/** Counters of every layer. */
export interface ClusterStats {
  /** Membership packets, bytes, probes, rejected and malformed inputs. */
  readonly memberlist: MemberlistCounters | undefined;
  /** Log frames, entries applied, rejected peers. */
  readonly log: LogStats;
  /** Members by state. */
  readonly members: Readonly<Record<Member["state"], number>>;
  /** How the gossip and log ports are protected: "open" means anyone on the network gets in. */
  readonly security: SecurityState;
}

/**
 * An OpenTelemetry `MeterProvider` (the SDK's, or `metrics.getMeterProvider()` of
 * `@opentelemetry/api`), typed loosely so this package's public types do not pull in the API's.
 *
 * @example
 * ```ts
 * import { MeterProvider } from "@opentelemetry/sdk-metrics";
 * const provider: MeterProviderLike = new MeterProvider({ readers: [reader] });
 * ```
 */
export interface MeterProviderLike {
  /** Returns the meter of an instrumentation scope (an OpenTelemetry `Meter`). */
  getMeter(name: string, version?: string): unknown;
}
