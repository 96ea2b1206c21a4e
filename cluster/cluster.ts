/**
 * `cluster()`: composes config, presets, memberlist, the replicated log and discovery into one
 * running node. memberlist and log do not know each other; this file wires membership into the
 * log replicator (which peers exist, and where their log listens, from node metadata).
 *
 * @module
 */
import { hostname } from "node:os";
import type {
  ClusterEvents,
  ClusterMember,
  ClusterOptions,
  ClusterStats,
  Logger,
} from "./types.ts";
import { type ClusterConfig, parseClusterConfig } from "./config.ts";
import { presets } from "../presets/mod.ts";
import { decodeNodeMeta, encodeNodeMeta, type NodeMeta } from "./node_meta.ts";
import { nodeSecurity, openPortsWarning, type SecurityState } from "./security.ts";
import type { Keyring, Member } from "../memberlist/mod.ts";
import { Memberlist } from "../memberlist/mod.ts";
import { type LogStore, ReplicatedLog, type ReplicatedLogCache } from "../log/mod.ts";
import {
  createDiscovery,
  type Discovery,
  type DiscoveryLogger,
  registerDiscovery,
  staticDiscovery,
} from "../discovery/mod.ts";
import {
  type Clock,
  formatHostPort,
  type HostPort,
  nodeNetwork,
  systemClock,
  TransportError,
} from "../transport/mod.ts";

type Listener<T> = (value: T) => void;

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const wildcard = (host: string) => host === "0.0.0.0" || host === "::";

/**
 * A running node. Create it with {@link cluster}.
 *
 * @example
 * ```ts
 * await using node = await cluster({ environment: "local", bind_port: 0, memberlist_bind_port: 0 });
 * console.log(node.addresses, node.members().map((m) => m.name));
 * ```
 */
export class Cluster {
  /** This node's unique name. */
  readonly name: string;
  /** The validated stanza, or `undefined` in isolated mode. */
  readonly config: ClusterConfig | undefined;
  /** The replicated append-only log. */
  readonly log: ReplicatedLog;
  /** The shared last-writer-wins cache (materialized from keyed log entries). */
  readonly cache: ReplicatedLogCache;
  /**
   * The keyring protecting gossip and the log port (rotate keys through it: `addKey`, `useKey`,
   * `removeKey`; open log connections keep their session keys), or `undefined` without one.
   */
  readonly keyring: Keyring | undefined;
  /** How the gossip and log ports are protected (also in `stats().security`). */
  readonly security: SecurityState;
  #memberlist: Memberlist | undefined;
  #discovery: Discovery | undefined;
  #abort = new AbortController();
  #listeners = new Map<keyof ClusterEvents, Set<Listener<never>>>();
  #refused = new Set<string>();
  #closed = false;
  #logger: Logger;
  #clock: Clock;

  /** @internal use {@link cluster} */
  constructor(parts: {
    name: string;
    config: ClusterConfig | undefined;
    log: ReplicatedLog;
    memberlist: Memberlist | undefined;
    keyring: Keyring | undefined;
    security?: SecurityState;
    logger: Logger;
    clock: Clock;
  }) {
    this.name = parts.name;
    this.config = parts.config;
    this.log = parts.log;
    this.cache = parts.log.cache;
    this.#memberlist = parts.memberlist;
    this.keyring = parts.keyring;
    this.security = parts.security ??
      { gossip: "open", log: "open", verifyIncoming: true, verifyOutgoing: true };
    this.#logger = parts.logger;
    this.#clock = parts.clock;
  }

  /** The bound addresses (`host:port`): memberlist (UDP+TCP) and the log (TCP); none when isolated. */
  get addresses(): { memberlist: string | undefined; log: string | undefined } {
    return {
      memberlist: this.#memberlist ? formatHostPort(this.#memberlist.address) : undefined,
      log: this.log.address ? formatHostPort(this.log.address) : undefined,
    };
  }

  /**
   * Every known member, this node included, with its state. Members of another environment are
   * refused and not listed.
   */
  members(): ClusterMember[] {
    if (!this.#memberlist) return [this.#self()];
    return this.#memberlist.members().filter((m) => !this.#refused.has(m.name)).map(
      toClusterMember,
    );
  }

  /** True when this node sees a majority of the known members of its cluster alive (itself included). */
  get hasQuorum(): boolean {
    const all = this.members().filter((m) => m.state !== "left");
    const alive = all.filter((m) => m.state === "alive").length;
    return alive * 2 > all.length;
  }

  /** Counters of every layer. */
  stats(): ClusterStats {
    const members = { alive: 0, suspect: 0, dead: 0, left: 0 };
    for (const m of this.members()) members[m.state]++;
    return {
      memberlist: this.#memberlist?.counters(),
      log: this.log.stats(),
      members,
      security: this.security,
    };
  }

  /**
   * Subscribes to an event; returns the function that unsubscribes.
   *
   * @example
   * ```ts
   * const off = node.on("member-failed", (m) => console.log(m.name, "failed"));
   * off();
   * ```
   */
  on<K extends keyof ClusterEvents>(
    event: K,
    listener: (value: ClusterEvents[K]) => void,
  ): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, set = new Set());
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  /** @internal */
  emit<K extends keyof ClusterEvents>(event: K, value: ClusterEvents[K]): void {
    for (const listener of this.#listeners.get(event) ?? []) {
      try {
        (listener as Listener<ClusterEvents[K]>)(value);
      } catch (err) {
        this.#logger.error(`a "${event}" listener threw`, { error: String(err) });
      }
    }
  }

  /** @internal wires memberlist events, the log's peer set and discovery */
  async start(discovery: Discovery | undefined): Promise<void> {
    const ml = this.#memberlist;
    if (!ml) return;
    const environment = this.config!.environment;
    const onMember = (event: keyof ClusterEvents) => (m: Member) => {
      const meta = decodeNodeMeta(m.meta);
      if (meta && meta.environment !== environment && m.name !== this.name) {
        if (!this.#refused.has(m.name)) {
          this.#refused.add(m.name);
          this.emit(
            "error",
            new Error(
              `member ${m.name} at ${
                formatHostPort(m.address)
              } runs environment "${meta.environment}" but this node runs "${environment}": refused`,
            ),
          );
        }
        this.#syncPeers();
        return;
      }
      this.#syncPeers();
      // Events tell about the others; this node's own state is in members().
      if (m.name !== this.name) this.emit(event, toClusterMember(m));
    };
    ml.on("join", onMember("member-join"));
    ml.on("update", onMember("member-update"));
    ml.on("suspect", onMember("member-suspect"));
    ml.on("dead", onMember("member-failed"));
    ml.on("left", onMember("member-leave"));
    this.#syncPeers();
    if (discovery) {
      this.#discovery = discovery;
      await discovery.start({
        self: ml.address,
        nodeName: this.name,
        signal: this.#abort.signal,
        clock: this.#clock,
        logger: discoveryLogger(this.#logger),
        knownMembers: () => ml.aliveMembers().map((m) => m.address),
        join: async (addresses: HostPort[]) => {
          if (this.#closed || addresses.length === 0) return 0;
          try {
            return (await ml.join(addresses)).joined;
          } catch {
            return 0;
          }
        },
      });
    }
  }

  /** Tells the log replicator which peers exist: alive members of this environment. */
  #syncPeers(): void {
    const ml = this.#memberlist;
    if (!ml || this.#closed) return;
    const peers: { name: string; address: HostPort }[] = [];
    for (const m of ml.aliveMembers()) {
      if (m.name === this.name || this.#refused.has(m.name)) continue;
      const meta = decodeNodeMeta(m.meta);
      if (!meta) continue;
      peers.push({
        name: m.name,
        address: { host: meta.logHost || m.address.host, port: meta.logPort },
      });
    }
    this.log.setPeers(peers);
  }

  #self(): ClusterMember {
    return {
      name: this.name,
      address: "",
      logAddress: undefined,
      state: "alive",
      incarnation: 0,
      environment: undefined,
      meta: {},
    };
  }

  /** Leaves gracefully (members see "left", not "failed"), then closes. */
  async leave(): Promise<void> {
    if (this.#closed) return;
    const ml = this.#memberlist;
    if (ml) {
      await this.#discovery?.close();
      await ml.leave(
        this.config ? presets[this.config.environment].memberlist.probeIntervalMs * 5 : 1000,
      );
    }
    await this.close();
  }

  /** Releases every socket, timer and connection; idempotent. Members will see this node fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    await this.#discovery?.close();
    await this.#memberlist?.shutdown();
    await this.log.close();
  }

  /** `await using node = await cluster(...)` closes it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function toClusterMember(m: Member): ClusterMember {
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

function discoveryLogger(logger: Logger): DiscoveryLogger {
  return {
    debug: (m, f) => logger.debug(`discovery: ${m}`, f),
    info: (m, f) => logger.info(`discovery: ${m}`, f),
    warn: (m, f) => logger.warn(`discovery: ${m}`, f),
    error: (m, f) => logger.error(`discovery: ${m}`, f),
  };
}

function bindError(key: string, host: string, port: number, err: unknown): Error {
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
function logOrigin(name: string, store: LogStore | undefined): string {
  return store ? name : `${name}@${Date.now().toString(36)}`;
}

function defaultName(): string {
  const suffix = Array.from(
    crypto.getRandomValues(new Uint8Array(3)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  return `${hostname()}-${suffix}`;
}

/**
 * Starts a node from the `cluster` stanza of the server's config.
 *
 * Validates the stanza (throws a `ConfigError` listing every problem), picks the preset of its
 * environment, binds the log listener (`bind_address:bind_port`, TCP) and the memberlist
 * listener (`memberlist_bind_address:memberlist_bind_port`, UDP and TCP), starts discovery and
 * returns the running {@link Cluster}. Without a stanza (`undefined`) the node is isolated:
 * nothing is bound, and the log and cache work locally.
 *
 * @example
 * ```ts
 * const a = await cluster({ environment: "local", bind_port: 0, memberlist_bind_port: 0 }, { name: "a" });
 * const b = await cluster(
 *   { environment: "local", bind_port: 0, memberlist_bind_port: 0, members: [a.addresses.memberlist!] },
 *   { name: "b" },
 * );
 * await b.cache.set("k", new TextEncoder().encode("v"));
 * await b.close();
 * await a.close();
 * ```
 * @param stanza the `cluster` stanza, keys as in the config file
 * @param options name, metadata, keys, store, logger, extra discovery plugins
 */
export async function cluster(stanza: unknown, options: ClusterOptions = {}): Promise<Cluster> {
  // Plugins first: the stanza's autojoin names are checked against the registry.
  for (const [pluginName, factory] of Object.entries(options.discovery ?? {})) {
    registerDiscovery(pluginName, factory);
  }
  const config = parseClusterConfig(stanza);
  const name = options.name ?? defaultName();
  const logger = options.logger ?? silent;
  const clock = options.clock ?? systemClock;
  if (!config) {
    const log = await ReplicatedLog.create({
      name,
      origin: logOrigin(name, options.store),
      environment: "local",
      clock,
      store: options.store,
    });
    return new Cluster({
      name,
      config: undefined,
      log,
      memberlist: undefined,
      keyring: undefined,
      logger,
      clock,
    });
  }
  const preset = presets[config.environment];
  const network = options.network ?? nodeNetwork;
  let discovery: Discovery | undefined;
  if (config.members) discovery = staticDiscovery({ members: [...config.members] });
  else if (config.autojoin) discovery = createDiscovery(config.autojoin);

  // one keyring protects gossip and the log: the app's, or the stanza's encrypt/encrypt_file
  const { keyring, log: security, state } = await nodeSecurity(config, options.keyring);
  let log: ReplicatedLog;
  try {
    log = await ReplicatedLog.create({
      name,
      origin: logOrigin(name, options.store),
      environment: config.environment,
      network,
      clock,
      bind: { host: config.bind_address, port: config.bind_port },
      tuning: preset.log,
      store: options.store,
      security,
    });
  } catch (err) {
    throw bindError("bind_port", config.bind_address, config.bind_port, err);
  }
  let memberlist: Memberlist;
  try {
    const meta = encodeNodeMeta({
      environment: config.environment,
      logHost: wildcard(config.bind_address) ? "" : config.bind_address,
      logPort: log.address!.port,
      attributes: options.meta ?? {},
    });
    try {
      memberlist = await Memberlist.create({
        name,
        network,
        clock,
        bind: { host: config.memberlist_bind_address, port: config.memberlist_bind_port },
        tuning: preset.memberlist,
        keyring,
        gossipVerifyIncoming: config.encrypt_verify_incoming,
        gossipVerifyOutgoing: config.encrypt_verify_outgoing,
        meta,
      });
    } catch (err) {
      throw bindError(
        "memberlist_bind_port",
        config.memberlist_bind_address,
        config.memberlist_bind_port,
        err,
      );
    }
  } catch (err) {
    await log.close();
    throw err;
  }
  const node = new Cluster({
    name,
    config,
    log,
    memberlist,
    keyring,
    logger,
    clock,
    security: state,
  });
  const warning = openPortsWarning(state, config, log.address!, memberlist.address);
  if (warning !== undefined) logger.warn(warning);
  try {
    await node.start(discovery);
  } catch (err) {
    await node.close();
    throw err;
  }
  return node;
}
