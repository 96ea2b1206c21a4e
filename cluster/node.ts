/**
 * The {@link Cluster} class: one running node. Membership events are wired into the log's
 * peer set and voting membership here; discovery, health, metrics and runtime metadata too.
 * `cluster()` (cluster.ts) creates and starts it.
 *
 * @module
 */
import { metrics } from "@opentelemetry/api";
import { ClusterEmitter, emitEvent } from "./events.ts";
import type {
  ClusterEvents,
  ClusterHealth,
  ClusterMember,
  ClusterStats,
  Logger,
  ReadinessOptions,
} from "./types.ts";
import type { ClusterConfig } from "./config.ts";
import { presets } from "../presets/mod.ts";
import { checkAttributes, decodeNodeMeta, encodeNodeMeta } from "./node_meta.ts";
import {
  type ClusterParts,
  environmentRefused,
  nodeAddresses,
  selfMember,
  startDiscovery,
  toClusterMember,
} from "./startup.ts";
import { nodeHealth } from "./health.ts";
import { discoveryLogger, layerLogger } from "./logging.ts";
import { formatPrometheus, metricFamilies, type MetricFamily, observeMetrics } from "./metrics.ts";
import { encodeRemoval, type QuorumStatus, VotingMembership } from "./voters.ts";
import type { Keyring, Member, Memberlist } from "../memberlist/mod.ts";
import type { ReplicatedLog, ReplicatedLogCache } from "../log/mod.ts";
import type { Discovery, DiscoveryLogger } from "../discovery/mod.ts";
import { type Clock, formatHostPort, type HostPort } from "../transport/mod.ts";
import { NameConflictError } from "../errors/mod.ts";
import type { SecurityState } from "./security.ts";

// The constructor and the hooks below are for cluster() only: reached through nodeHooks (set
// in the class's static block), they stay out of the public types.
/** cluster()'s handles on a node's private parts. */
export interface NodeHooks {
  /** Creates a node. */
  create(parts: ClusterParts): Cluster;
  /** Wires membership into the log and starts discovery. */
  start(node: Cluster, discovery: Discovery | undefined): Promise<void>;
  /** A member told `node` to remove `name` from the voting membership. */
  removal(node: Cluster, name: string): void;
  /** memberlist saw one name at two addresses. */
  conflict(node: Cluster, existing: Member, other: { address: HostPort }): void;
}
/** Set by the class's static block. */
export const nodeHooks: NodeHooks = {} as NodeHooks;

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
  #refused = new Set<string>();
  #closed = false;
  #leaving = false;
  #joined = false;
  #logger: Logger;
  #discoveryLogger: DiscoveryLogger;
  #clock: Clock;
  #voting: VotingMembership;
  #quorum: QuorumStatus;
  #logAdvertise: HostPort;
  #attributes: Record<string, string>;
  #readiness: Required<ReadinessOptions>;
  #conflicts = new Set<string>();
  #stopMetrics: (() => void) | undefined;

  static {
    nodeHooks.create = (parts) => new Cluster(parts);
    nodeHooks.start = (node, discovery) => node.#start(discovery);
    nodeHooks.removal = (node, name) => node.#onRemoval(name);
    nodeHooks.conflict = (node, existing, other) => node.#conflict(existing, other);
  }

  private constructor(parts: ClusterParts) {
    super((event, err) =>
      layerLogger(parts.logger, "cluster").error(`a "${event}" listener threw`, {
        event,
        error: String(err),
      })
    );
    this.name = parts.name;
    this.config = parts.config;
    this.log = parts.log;
    this.cache = parts.log.cache;
    this.#memberlist = parts.memberlist;
    this.keyring = parts.keyring;
    this.security = parts.security ??
      { gossip: "open", log: "open", verifyIncoming: true, verifyOutgoing: true };
    this.#logger = layerLogger(parts.logger, "cluster");
    this.#discoveryLogger = discoveryLogger(parts.logger);
    this.#clock = parts.clock;
    this.#logAdvertise = parts.logAdvertise;
    this.#attributes = { ...parts.attributes };
    const config = parts.config;
    this.#readiness = {
      members: parts.readiness?.members ?? (config && (config.members || config.autojoin) ? 2 : 1),
      quorum: parts.readiness?.quorum ?? false,
    };
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
    if (parts.meterProvider !== false) {
      this.#stopMetrics = observeMetrics(
        parts.meterProvider ?? metrics.getMeterProvider(),
        () => this.metricFamilies(),
      );
    }
  }

  /**
   * Where peers reach this node (`host:port`, advertised: what to put in another node's
   * `members`), memberlist (UDP+TCP) and the log (TCP), and under `bound` the sockets this
   * node listens on (e.g. `0.0.0.0:3322`). All undefined when isolated.
   *
   * @example
   * ```ts
   * // bind 0.0.0.0, advertise_address 10.0.0.5:
   * node.addresses;
   * // { memberlist: "10.0.0.5:3322", log: "10.0.0.5:3320",
   * //   bound: { memberlist: "0.0.0.0:3322", log: "0.0.0.0:3320" } }
   * ```
   */
  get addresses(): {
    memberlist: string | undefined;
    log: string | undefined;
    bound: { memberlist: string | undefined; log: string | undefined };
  } {
    return nodeAddresses(this.#memberlist, this.log.address, this.#logAdvertise);
  }

  /**
   * Replaces the attributes this node advertises (`options.meta` at start); gossiped with a
   * higher incarnation, so every other member emits `member-update`. Resolves once set here.
   *
   * @example
   * ```ts
   * await node.setMeta({ zone: "b", version: "1.4.2" });
   * ```
   * @param meta the new attributes (strings; with the environment and log address ≤ 512 bytes)
   * @throws TypeError for a non-string value, RangeError when too large, Error when closed
   */
  async setMeta(meta: Record<string, string>): Promise<void> {
    if (this.#closed || this.#leaving) throw new Error(`node ${this.name} is closed or leaving`);
    const attributes = checkAttributes(meta, "setMeta");
    const ml = this.#memberlist;
    if (ml && this.config) {
      await ml.updateMeta(encodeNodeMeta({
        environment: this.config.environment,
        logHost: this.#logAdvertise.host,
        logPort: this.#logAdvertise.port,
        attributes,
      }));
    }
    this.#attributes = attributes;
  }

  /**
   * Every known member, this node included, with its state. Members of another environment are
   * refused and not listed.
   */
  members(): ClusterMember[] {
    if (!this.#memberlist) return [{ ...selfMember(this.name), meta: { ...this.#attributes } }];
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
   * Liveness and readiness. Live: not closed. Ready: live, not leaving, joined (has seen
   * `readiness.members` alive members of its environment, itself included; default 2 when the
   * stanza names peers to join, else 1) and, with `readiness.quorum`, holding a quorum of the
   * voting membership ({@link hasQuorum}).
   *
   * @example
   * ```ts
   * const { ready, reasons } = node.health();
   * if (!ready) console.log(reasons.join("; "));
   * ```
   */
  health(): ClusterHealth {
    const alive = this.members().filter((m) => m.state === "alive").length;
    if (alive >= this.#readiness.members) this.#joined = true; // once joined, stays joined
    return nodeHealth({
      closed: this.#closed,
      leaving: this.#leaving,
      joined: this.#joined,
      alive,
      readiness: this.#readiness,
      quorum: this.#quorum,
    });
  }

  /** Every counter of {@link stats} and the health as metric families. */
  metricFamilies(): MetricFamily[] {
    return metricFamilies(this.stats(), this.health(), this.hasQuorum);
  }

  /**
   * Every counter of {@link stats} (and the health) in the Prometheus text format: serve it
   * on `GET /metrics` with `content-type: text/plain; version=0.0.4`.
   *
   * @example
   * ```ts
   * res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(node.metrics());
   * ```
   */
  metrics(): string {
    return formatPrometheus(this.metricFamilies());
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

  /** memberlist saw one name at two addresses: an error event and a log line, once per address. */
  #conflict(existing: Member, other: { address: HostPort }): void {
    const theirs = formatHostPort(other.address);
    const key = `${existing.name}|${theirs}`;
    if (this.#closed || this.#conflicts.has(key)) return;
    this.#conflicts.add(key);
    const mine = formatHostPort(existing.address);
    const err = new NameConflictError(existing.name, mine, theirs, existing.name === this.name);
    this.#logger.error(err.message, { node: err.node, mine: err.mine, theirs: err.theirs });
    emitEvent(this, "error", err);
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
          const err = environmentRefused(m, meta.environment, environment);
          this.#logger.error(err.message, { node: m.name });
          emitEvent(this, "error", err);
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
      await startDiscovery(discovery, ml, {
        name: this.name,
        signal: this.#abort.signal,
        clock: this.#clock,
        logger: this.#discoveryLogger,
        closed: () => this.#closed,
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
    this.#leaving = true;
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
    this.#stopMetrics?.();
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
