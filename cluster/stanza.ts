/**
 * The `cluster` stanza as a program writes it (typed), and {@link clusterStanza}, which checks
 * untyped input (a parsed config file) against it. config.ts validates either at run time.
 *
 * @module
 */
import type { LocalPlugins } from "../discovery/mod.ts";
import type { Environment } from "../presets/mod.ts";
import { parseClusterConfig } from "./config.ts";

/**
 * The `cluster` stanza as a program writes it: every key of the config file, typed, so an
 * editor completes the keys and `environment: "lann"` does not compile. Input that is not
 * typed (a parsed config file) goes through {@link clusterStanza} first; either way
 * `cluster()` validates it again at run time, with the same errors.
 *
 * @example
 * ```ts
 * const stanza: ClusterStanza = { environment: "lan", members: ["10.0.0.2", "10.0.0.3:3322"] };
 * ```
 */
export interface ClusterStanza {
  /** Tuning preset, the same on every member (required). */
  readonly environment: Environment;
  /** Address of the append-only log listener (TCP). Default `"0.0.0.0"`. */
  readonly bind_address?: string;
  /** Port of the append-only log listener (TCP), 0-65535. Default `3320`; 0 = ephemeral. */
  readonly bind_port?: number;
  /** Address of the gossip listener (UDP and TCP). Default `"0.0.0.0"`. */
  readonly memberlist_bind_address?: string;
  /** Port of the gossip listener (UDP and TCP), 0-65535. Default `3322`; 0 = ephemeral. */
  readonly memberlist_bind_port?: number;
  /** Static peers: `"host:port"`, `"[v6]:port"` or `"host"` (port 3322). Not with `autojoin`. */
  readonly members?: readonly string[];
  /** Discovery through one plugin, keyed by its name (`nats`, or one you registered). */
  readonly autojoin?: AutojoinStanza;
  /** Floor of copies a quorum append needs, 1-1000 (see {@link ClusterConfig.min_quorum}). Default 1. */
  readonly min_quorum?: number;
  /** How long a failed member keeps its vote: `"24h"`, `"90m"`, `"30s"`. Default: the preset's reconnect timeout. */
  readonly forget_after?: string;
  /** Gossip address peers reach this node at (an IP literal). Default: the bound address. */
  readonly advertise_address?: string;
  /** Gossip port peers reach this node at, 1-65535. Default: the bound memberlist port. */
  readonly advertise_port?: number;
  /** Log address peers reach this node at (IP or host name). Default: `advertise_address`. */
  readonly advertise_log_address?: string;
  /** Log port peers reach this node at, 1-65535. Default: the bound log port. */
  readonly advertise_log_port?: number;
  /** One base64 key (16, 24 or 32 bytes) protecting gossip and the log port. */
  readonly encrypt?: string;
  /** A file of base64 keys, one per line, the first the primary. */
  readonly encrypt_file?: string;
  /** Refuse plaintext gossip and log connections. Default true; false while migrating. */
  readonly encrypt_verify_incoming?: boolean;
  /** Send gossip encrypted and dial the log keyed. Default true; false while migrating. */
  readonly encrypt_verify_outgoing?: boolean;
  /** Mutual TLS on the log port: the cluster's CA, this node's certificate and key (PEM files). */
  readonly tls?: {
    readonly ca_file: string;
    readonly cert_file: string;
    readonly key_file: string;
  };
}

/** The `autojoin` block: one discovery plugin, keyed by its registered name. */
export interface AutojoinStanza {
  /** Discovery through a NATS server Response Server already uses. */
  readonly nats?: {
    /** Server URL(s): `nats://`, `tls://`, `ws://` or `wss://`. */
    readonly url: string | readonly string[];
    /** Subject prefix shared by one cluster. Default `"response-cluster"`. */
    readonly subject?: string;
  };
  /** Discovery through DNS: the A/AAAA or SRV records of a name (a Kubernetes headless Service). */
  readonly dns?: {
    /** The name to resolve, e.g. `"cluster.app.svc.cluster.local"`. */
    readonly name: string;
    /** Which records: `"a"` (default), `"aaaa"` or `"srv"` (the port then comes from them). */
    readonly type?: "a" | "aaaa" | "srv";
    /** Gossip port of the peers for A/AAAA records. Default 3322. */
    readonly port?: number;
    /** How often to resolve again, e.g. `"10s"`. */
    readonly interval?: string;
    /** DNS servers to ask instead of the system's (`"host"` or `"host:port"`). */
    readonly servers?: readonly string[];
  };
  /** A plugin registered with `registerDiscovery` or passed in `ClusterOptions.discovery`. */
  readonly [plugin: string]: unknown;
}

/**
 * Checks untyped input (a config file's `cluster` value) and returns it as a
 * {@link ClusterStanza}: the same validation and the same {@link ConfigError} as `cluster()`.
 * `undefined` (no stanza) stays `undefined`.
 *
 * @example
 * ```ts
 * const parsed: unknown = JSON.parse('{"environment": "lan", "members": ["10.0.0.2"]}');
 * const stanza = clusterStanza(parsed); // ClusterStanza | undefined
 * ```
 * @param input the stanza as decoded from JSON or HCL
 * @param options `discovery`: plugins of this node only, as given to `cluster()`
 * @throws {ConfigError} when anything is wrong
 */
export function clusterStanza(
  input: unknown,
  options: { discovery?: LocalPlugins } = {},
): ClusterStanza | undefined {
  parseClusterConfig(input, options);
  return input as ClusterStanza | undefined;
}
