/**
 * The small pieces `cluster()` is started with: default name, log origin, advertised
 * addresses, bind errors, and memberlist members as the cluster reports them.
 *
 * @module
 */
import { hostname } from "node:os";
import type { ClusterMember } from "./types.ts";
import type { ClusterConfig } from "./config.ts";
import { decodeNodeMeta, type NodeMeta } from "./node_meta.ts";
import { type Member, pickAdvertiseHost } from "../memberlist/mod.ts";
import type { LogStore } from "../log/mod.ts";
import { formatHostPort, type HostPort, TransportError } from "../transport/mod.ts";

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
 * The origin of this run's own log. With a store the caller passed (a file store) the node
 * resumes its log under its name. Without one the log starts empty each run: reusing the name
 * would restart at seq 1 and peers would drop the new entries as duplicates of the old run's,
 * so each run writes under a fresh origin.
 */
export function logOrigin(name: string, store: LogStore | undefined, now: number): string {
  return store ? name : `${name}@${now.toString(36)}`;
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
