/**
 * `cluster()`: composes config, presets, memberlist, the replicated log and discovery into one
 * running node. memberlist and log do not know each other; this file wires membership into the
 * log replicator (which peers exist, and where their log listens, from node metadata).
 *
 * @module
 */
import { ClusterEmitter, emitEvent } from "./events.ts";
import type {
  ClusterEvents,
  ClusterMember,
  ClusterOptions,
  ClusterStats,
  Logger,
} from "./types.ts";
import { type ClusterConfig, type ClusterStanza, parseClusterConfig } from "./config.ts";
import { presets } from "../presets/mod.ts";
import { decodeNodeMeta, encodeNodeMeta } from "./node_meta.ts";
import {
  bindError,
  defaultName,
  discoveryLogger,
  logOrigin,
  selfMember,
  toClusterMember,
} from "./startup.ts";
import { decodeRemoval, encodeRemoval, type QuorumStatus, VotingMembership } from "./voters.ts";
import { Keyring, type Member, Memberlist } from "../memberlist/mod.ts";
import { ReplicatedLog, type ReplicatedLogCache } from "../log/mod.ts";
import { createDiscovery, type Discovery, staticDiscovery } from "../discovery/mod.ts";
import {
  type Clock,
  formatHostPort,
  type HostPort,
  nodeNetwork,
  systemClock,
} from "../transport/mod.ts";

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** What `cluster()` hands a new {@link Cluster}. */
interface ClusterParts {
  name: string;
  config: ClusterConfig | undefined;
  log: ReplicatedLog;
  memberlist: Memberlist | undefined;
  keyring: Keyring | undefined;
  logger: Logger;
  clock: Clock;
}

// The constructor and start are for cluster() only: reached through these module-private
// functions (set in the class's static block), they stay out of the public types.
let createNode: (parts: ClusterParts) => Cluster;
let startNode: (node: Cluster, discovery: Discovery | undefined) => Promise<void>;
let removalHeard: (node: Cluster, name: string) => void;
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
export class Cluster extends ClusterEmitter {
  /** This node's unique name. */
  readonly name: string;
  /** The validated stanza, or `undefined` in isolated mode. */
  readonly config: ClusterConfig | undefined;
  /** The replicated append-only log. */
  readonly log: ReplicatedLog;
  /** The shared last-writer-wins cache (materialized from keyed log entries). */
  readonly cache: ReplicatedLogCache;
  /** The keyring in use (rotate keys through it), or `undefined` without encryption. */
  readonly keyring: Keyring | undefined;
  #memberlist: Memberlist | undefined;
  #discovery: Discovery | undefined;
  #abort = new AbortController();
  #refused = new Set<string>();
  #closed = false;
  #logger: Logger;
  #clock: Clock;
  #voting: VotingMembership;
  #quorum: QuorumStatus;

  static {
    createNode = (parts) => new Cluster(parts);
    startNode = (node, discovery) => node.#start(discovery);
    removalHeard = (node, name) => node.#onRemoval(name);
  }

  private constructor(parts: ClusterParts) {
    super((event, err) =>
      parts.logger.error(`a "${event}" listener threw`, { error: String(err) })
    );
    this.name = parts.name;
    this.config = parts.config;
    this.log = parts.log;
    this.cache = parts.log.cache;
    this.#memberlist = parts.memberlist;
    this.keyring = parts.keyring;
    this.#logger = parts.logger;
    this.#clock = parts.clock;
    const config = parts.config;
    const timing = presets[config?.environment ?? "lan"].memberlist;
    this.#voting = new VotingMembership({
      self: parts.name,
      minimum: config?.min_quorum,
      forgetAfterMs: config?.forget_after ?? timing.reconnectTimeoutMs,
      clock: parts.clock,
      onChange: (voters, status) => this.#votersChanged(voters, status),
      poll: () => this.#seatsView(),
      pollMs: config ? timing.probeIntervalMs : undefined,
    });
    this.#quorum = this.#voting.status();
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
    if (!this.#memberlist) return [selfMember(this.name)];
    return this.#memberlist.members().filter((m) => !this.#refused.has(m.name)).map(
      toClusterMember,
    );
  }

  /**
   * True when this node sees a quorum of the voting membership alive, itself included: the
   * same count `ack: "quorum"` needs (a majority of every member that has not left or been
   * removed, failed ones included, and at least `min_quorum`). False on the minority side of
   * a partition and on the survivors of a majority crash. The `quorum` event tells changes.
   */
  get hasQuorum(): boolean {
    return this.#quorum.hasQuorum;
  }

  /** The quorum as this node sees it: voters, reachable voters, holders needed. */
  quorum(): QuorumStatus {
    return this.#quorum;
  }

  /**
   * Names of the voting membership, this node included: every member that has not left,
   * whatever its state, until removed by {@link removeMember} or forgotten after
   * `forget_after`.
   */
  voters(): string[] {
    return this.#voting.names();
  }

  /**
   * Takes a failed (or suspect) member out of the voting membership, on this node and on
   * every member this node sees alive (like `serf force-leave`): quorum appends then need a
   * majority of the members left. Use it once a node is known to be gone for good; a member
   * that comes back later takes a seat again. Resolves with the number of members told.
   * Throws `MembershipError` for an unknown name, this node, or an alive member.
   *
   * @example
   * ```ts
   * node.on("member-failed", (m) => console.log(`${m.name} failed; remove it if it is gone`));
   * await node.removeMember("node-c"); // 2 voters left: quorum writes need both
   * ```
   */
  async removeMember(name: string): Promise<{ told: number }> {
    this.#voting.remove(name);
    this.#logger.info("member removed from the voting membership", { node: name });
    const ml = this.#memberlist;
    if (!ml) return { told: 0 };
    const others = ml.aliveMembers().filter((m) => m.name !== this.name);
    const sent = await Promise.allSettled(
      others.map((m) => ml.sendReliable(m.name, encodeRemoval(name))),
    );
    return { told: sent.filter((r) => r.status === "fulfilled").length };
  }

  /** A member told us to remove `name`. */
  #onRemoval(name: string): void {
    try {
      this.#voting.remove(name);
      this.#logger.info("member removed from the voting membership by a peer", { node: name });
    } catch (err) {
      // alive here (or unknown): keep the seat; the sender's view was older than ours
      this.#logger.debug("removal ignored", { node: name, error: String(err) });
    }
  }

  /** Members of this environment that run the log (a plain memberlist node holds no copy). */
  #seatsView(): Member[] {
    const ml = this.#memberlist;
    if (!ml || !this.config) return [];
    const env = this.config.environment;
    return ml.members().filter((m) =>
      !this.#refused.has(m.name) && decodeNodeMeta(m.meta)?.environment === env
    );
  }

  #votersChanged(voters: string[], status: QuorumStatus): void {
    if (!this.#closed) this.log.setVoters(voters);
    // a refuted suspicion has no memberlist event: the seats' poll is what sees it come back
    this.#syncPeers();
    const was = this.#quorum;
    this.#quorum = status;
    if (
      was && (was.hasQuorum !== status.hasQuorum || was.voters !== status.voters ||
        was.reachable !== status.reachable || was.needed !== status.needed)
    ) emitEvent(this, "quorum", status);
  }

  /** Counters of every layer. */
  stats(): ClusterStats {
    const members = { alive: 0, suspect: 0, dead: 0, left: 0 };
    for (const m of this.members()) members[m.state]++;
    return { memberlist: this.#memberlist?.counters(), log: this.log.stats(), members };
  }

  /** Wires memberlist events, the log's peer set and discovery. */
  async #start(discovery: Discovery | undefined): Promise<void> {
    const ml = this.#memberlist;
    if (!ml) return;
    const environment = this.config!.environment;
    const onMember = (event: keyof ClusterEvents) => (m: Member) => {
      const meta = decodeNodeMeta(m.meta);
      if (meta && meta.environment !== environment && m.name !== this.name) {
        if (!this.#refused.has(m.name)) {
          this.#refused.add(m.name);
          emitEvent(
            this,
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
      // only members that run the log hold copies: a plain memberlist node has no seat
      if (meta) this.#voting.observe(m.name, m.state);
      this.#syncPeers();
      // Events tell about the others; this node's own state is in members().
      if (m.name !== this.name) emitEvent(this, event, toClusterMember(m));
    };
    ml.on("join", onMember("member-join"));
    ml.on("update", onMember("member-update"));
    ml.on("suspect", onMember("member-suspect"));
    ml.on("dead", onMember("member-failed"));
    ml.on("left", onMember("member-leave"));
    this.#voting.sync(this.#seatsView());
    this.log.setVoters(this.#voting.names());
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

  /** Leaves gracefully (members see "left", not "failed"), then closes. */
  async leave(): Promise<void> {
    if (this.#closed) return;
    const ml = this.#memberlist;
    if (ml) {
      await this.#discovery?.close();
      await ml.leave();
    }
    await this.close();
  }

  /** Releases every socket, timer and connection; idempotent. Members will see this node fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#voting.close();
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
 * @param stanza the `cluster` stanza, keys as in the config file; untyped input (a parsed
 *   config file) goes through `clusterStanza()` first
 * @param options name, metadata, keys, store, logger, extra discovery plugins
 */
export async function cluster(
  stanza: ClusterStanza | undefined,
  options: ClusterOptions = {},
): Promise<Cluster> {
  const config = parseClusterConfig(stanza, { discovery: options.discovery });
  const name = options.name ?? defaultName();
  const logger = options.logger ?? silent;
  const clock = options.clock ?? systemClock;
  if (!config) {
    const log = await ReplicatedLog.create({
      name,
      origin: logOrigin(name, options.store, clock.now()),
      environment: "local",
      clock,
      store: options.store,
    });
    return createNode({
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
  if (config.members) {
    discovery = staticDiscovery({ members: [...config.members], random: options.random });
  } else if (config.autojoin) discovery = createDiscovery(config.autojoin, options.discovery);

  // refused peer input (far-future timestamps, own-origin writes...): a log line at once, and an
  // "error" event once the node exists
  let refused = (err: Error): void => logger.error(err.message);
  let log: ReplicatedLog;
  // set below; the log is bound first, so its hints reach membership through this variable
  let memberlist: Memberlist | undefined;
  try {
    log = await ReplicatedLog.create({
      onError: (err) => refused(err),
      name,
      origin: logOrigin(name, options.store, clock.now()),
      environment: config.environment,
      network,
      clock,
      bind: { host: config.bind_address, port: config.bind_port },
      tuning: preset.log,
      store: options.store,
      minQuorum: config.min_quorum,
      // a log connection lost without goodbye, or a refused log port, is crash evidence:
      // membership checks the member at once (the preset's deadOnRefusal decides what follows)
      onPeerLost: (peer, reason) => memberlist?.probeNow(peer, reason),
    });
  } catch (err) {
    throw bindError("bind_port", config.bind_address, config.bind_port, err);
  }
  let keyring: Keyring | undefined;
  const built: { node?: Cluster } = {}; // user messages may arrive before it exists
  try {
    keyring = options.keyring instanceof Keyring
      ? options.keyring
      : options.keyring
      ? await Keyring.create(options.keyring)
      : undefined;
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
        meta,
        random: options.random,
        delegate: {
          notifyMsg: (buf) => {
            const removed = decodeRemoval(buf);
            if (removed !== undefined && built.node) removalHeard(built.node, removed);
          },
        },
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
  const node = built.node = createNode({ name, config, log, memberlist, keyring, logger, clock });
  refused = (err) => {
    logger.error(err.message);
    emitEvent(node, "error", err);
  };
  try {
    await startNode(node, discovery);
  } catch (err) {
    await node.close();
    throw err;
  }
  return node;
}
