/**
 * The small pieces `cluster()` is started with: default name, log origin, advertised
 * addresses, bind errors, and memberlist members as the cluster reports them.
 *
 * @module
 */
import { hostname } from "node:os";
import type { ClusterMember, Logger, MeterProviderLike, ReadinessOptions } from "./types.ts";
import type { ReplicatedLog } from "../log/mod.ts";
import type { Keyring } from "../memberlist/mod.ts";
import type { SecurityState } from "./security.ts";
import type { ClusterConfig } from "./config.ts";
import { decodeNodeMeta, type NodeMeta } from "./node_meta.ts";
import { type Member, type Memberlist, pickAdvertiseHost } from "../memberlist/mod.ts";
import type { Discovery, DiscoveryLogger } from "../discovery/mod.ts";
import type { LogStore } from "../log/mod.ts";
import { type Clock, formatHostPort, type HostPort, TransportError } from "../transport/mod.ts";

/** A memberlist member as the cluster reports it. */
export function toClusterMember(m: Member): ClusterMember {
  const meta: NodeMeta | undefined = decodeNodeMeta(m.meta);
  return {
    name: m.name,
    address: formatHostPort(m.address),
    logAddress: meta
      ? formatHostPort({ host: meta.logHost || m.address.host, port: meta.logPort })
      : undefined,
    state: m.state,
    incarnation: m.incarnation,
    environment: meta?.environment,
    meta: meta?.attributes ?? {},
  };
}

/**
 * Where peers reach the gossip layer when the stanza says so (`advertise_address`,
 * `advertise_port`); undefined lets memberlist pick the bound address (or, on a wildcard bind,
 * the host's first private address).
 */
export function gossipAdvertise(config: ClusterConfig): HostPort | undefined {
  if (config.advertise_address === undefined && config.advertise_port === undefined) {
    return undefined;
  }
  return {
    host: config.advertise_address ?? pickAdvertiseHost(config.memberlist_bind_address),
    port: config.advertise_port ?? 0, // 0: the bound port
  };
}

/**
 * Where peers reach the log, as gossiped in node metadata. Host "" means "the address this
 * member gossips from": right for a wildcard bind and whenever `advertise_address` is set.
 */
export function logAdvertise(config: ClusterConfig, boundPort: number): HostPort {
  const wildcard = config.bind_address === "0.0.0.0" || config.bind_address === "::";
  const host = config.advertise_log_address ??
    (config.advertise_address !== undefined || wildcard ? "" : config.bind_address);
  return { host, port: config.advertise_log_port ?? boundPort };
}

/** A bind failure worded with the stanza key that chose the address or port. */
export function bindError(key: string, host: string, port: number, err: unknown): Error {
  if (err instanceof TransportError && err.code === "EADDRINUSE") {
    return new Error(`${key} ${port} is already in use on ${host}`, { cause: err });
  }
  if (err instanceof TransportError && err.code === "EADDRNOTAVAIL") {
    return new Error(
      `${
        key === "bind_port" ? "bind_address" : "memberlist_bind_address"
      } ${host} is not an address of this host`,
      { cause: err },
    );
  }
  return new Error(
    `cannot bind ${key} ${port} on ${host}: ${err instanceof Error ? err.message : String(err)}`,
    { cause: err },
  );
}

/**
 * The origin of this run's own log. Each run of a node writes under `name@run` (the run is the
 * start time): a run that starts without its old log (the memory store, or a file store in a
 * fresh directory, as after an absence past the tombstone horizon) must not reuse the name of
 * an earlier run, whose seq 1, 2, … peers already hold and would drop as duplicates. A store
 * that already holds this node's log resumes it: the newest of its origins named `name` or
 * `name@…`.
 */
export function logOrigin(name: string, store: LogStore | undefined, now: number): string {
  let newest: { origin: string; run: number } | undefined;
  for (const origin of store?.heads().keys() ?? []) {
    // `name` alone: a log written before runs were named; it counts as the oldest run
    const run = origin === name
      ? -1
      : origin.startsWith(`${name}@`)
      ? parseInt(origin.slice(name.length + 1), 36)
      : Number.NaN;
    if (!Number.isNaN(run) && (newest === undefined || run > newest.run)) newest = { origin, run };
  }
  return newest?.origin ?? `${name}@${Math.floor(now).toString(36)}`;
}

/** Host name plus a short random suffix. */
export function defaultName(): string {
  const suffix = Array.from(
    crypto.getRandomValues(new Uint8Array(3)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  return `${hostname()}-${suffix}`;
}

/** This node as `members()` lists it when isolated. */
export function selfMember(name: string): ClusterMember {
  return {
    name,
    address: "",
    logAddress: undefined,
    state: "alive",
    incarnation: 0,
    environment: undefined,
    meta: {},
  };
}

/**
 * Where peers reach a node (advertised; what to put in another node's `members`) and the
 * sockets it listens on (`bound`); all undefined when isolated.
 */
export function nodeAddresses(
  ml: { readonly address: HostPort; readonly bound: HostPort } | undefined,
  logBound: HostPort | undefined,
  logAdvertise: HostPort,
): {
  memberlist: string | undefined;
  log: string | undefined;
  bound: { memberlist: string | undefined; log: string | undefined };
} {
  const bound = {
    memberlist: ml ? formatHostPort(ml.bound) : undefined,
    log: logBound ? formatHostPort(logBound) : undefined,
  };
  if (!ml) return { memberlist: undefined, log: undefined, bound };
  const log = formatHostPort({
    host: logAdvertise.host || ml.address.host,
    port: logAdvertise.port,
  });
  return { memberlist: formatHostPort(ml.address), log, bound };
}

/** A member of another environment, refused: the error the node reports. */
export function environmentRefused(m: Member, theirs: string, ours: string): Error {
  return new Error(
    `member ${m.name} at ${
      formatHostPort(m.address)
    } runs environment "${theirs}" but this node runs "${ours}": refused`,
  );
}

/** Starts discovery for a node: it joins through memberlist, never throws into discovery. */
export async function startDiscovery(
  discovery: Discovery,
  ml: Memberlist,
  node: {
    name: string;
    signal: AbortSignal;
    clock: Clock;
    logger: DiscoveryLogger;
    closed: () => boolean;
  },
): Promise<void> {
  await discovery.start({
    self: ml.address,
    nodeName: node.name,
    signal: node.signal,
    clock: node.clock,
    logger: node.logger,
    knownMembers: () => ml.aliveMembers().map((m) => m.address),
    join: async (addresses: HostPort[]) => {
      if (node.closed() || addresses.length === 0) return 0;
      try {
        return (await ml.join(addresses)).joined;
      } catch {
        return 0;
      }
    },
  });
}

/** What `cluster()` hands a new node. */
export interface ClusterParts {
  name: string;
  config: ClusterConfig | undefined;
  log: ReplicatedLog;
  memberlist: Memberlist | undefined;
  keyring: Keyring | undefined;
  logger: Logger;
  clock: Clock;
  /** Where peers reach the log (host "" = the gossip address). */
  logAdvertise: HostPort;
  attributes: Record<string, string>;
  readiness: ReadinessOptions | undefined;
  meterProvider: MeterProviderLike | false | undefined;
  /** How gossip and the log port are protected; open when omitted (isolated nodes). */
  security?: SecurityState;
}
