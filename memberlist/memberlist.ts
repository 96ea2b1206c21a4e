/**
 * The Memberlist node: binds a transport, keeps the member table, runs the probe, gossip
 * and push/pull loops, and routes every inbound packet and stream. Everything time-based
 * goes through the injected Clock and randomness through `options.random`, so the same
 * code runs on real sockets and in a deterministic simulation.
 *
 * @module
 */
import { systemClock } from "../transport/mod.ts";
import type { HostPort, Stream, Transport } from "../transport/mod.ts";
import { Awareness } from "./awareness.ts";
import { DeliveryEstimate } from "./delivery.ts";
import {
  type Member,
  type MemberlistCounters,
  type MemberlistEvents,
  type MemberlistOptions,
  META_MAX_SIZE,
  PROTOCOL_VERSION_MAX,
  PROTOCOL_VERSION_MIN,
  validateTuning,
} from "./config.ts";
import type { Core } from "./core.ts";
import { Counters } from "./counters.ts";
import { startGossip, startPushPull } from "./gossip.ts";
import { joinCluster, type JoinResult } from "./join.ts";
import {
  bytesToIp,
  encodeMessage,
  ipToBytes,
  labelBytes,
  type PacketSecurity,
} from "./wire/mod.ts";
import { Receiver } from "./receive.ts";
import { Prober } from "./probe.ts";
import { StreamService } from "./push_pull.ts";
import { TransmitLimitedQueue } from "./queue.ts";
import { PacketSender } from "./send.ts";
import { reportConflict } from "./conflict.ts";
import { MemberTable, type NodeRecord, NodeStateCode, recordAddress, toMember } from "./state.ts";
import { TimerSet } from "./timers.ts";
import { MemberListeners } from "./listeners.ts";
import { Reconnector } from "./reconnect.ts";
import { RefusalCheck } from "./refusal.ts";
import { pickAdvertiseHost } from "./advertise.ts";
import { type MemberSeed, plantSeed } from "./seed.ts";

// Creates a node whose table starts seeded: the module-internal seam below (set by
// Memberlist's static block, which alone can reach its private create).
let createSeededNode: (options: MemberlistOptions, seed: MemberSeed) => Promise<Memberlist>;
const silent = { debug(): void {}, warn(): void {} };
// The host of an address a message carried; undefined when it is no IP.
const hostOf = (addr: Uint8Array): string | undefined => {
  try {
    return bytesToIp(addr);
  } catch {
    return undefined;
  }
};

/**
 * One member of a SWIM/Lifeguard cluster, wire-compatible with hashicorp/memberlist.
 *
 * @example
 * ```ts
 * const list = await Memberlist.create({
 *   name: "a", network: nodeNetwork, bind: { host: "127.0.0.1", port: 0 },
 *   tuning: presets.local.memberlist,
 * });
 * await list.join(["127.0.0.1:7946"]);
 * list.on("join", (m) => console.log("joined", m.name));
 * await list.leave(1000);
 * await list.shutdown();
 * ```
 */
export class Memberlist {
  /** Our node name. */
  readonly name: string;
  /** Advertised gossip address. */
  readonly address: HostPort;
  /** Bound gossip address (UDP and TCP; port 0 resolved). */
  readonly bound: HostPort;
  #core: Core;
  #sender: PacketSender;
  #prober: Prober;
  #streams: StreamService;
  #reconnect: Reconnector;
  #refusals: RefusalCheck;
  #listeners: MemberListeners;
  #pending = new Set<Promise<void>>();
  #closed = false;
  #shutdown: Promise<void> | null = null;
  #transport: Transport;

  static {
    createSeededNode = (options, seed) => Memberlist.#create(options, seed);
  }

  private constructor(core: Core, transport: Transport) {
    this.#core = core;
    this.#transport = transport;
    this.#listeners = new MemberListeners((msg, data) => core.logger.warn(msg, data));
    this.name = core.name;
    this.address = core.advertise;
    this.bound = transport.address;
    this.#sender = new PacketSender(core);
    this.#streams = new StreamService(core);
    this.#reconnect = new Reconnector(core, (to) => this.#streams.pushPull(to, true));
    this.#prober = new Prober(
      core,
      this.#sender,
      (to, ping, deadline) => this.#streams.tcpPing(to, ping, deadline),
    );
    this.#refusals = new RefusalCheck(
      core,
      (to, node, done) => this.#prober.ping(to, node, done),
      (to, ping, deadline) => this.#streams.tcpPing(to, ping, deadline),
    );
  }

  /**
   * Binds, marks ourselves alive (incarnation 1) and starts the probe, gossip and push/pull
   * loops, each after a random stagger.
   */
  static create(options: MemberlistOptions): Promise<Memberlist> {
    return Memberlist.#create(options, null);
  }

  static async #create(options: MemberlistOptions, seed: MemberSeed | null): Promise<Memberlist> {
    if (typeof options.name !== "string" || options.name === "") {
      throw new RangeError("name must be a non-empty string");
    }
    validateTuning(options.tuning);
    const pv = options.protocolVersion ?? 2;
    if (!Number.isInteger(pv) || pv < PROTOCOL_VERSION_MIN || pv > PROTOCOL_VERSION_MAX) {
      throw new RangeError(
        `protocolVersion must be in [${PROTOCOL_VERSION_MIN}, ${PROTOCOL_VERSION_MAX}]`,
      );
    }
    const meta = options.meta ?? new Uint8Array(0);
    if (meta.length > META_MAX_SIZE) {
      throw new RangeError(`meta is larger than ${META_MAX_SIZE} bytes`);
    }
    const transport = await options.network.bind({
      host: options.bind.host,
      port: options.bind.port,
      packets: true,
    });
    let list: Memberlist;
    try {
      const bound = transport.address;
      const advertise: HostPort = {
        host: options.advertise?.host ?? pickAdvertiseHost(bound.host),
        port: options.advertise !== undefined && options.advertise.port !== 0
          ? options.advertise.port
          : bound.port,
      };
      let advertiseAddr: Uint8Array;
      try {
        advertiseAddr = ipToBytes(advertise.host);
      } catch {
        throw new RangeError(`advertise host must be an IP literal, got "${advertise.host}"`);
      }
      labelBytes(options.label); // a label longer than 255 bytes throws here, not per packet
      list = Memberlist.#build(options, transport, advertise, advertiseAddr, pv);
    } catch (e) {
      await transport.close();
      throw e;
    }
    list.#start(meta, seed);
    return list;
  }

  static #build(
    options: MemberlistOptions,
    transport: Transport,
    advertise: HostPort,
    advertiseAddr: Uint8Array,
    pv: number,
  ): Memberlist {
    const clock = options.clock ?? systemClock;
    const random = options.random ?? Math.random;
    const logger = options.logger ?? silent;
    const counters = new Counters();
    const timers = new TimerSet(clock);
    const awareness = new Awareness(options.tuning.awarenessMaxMultiplier);
    const security: PacketSecurity = {
      keyring: options.keyring,
      label: options.label ?? "",
      verifyIncoming: options.gossipVerifyIncoming ?? true,
      verifyOutgoing: options.gossipVerifyOutgoing ?? true,
      encryptionVersion: pv < 2 ? 0 : 1,
    };
    let seq = 0;
    let self: Memberlist | null = null;
    // deno-lint-ignore prefer-const
    let table: MemberTable;
    const delivery = new DeliveryEstimate();
    const queue = new TransmitLimitedQueue(
      options.tuning.retransmitMult,
      () => table.numNodes,
      () => delivery.retransmitFactor,
    );
    const core: Core = {
      name: options.name,
      clock,
      tuning: { ...options.tuning },
      timers,
      get table(): MemberTable {
        return table;
      },
      queue,
      awareness,
      delivery,
      counters,
      transport,
      security,
      compress: options.enableCompression ?? true,
      protocolVersion: pv,
      advertise,
      advertiseAddr,
      vsn: Uint8Array.of(PROTOCOL_VERSION_MIN, PROTOCOL_VERSION_MAX, pv, 0, 0, 0),
      delegate: options.delegate ?? {},
      logger,
      random: () => random(),
      isClosed: () => self === null || self.#closed,
      track: (p) => {
        if (self !== null) self.#track(p);
      },
      nextSeqNo: () => (seq = (seq + 1) >>> 0),
      refused: (to) => {
        if (self !== null) self.#refusals.refused(to);
      },
    };
    table = new MemberTable({
      clock,
      name: options.name,
      tuning: core.tuning,
      awareness,
      random: () => random(),
      broadcast: (node, msg, onFinished) => {
        queue.queue({ name: node, message: encodeMessage(msg), onFinished });
      },
      emit: (ev, rec) => {
        if (self === null) return;
        self.#reconnect.observe(ev, rec);
        self.#listeners.emit(ev, rec);
      },
      warn: (msg, data) => logger.warn(msg, data),
      onConflict: (rec, theirs) => reportConflict(core, rec, theirs),
      onRefute: () => counters.inc("refutations"),
      onDegradedTimeout: () => counters.inc("degradedTimeouts"),
      sendDirect: (addr, port, msg) => {
        const host = hostOf(addr);
        if (self === null || self.#closed || host === undefined) return;
        counters.inc(msg.type === "alive" ? "accusationsAnswered" : "accusationsSent");
        self.#sender.sendMsg({ host, port }, encodeMessage(msg));
      },
      verify: (addr, port, node, done) => {
        const host = hostOf(addr);
        if (self === null || self.#closed || host === undefined) return done(false);
        counters.inc("revivalChecks");
        self.#prober.ping({ host, port }, node, done);
      },
    });
    self = new Memberlist(core, transport);
    return self;
  }

  #start(meta: Uint8Array, seed: MemberSeed | null): void {
    const c = this.#core;
    c.table.setAlive(c.advertiseAddr, c.advertise.port, meta, c.vsn);
    if (seed !== null) {
      plantSeed(c.table, seed, c.clock.now(), c.random);
      c.queue.reset(); // our own alive went out long ago in a cluster that converged
    }
    const rx = new Receiver(c, this.#prober);
    this.#transport.onPacket((bytes, from) => rx.onPacket(bytes, from));
    this.#transport.onStream((s: Stream) => this.#streams.handleStream(s));
    this.#prober.start();
    startGossip(c, this.#sender);
    startPushPull(c, (node) => this.#streams.pushPull(recordAddress(node), false));
    this.#reconnect.start();
  }

  /** Push/pulls (join = true) with every address in parallel; rejects only if none answered. */
  async join(
    addresses: (string | HostPort)[],
    options?: { timeoutMs?: number },
  ): Promise<JoinResult> {
    if (this.#closed) throw new Error("memberlist is shut down");
    const timeout = options?.timeoutMs ?? this.#core.tuning.tcpTimeoutMs;
    const run = joinCluster(this.#core, this.#streams, addresses, timeout);
    this.#track(run);
    return await run;
  }

  /**
   * Broadcasts our departure (dead about ourselves, from ourselves) and waits until it was
   * sent the retransmit-limit number of times, superseded, or `timeoutMs` passed. Returns at
   * once when no other member is alive. Does not stop the node: call {@link shutdown}.
   *
   * @param timeoutMs how long to wait at most; default five probe intervals, time for the
   *   members that probe us to hear it before they would suspect us
   */
  async leave(timeoutMs?: number): Promise<void> {
    const c = this.#core;
    timeoutMs ??= c.tuning.probeIntervalMs * 5;
    if (this.#closed || c.table.leaving) return;
    c.table.leaving = true;
    const me = c.table.self();
    if (me === undefined) return;
    let finished: () => void = () => {};
    const done = new Promise<void>((resolve) => (finished = resolve));
    c.table.deadNode({ incarnation: me.incarnation, node: c.name, from: c.name }, () => finished());
    if (!c.table.anyAlive()) return;
    await Promise.race([done, c.timers.sleep(timeoutMs)]);
  }

  /** Stops timers and the transport without broadcasting; idempotent. */
  shutdown(): Promise<void> {
    if (this.#shutdown !== null) return this.#shutdown;
    this.#closed = true;
    const c = this.#core;
    c.timers.clearAll();
    this.#prober.stop();
    c.table.stopTimers();
    c.queue.reset();
    this.#streams.closeAll();
    this.#shutdown = (async () => {
      await this.#transport.close();
      while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
      this.#listeners.clear();
    })();
    return this.#shutdown;
  }

  /** Every known member, ourselves included, in any state. */
  members(): Member[] {
    return this.#core.table.nodes.map(toMember);
  }

  /** Members in state alive (ourselves included unless we left). */
  aliveMembers(): Member[] {
    return this.#core.table.nodes.filter((n) => n.state === NodeStateCode.alive).map(toMember);
  }

  /** How many members are alive, ourselves included unless we left (memberlist NumMembers). */
  numMembers(): number {
    let n = 0;
    for (const rec of this.#core.table.nodes) if (rec.state === NodeStateCode.alive) n++;
    return n;
  }

  /** Our own member entry. */
  localMember(): Member {
    return toMember(this.#core.table.self() as NodeRecord);
  }

  /** Sets new metadata: bumps our incarnation and broadcasts alive; emits update locally. */
  updateMeta(meta: Uint8Array): Promise<void> {
    if (meta.length > META_MAX_SIZE) {
      return Promise.reject(new RangeError(`meta is larger than ${META_MAX_SIZE} bytes`));
    }
    const c = this.#core;
    if (this.#closed || c.table.leaving) {
      return Promise.reject(new Error("memberlist is not running"));
    }
    c.table.setAlive(c.advertiseAddr, c.advertise.port, meta, c.vsn);
    return Promise.resolve();
  }

  /**
   * Evidence from outside memberlist that member `name` may have crashed (e.g. its log
   * connection ended without a goodbye): with `tuning.deadOnRefusal` on, probes it at once
   * and declares it dead if its own address keeps refusing connections (refusal.ts). Returns
   * whether a check started; without the fast path, hints are ignored.
   *
   * @example
   * ```ts
   * list.probeNow("node-b", "log connection lost without goodbye");
   * ```
   */
  probeNow(name: string, reason: string): boolean {
    return this.#refusals.check(name, reason);
  }

  /** Local health: 0 is healthy, up to awarenessMaxMultiplier − 1. */
  healthScore(): number {
    return this.#core.awareness.getHealthScore();
  }

  /** A copy of the counters. */
  counters(): MemberlistCounters {
    return this.#core.counters.snapshot();
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof MemberlistEvents>(event: K, fn: (m: MemberlistEvents[K]) => void): () => void {
    return this.#listeners.on(event, fn);
  }

  /** Sends a user message to a member over a stream (delivered to its delegate.notifyMsg). */
  async sendReliable(to: string, payload: Uint8Array): Promise<void> {
    if (this.#closed) throw new Error("memberlist is shut down");
    const rec = this.#core.table.byName.get(to);
    if (rec === undefined) throw new Error(`unknown member '${to}'`);
    const run = this.#streams.sendUser(recordAddress(rec), payload);
    this.#track(run);
    await run;
  }

  /** Estimated cluster size: known nodes in any state, ourselves included. */
  estimatedSize(): number {
    return this.#core.table.numNodes;
  }

  #track(p: Promise<unknown>): void {
    const q: Promise<void> = p.then(
      () => {},
      () => {},
    ).finally(() => this.#pending.delete(q));
    this.#pending.add(q);
  }
}

/**
 * Simulation seam (not exported by `mod.ts`): creates a node like {@link Memberlist.create}
 * whose member table already holds `seed`, as if the cluster had converged long ago: no
 * broadcasts, no events, and its loops staggered over the intervals of a table that size
 * (see seed.ts).
 *
 * @example
 * ```ts
 * const list = await createSeeded(options, new MemberSeed(everyone));
 * ```
 */
export function createSeeded(options: MemberlistOptions, seed: MemberSeed): Promise<Memberlist> {
  return createSeededNode(options, seed);
}
