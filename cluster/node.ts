/**
 * The {@link Cluster} class: one running node (membership events wired into the log's peer
 * set, discovery, health, metrics, runtime metadata). Created by `cluster()` in cluster.ts.
 *
 * @module
 */
import { metrics } from "@opentelemetry/api";
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
import { decodeNodeMeta, encodeNodeMeta } from "./node_meta.ts";
import type { Keyring, Member, Memberlist } from "../memberlist/mod.ts";
import type { ReplicatedLog, ReplicatedLogCache } from "../log/mod.ts";
import type { Discovery } from "../discovery/mod.ts";
import { type Clock, formatHostPort, type HostPort } from "../transport/mod.ts";
import { NameConflictError } from "../errors/mod.ts";
import { discoveryLogger, layerLogger } from "./logging.ts";
import {
  formatPrometheus,
  type MeterProviderLike,
  metricFamilies,
  type MetricFamily,
  observeMetrics,
} from "./metrics.ts";
import { toClusterMember } from "./support.ts";

type Listener<T> = (value: T) => void;

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
  /** The keyring in use (rotate keys through it), or `undefined` without encryption. */
  readonly keyring: Keyring | undefined;
  #memberlist: Memberlist | undefined;
  #discovery: Discovery | undefined;
  #abort = new AbortController();
  #listeners = new Map<keyof ClusterEvents, Set<Listener<never>>>();
  #refused = new Set<string>();
  #closed = false;
  #logger: Logger;
  #clock: Clock;
  #logAdvertise: HostPort;
  #attributes: Record<string, string>;
  #readiness: Required<ReadinessOptions>;
  #joined = false;
  #leaving = false;
  #conflicts = new Set<string>();
  #stopMetrics: (() => void) | undefined;

  /** @internal use {@link cluster} */
  constructor(parts: {
    name: string;
    config: ClusterConfig | undefined;
    log: ReplicatedLog;
    memberlist: Memberlist | undefined;
    keyring: Keyring | undefined;
    logger: Logger;
    clock: Clock;
    logAdvertise: HostPort;
    attributes: Record<string, string>;
    readiness: ReadinessOptions | undefined;
    meterProvider: MeterProviderLike | false | undefined;
  }) {
    this.name = parts.name;
    this.config = parts.config;
    this.log = parts.log;
    this.cache = parts.log.cache;
    this.#memberlist = parts.memberlist;
    this.keyring = parts.keyring;
    this.#logger = parts.logger;
    this.#clock = parts.clock;
    this.#logAdvertise = parts.logAdvertise;
    this.#attributes = { ...parts.attributes };
    const c = parts.config;
    this.#readiness = {
      members: parts.readiness?.members ?? (c && (c.members || c.autojoin) ? 2 : 1),
      quorum: parts.readiness?.quorum ?? false,
    };
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
    const ml = this.#memberlist;
    const bound = {
      memberlist: ml ? formatHostPort(ml.bound) : undefined,
      log: this.log.address ? formatHostPort(this.log.address) : undefined,
    };
    if (!ml) return { memberlist: undefined, log: undefined, bound };
    const log = formatHostPort({
      host: this.#logAdvertise.host || ml.address.host,
      port: this.#logAdvertise.port,
    });
    return { memberlist: formatHostPort(ml.address), log, bound };
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
    const attributes: Record<string, string> = {};
    for (const [k, v] of Object.entries(meta)) {
      if (typeof v !== "string") {
        throw new TypeError(`setMeta: attribute "${k}" must be a string, got ${typeof v}`);
      }
      attributes[k] = v;
    }
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
    return { memberlist: this.#memberlist?.counters(), log: this.log.stats(), members };
  }

  /**
   * Liveness and readiness. Live: not closed. Ready: live, not leaving, joined (has seen
   * `readiness.members` alive members of its environment, itself included; default 2 when the
   * stanza names peers to join, else 1) and, with `readiness.quorum`, holding a majority.
   *
   * @example
   * ```ts
   * const { ready, reasons } = node.health();
   * if (!ready) console.log(reasons.join("; "));
   * ```
   */
  health(): ClusterHealth {
    if (this.#closed) return { live: false, ready: false, reasons: ["the node is closed"] };
    const reasons: string[] = [];
    if (this.#leaving) reasons.push("the node is leaving the cluster");
    this.#checkJoined();
    if (!this.#joined) {
      reasons.push(
        `not joined yet: sees ${this.#aliveHere()} alive member(s), needs ${this.#readiness.members}`,
      );
    }
    if (this.#readiness.quorum && !this.hasQuorum) {
      reasons.push("no quorum: a majority of the known members is not alive");
    }
    return { live: true, ready: reasons.length === 0, reasons };
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

  #aliveHere(): number {
    return this.members().filter((m) => m.state === "alive").length;
  }

  #checkJoined(): void {
    if (!this.#joined && this.#aliveHere() >= this.#readiness.members) this.#joined = true;
  }

  /** @internal memberlist saw one name at two addresses */
  conflict(existing: Member, other: { name: string; address: HostPort }): void {
    const theirs = formatHostPort(other.address);
    const key = `${existing.name}|${theirs}`;
    if (this.#closed || this.#conflicts.has(key)) return;
    this.#conflicts.add(key);
    const err = new NameConflictError(
      existing.name,
      formatHostPort(existing.address),
      theirs,
      existing.name === this.name,
    );
    layerLogger(this.#logger, "cluster").error(err.message, {
      node: err.node,
      mine: err.mine,
      theirs: err.theirs,
    });
    this.emit("error", err);
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
        layerLogger(this.#logger, "cluster").error(`a "${event}" listener threw`, {
          event,
          error: String(err),
        });
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
          const err = new Error(
            `member ${m.name} at ${
              formatHostPort(m.address)
            } runs environment "${meta.environment}" but this node runs "${environment}": refused`,
          );
          layerLogger(this.#logger, "cluster").error(err.message, { node: m.name });
          this.emit("error", err);
        }
        this.#syncPeers();
        return;
      }
      this.#syncPeers();
      this.#checkJoined();
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
      meta: { ...this.#attributes },
    };
  }

  /** Leaves gracefully (members see "left", not "failed"), then closes. */
  async leave(): Promise<void> {
    if (this.#closed) return;
    this.#leaving = true;
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
    this.#stopMetrics?.();
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
