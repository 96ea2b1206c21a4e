/**
 * NATS discovery (`autojoin: { nats: { url, subject } }`).
 *
 * - At start: connect (retrying with backoff while NATS is unreachable; the node runs
 *   meanwhile), subscribe, announce this node, send a discovery request, collect the replies
 *   for a bounded window and join them.
 * - Then: announce periodically; answer discovery requests; join any announced node that is
 *   not in the cluster yet (this also re-merges a healed partition).
 * - NATS lost later: the cluster keeps working (it never depended on NATS once formed); the
 *   client reconnects forever; on reconnect this node announces and discovers again.
 *
 * Clusters on one NATS server stay apart by using different subjects. The wire format is
 * described in `nats_messages.ts`.
 *
 * @module
 */
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import { formatHostPort } from "../transport/mod.ts";
import type { HostPort } from "../transport/mod.ts";
import { assertTransportAvailable, openNatsConnection } from "./nats_connect.ts";
import { decodeAnnouncement, encodeAnnouncement, natsSubjects } from "./nats_messages.ts";
import type { NatsSubjects } from "./nats_messages.ts";
import {
  DEFAULT_NATS_SUBJECT,
  type NatsAutojoinOptions,
  type NatsDiscoveryOptions,
  parseNatsOptions,
} from "./nats_options.ts";
import { backoffDelay, sleep } from "./retry.ts";
import type { Discovery, DiscoveryContext, DiscoveryFactory } from "./types.ts";

/** Counters of a {@link NatsDiscovery}, for tests and metrics. */
export interface NatsDiscoveryStats {
  /** Successful connections (the first one and every reconnect). */
  connects: number;
  /** Announcements published. */
  announcements: number;
  /** Discovery requests answered. */
  repliesSent: number;
  /** Inbound messages dropped as malformed. */
  dropped: number;
}

/** The NATS discovery; see the module doc. Create it with {@link natsDiscovery}. */
export class NatsDiscovery implements Discovery {
  /** Always `"nats"`. */
  readonly name: string = "nats";
  readonly #urls: string[];
  readonly #subjects: NatsSubjects;
  readonly #options: NatsDiscoveryOptions;
  readonly #stop: AbortController = new AbortController();
  readonly #stats: NatsDiscoveryStats = {
    connects: 0,
    announcements: 0,
    repliesSent: 0,
    dropped: 0,
  };
  readonly #pending: Map<string, HostPort> = new Map();
  #ctx: DiscoveryContext | undefined;
  #nc: NatsConnection | undefined;
  #tasks: Promise<void>[] = [];
  #flushing: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #unlink: () => void = () => {};
  /** Addresses whose join failed last time: warn once, not at every announcement. */
  readonly #failed: Set<string> = new Set();

  /**
   * Creates a stopped discovery.
   * @param options URLs, subject and timing
   */
  constructor(options: NatsDiscoveryOptions) {
    this.#options = options;
    this.#urls = typeof options.url === "string" ? [options.url] : [...options.url];
    this.#subjects = natsSubjects(options.subject ?? DEFAULT_NATS_SUBJECT);
  }

  /** A snapshot of the counters. */
  get stats(): NatsDiscoveryStats {
    return { ...this.#stats };
  }

  /**
   * Starts in the background and resolves at once, even when NATS is unreachable.
   * Rejects with {@link NatsDiscoveryError} `ENOWEBSOCKET` when a ws:// URL cannot work here.
   */
  start(ctx: DiscoveryContext): Promise<void> {
    if (this.#ctx !== undefined) return Promise.reject(new Error("nats discovery already started"));
    try {
      assertTransportAvailable(this.#urls);
    } catch (err) {
      ctx.logger.error((err as Error).message);
      return Promise.reject(err);
    }
    this.#ctx = ctx;
    if (ctx.signal.aborted) this.#stop.abort();
    const onAbort = (): void => void this.close();
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    this.#unlink = () => ctx.signal.removeEventListener("abort", onAbort);
    this.#spawn(this.#run(ctx));
    return Promise.resolve();
  }

  /** Stops timers and subscriptions and closes the NATS connection; idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#stop.abort();
    this.#unlink();
    const nc = this.#nc;
    if (nc !== undefined && !nc.isClosed()) {
      await nc.close().catch(() => {});
    }
    // tasks may spawn tasks while finishing: wait until none is left
    while (this.#tasks.length > 0) {
      const tasks = this.#tasks;
      this.#tasks = [];
      await Promise.all(tasks);
    }
    await this.#flushing;
  }

  #spawn(task: Promise<void>): void {
    const ctx = this.#ctx;
    this.#tasks.push(task.catch((err) => {
      if (!this.#stop.signal.aborted) {
        ctx?.logger.error("nats discovery task failed", { error: String(err) });
      }
    }));
  }

  async #run(ctx: DiscoveryContext): Promise<void> {
    const nc = await this.#connect(ctx);
    if (nc === undefined) return;
    this.#nc = nc;
    if (this.#stop.signal.aborted) {
      await nc.close().catch(() => {});
      return;
    }
    this.#stats.connects++;
    nc.subscribe(this.#subjects.announce, { callback: (err, msg) => this.#onAnnounce(err, msg) });
    nc.subscribe(this.#subjects.discover, { callback: (err, msg) => this.#onDiscover(err, msg) });
    this.#spawn(this.#watchStatus(ctx, nc));
    await this.#announceAndDiscover(ctx, nc);
    const interval = this.#options.announceIntervalMs ?? 5000;
    while (await sleep(ctx.clock, interval, this.#stop.signal)) {
      this.#announce(ctx, nc);
    }
  }

  /** Attempts until connected or stopped; `undefined` when stopped first. */
  async #connect(ctx: DiscoveryContext): Promise<NatsConnection | undefined> {
    const where = this.#urls.join(", ");
    const backoff = {
      initialMs: this.#options.retryInitialMs ?? 500,
      maxMs: this.#options.retryMaxMs ?? 10_000,
    };
    for (let failures = 0; !this.#stop.signal.aborted; failures++) {
      try {
        const nc = await openNatsConnection({
          urls: this.#urls,
          name: `response-cluster ${ctx.nodeName}`,
          timeoutMs: this.#options.connectTimeoutMs ?? 5000,
          reconnectTimeWaitMs: this.#options.reconnectTimeWaitMs ?? 2000,
        });
        ctx.logger.info(
          failures === 0
            ? `connected to NATS at ${nc.getServer()}; discovering on "${this.#subjects.announce}"`
            : `NATS reachable at ${nc.getServer()} after ${failures} failed attempt(s); discovering`,
        );
        return nc;
      } catch (err) {
        const delay = backoffDelay(backoff, failures);
        const detail = {
          url: where,
          error: err instanceof Error ? err.message : String(err),
          attempt: failures + 1,
        };
        if (failures === 0) {
          ctx.logger.warn(
            `NATS unreachable at ${where}; the node runs without autojoin for now and retries in ${delay} ms`,
            detail,
          );
        } else if (failures % 10 === 0) {
          ctx.logger.warn(
            `NATS still unreachable at ${where} after ${failures + 1} attempts; retrying`,
            detail,
          );
        } else {
          ctx.logger.debug(`NATS unreachable; retrying in ${delay} ms`, detail);
        }
        if (!(await sleep(ctx.clock, delay, this.#stop.signal))) return undefined;
      }
    }
    return undefined;
  }

  async #watchStatus(ctx: DiscoveryContext, nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (this.#stop.signal.aborted) return;
      switch (s.type) {
        case "disconnect":
          ctx.logger.warn(
            `NATS connection to ${s.server} lost; the cluster keeps running; reconnecting`,
          );
          break;
        case "reconnect":
          this.#stats.connects++;
          ctx.logger.info(`NATS reconnected to ${s.server}; announcing again`);
          this.#spawn(this.#announceAndDiscover(ctx, nc));
          break;
        case "error":
          ctx.logger.warn("NATS error", { error: s.error.message });
          break;
        case "staleConnection":
          ctx.logger.warn("NATS connection stale; reconnecting");
          break;
        default:
          ctx.logger.debug(`NATS status ${s.type}`);
      }
    }
  }

  #announce(ctx: DiscoveryContext, nc: NatsConnection): void {
    if (nc.isClosed()) return;
    try {
      nc.publish(
        this.#subjects.announce,
        encodeAnnouncement({ name: ctx.nodeName, address: ctx.self }),
      );
      this.#stats.announcements++;
      ctx.logger.debug("announced", { subject: this.#subjects.announce });
    } catch (err) {
      ctx.logger.debug("announce failed", { error: String(err) });
    }
  }

  /** Announces, then asks who is there and joins every reply. */
  async #announceAndDiscover(ctx: DiscoveryContext, nc: NatsConnection): Promise<void> {
    this.#announce(ctx, nc);
    const found: HostPort[] = [];
    try {
      const replies = await nc.requestMany(
        this.#subjects.discover,
        encodeAnnouncement({ name: ctx.nodeName, address: ctx.self }),
        { strategy: "timer", maxWait: this.#options.discoverWindowMs ?? 1000 },
      );
      for await (const m of replies) {
        const a = decodeAnnouncement(m.data);
        if (a === undefined) this.#stats.dropped++;
        else found.push(a.address);
      }
    } catch (err) {
      // no responders is the normal answer for the first node of a cluster
      ctx.logger.debug("discovery request ended", { error: String(err) });
    }
    if (this.#stop.signal.aborted) return;
    ctx.logger.debug(`discovery request answered by ${found.length} node(s)`);
    this.#want(found);
  }

  #onAnnounce(err: Error | null, msg: Msg): void {
    if (err !== null || this.#stop.signal.aborted) return;
    const a = decodeAnnouncement(msg.data);
    if (a === undefined) {
      this.#stats.dropped++;
      return;
    }
    this.#want([a.address]);
  }

  #onDiscover(err: Error | null, msg: Msg): void {
    const ctx = this.#ctx;
    if (err !== null || ctx === undefined || this.#stop.signal.aborted) return;
    if (decodeAnnouncement(msg.data) === undefined) {
      this.#stats.dropped++;
      return;
    }
    if (msg.reply === undefined || msg.reply === "") return;
    try {
      msg.respond(encodeAnnouncement({ name: ctx.nodeName, address: ctx.self }));
      this.#stats.repliesSent++;
    } catch (e) {
      ctx.logger.debug("discovery reply failed", { error: String(e) });
    }
  }

  /** Queues addresses to join, skipping this node and current members; joins in batches. */
  #want(addresses: HostPort[]): void {
    const ctx = this.#ctx;
    if (ctx === undefined || this.#stop.signal.aborted) return;
    const known = new Set(ctx.knownMembers().map(formatHostPort));
    known.add(formatHostPort(ctx.self));
    for (const a of addresses) {
      const key = formatHostPort(a);
      if (!known.has(key)) this.#pending.set(key, a);
    }
    if (this.#pending.size > 0 && this.#flushing === undefined) {
      this.#flushing = this.#flush(ctx).finally(() => {
        this.#flushing = undefined;
      });
    }
  }

  async #flush(ctx: DiscoveryContext): Promise<void> {
    while (this.#pending.size > 0 && !this.#stop.signal.aborted) {
      const batch = [...this.#pending.values()];
      this.#pending.clear();
      let answered = 0;
      try {
        answered = await ctx.join(batch);
      } catch (err) {
        ctx.logger.debug("join failed", { error: String(err) });
      }
      const keys = batch.map(formatHostPort);
      const list = keys.join(", ");
      if (answered > 0) {
        for (const k of keys) this.#failed.delete(k);
        ctx.logger.info(`joined ${answered} node(s) found through NATS`, { tried: list });
      } else {
        const fresh = keys.some((k) => !this.#failed.has(k));
        if (this.#failed.size > 1000) this.#failed.clear(); // bounded, whatever is announced
        for (const k of keys) this.#failed.add(k);
        const log = fresh ? ctx.logger.warn : ctx.logger.debug;
        log.call(ctx.logger, "no node found through NATS answered the join", { tried: list });
      }
    }
  }
}

/**
 * Creates a NATS discovery.
 *
 * @example
 * ```ts
 * const discovery = natsDiscovery({ url: "nats://127.0.0.1:4222", subject: "prod-cluster" });
 * await discovery.start(ctx); // resolves at once; joins peers as they are announced
 * await discovery.close();
 * ```
 */
export function natsDiscovery(options: NatsDiscoveryOptions): NatsDiscovery {
  return new NatsDiscovery(options);
}

/**
 * The registry entry of the NATS discovery (registered as `"nats"`).
 *
 * @example
 * ```ts
 * const options = natsDiscoveryFactory.parse({ url: "nats://127.0.0.1:4222" }, "cluster.autojoin.nats");
 * const discovery = natsDiscoveryFactory.create(options);
 * ```
 */
export const natsDiscoveryFactory: DiscoveryFactory<NatsAutojoinOptions> = {
  parse: parseNatsOptions,
  create: natsDiscovery,
};
