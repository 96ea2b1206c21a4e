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

/** Where the cluster writes what it does. `console` fits; the default writes nothing. */
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
