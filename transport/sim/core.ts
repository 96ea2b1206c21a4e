/**
 * The state and packet path of the simulated network: hosts, links, partitions, pauses and
 * counters. Internal; {@link SimNetwork} is the public face.
 *
 * The packet path allocates one {@link PacketEvent} (plus a copy of the bytes) per packet and
 * nothing else: it is the hot loop of 10,000-node simulations.
 *
 * @module
 */
import { ByteSlab } from "./slab.ts";
import { DEFAULT_LINK, type LinkConfig, resolveLink } from "./link.ts";
import type { HostPort, PacketHandler, Stream } from "../types.ts";
import { TimelineEntry, type VirtualClock } from "./virtual_clock.ts";

/** Why packets were dropped. */
export interface SimDropCounters {
  /** Lost on a lossy link. */
  loss: number;
  /** Sender and receiver in different partition groups (at send or at arrival). */
  partition: number;
  /** No host of that name was ever bound or paused. */
  noRoute: number;
  /** Host known, but nothing listening for packets on that port (closed or killed). */
  noListener: number;
  /** Listener present, but no packet handler set. */
  noHandler: number;
  /** Sent from a closed transport or a streams-only one. */
  closed: number;
  /** Destination port out of range. */
  badAddress: number;
}

/** Counters of a simulated network; they only grow. */
export interface SimStats {
  /** Packets accepted by `sendPacket` (before loss or any drop). */
  packetsSent: number;
  /** Their bytes. */
  bytesSent: number;
  /** Packets handed to a handler (duplicates included). */
  packetsDelivered: number;
  /** Their bytes. */
  bytesDelivered: number;
  /** Extra copies created by link duplication. */
  packetsDuplicated: number;
  /** Packets dropped, per reason. */
  readonly dropped: SimDropCounters;
  /** Exceptions thrown by packet or stream handlers (caught). */
  handlerErrors: number;
  /** Dial attempts. */
  streamsDialed: number;
  /** Dials that connected. */
  streamsOpened: number;
  /** Dials refused (no listener: ECONNREFUSED). */
  streamsRefused: number;
  /** Dials that timed out (ETIMEDOUT). */
  streamsTimedOut: number;
  /** Connections reset: peer killed, or stalled by a partition past the stream timeout. */
  streamsBroken: number;
  /** Bytes written to streams. */
  streamBytesSent: number;
  /** Bytes delivered to stream readers' queues. */
  streamBytesDelivered: number;
}

/**
 * What the core needs of a bound port. SimTransport implements it; the core names only this
 * interface, so the transport can depend on the core and not the other way round.
 */
export interface SimPort {
  readonly host: HostState;
  readonly address: HostPort;
  readonly packets: boolean;
  readonly closed: boolean;
  readonly packetHandler: PacketHandler | null;
  /** An inbound connection arrived (a SimStream). */
  accept(stream: Stream): void;
  /** The host was killed: drop everything without a goodbye. */
  kill(): void;
}

/** One simulated host: its ports, partition group, pause and link overrides. */
export class HostState {
  /** Host name, e.g. "10.0.0.1". */
  readonly name: string;
  /** Bound transports by port. */
  readonly ports: Map<number, SimPort> = new Map();
  /** Partition group; hosts talk only within one group. */
  group: number = 0;
  /** Gone silent ({@link SimCore.silence}): a group of its own, whatever the partition says. */
  silent: boolean = false;
  /** The host neither sends nor processes anything before this time. */
  pausedUntil: number = -Infinity;
  /** Bumped by kill: timers and work of an older incarnation are dropped. */
  epoch: number = 0;
  /** Next candidate for port 0. */
  nextPort: number = 40000;
  /** Source port of the next outbound stream (reported as `remote` to the acceptor). */
  nextEphemeral: number = 50000;
  /** Per-destination link overrides (null while there are none: the fast path). */
  links: Map<string, LinkConfig> | null = null;
  /** The partial overrides, kept to re-resolve them when the default link changes. */
  linkPartials: Map<string, Partial<LinkConfig>> | null = null;
  /** Bandwidth-limited links: time the last queued byte leaves, per destination. */
  busyUntil: Map<string, number> | null = null;

  /** @param name the host name */
  constructor(name: string) {
    this.name = name;
  }
}

/** A datagram in flight: the single allocation per packet. */
export class PacketEvent extends TimelineEntry {
  core: SimCore;
  fromHost: HostState;
  from: HostPort;
  toHost: HostState;
  toPort: number;
  bytes: Uint8Array;

  constructor(
    core: SimCore,
    fromHost: HostState,
    from: HostPort,
    toHost: HostState,
    toPort: number,
    bytes: Uint8Array,
  ) {
    super();
    this.core = core;
    this.fromHost = fromHost;
    this.from = from;
    this.toHost = toHost;
    this.toPort = toPort;
    this.bytes = bytes;
  }

  run(): void {
    this.core.deliver(this);
  }
}

/** Shared state of one simulated network. */
export class SimCore {
  readonly clock: VirtualClock;
  readonly random: () => number;
  readonly hosts: Map<string, HostState> = new Map();
  /** Where packet copies live. */
  readonly slab: ByteSlab = new ByteSlab();
  /** Partition groups by host name (hosts absent from it are in group 0). */
  partitionOf: Map<string, number> = new Map();
  defaultLink: LinkConfig = DEFAULT_LINK;
  /** How long a stream may stall behind a partition before it breaks. */
  streamTimeoutMs: number;
  /** Retransmission interval of a stalled stream. */
  readonly streamRetryMs: number = 200;
  readonly stats: SimStats = {
    packetsSent: 0,
    bytesSent: 0,
    packetsDelivered: 0,
    bytesDelivered: 0,
    packetsDuplicated: 0,
    dropped: {
      loss: 0,
      partition: 0,
      noRoute: 0,
      noListener: 0,
      noHandler: 0,
      closed: 0,
      badAddress: 0,
    },
    handlerErrors: 0,
    streamsDialed: 0,
    streamsOpened: 0,
    streamsRefused: 0,
    streamsTimedOut: 0,
    streamsBroken: 0,
    streamBytesSent: 0,
    streamBytesDelivered: 0,
  };

  constructor(clock: VirtualClock, random: () => number, streamTimeoutMs: number) {
    this.clock = clock;
    this.random = random;
    this.streamTimeoutMs = streamTimeoutMs;
  }

  /** The host of that name, created on first use. */
  host(name: string): HostState {
    let h = this.hosts.get(name);
    if (h === undefined) {
      h = new HostState(name);
      this.#regroup(h);
      this.hosts.set(name, h);
    }
    return h;
  }

  /** The link from one host to another. */
  link(from: HostState, to: HostState): LinkConfig {
    if (from.links === null) return this.defaultLink;
    return from.links.get(to.name) ?? this.defaultLink;
  }

  /** Overrides one directed link (null clears the override). */
  setLink(from: string, to: string, partial: Partial<LinkConfig> | null): void {
    const h = this.host(from);
    if (partial === null) {
      h.links?.delete(to);
      h.linkPartials?.delete(to);
      if (h.links !== null && h.links.size === 0) {
        h.links = null;
        h.linkPartials = null;
      }
      return;
    }
    const resolved = resolveLink(this.defaultLink, partial);
    (h.links ??= new Map()).set(to, resolved);
    (h.linkPartials ??= new Map()).set(to, { ...partial });
  }

  /** Replaces the default link; overrides keep their own values over the new default. */
  setDefaultLink(partial: Partial<LinkConfig>): void {
    this.defaultLink = resolveLink(this.defaultLink, partial);
    for (const h of this.hosts.values()) {
      if (h.linkPartials === null || h.links === null) continue;
      for (const [to, p] of h.linkPartials) h.links.set(to, resolveLink(this.defaultLink, p));
    }
  }

  /**
   * When `size` bytes sent now from `from` arrive at `to`: after the sender's pause, the
   * link's queue (when bandwidth-limited), latency and jitter.
   */
  arrival(from: HostState, to: HostState, link: LinkConfig, size: number): number {
    const now = this.clock.now();
    let t = from.pausedUntil > now ? from.pausedUntil : now;
    if (link.bandwidth > 0) {
      const busy = (from.busyUntil ??= new Map());
      const free = busy.get(to.name) ?? -Infinity;
      if (free > t) t = free;
      t += (size * 1000) / link.bandwidth;
      busy.set(to.name, t);
    }
    t += link.latencyMs;
    if (link.jitterMs > 0) t += this.random() * link.jitterMs;
    return t;
  }

  /** The packet path of a port's `sendPacket`. */
  sendPacket(source: SimPort, to: HostPort, bytes: Uint8Array): void {
    const stats = this.stats;
    stats.packetsSent++;
    stats.bytesSent += bytes.byteLength;
    if (source.closed || !source.packets) {
      stats.dropped.closed++;
      return;
    }
    const port = to.port;
    if (!(port > 0 && port <= 65535)) {
      stats.dropped.badAddress++;
      return;
    }
    const toHost = this.hosts.get(to.host);
    if (toHost === undefined) {
      stats.dropped.noRoute++;
      return;
    }
    const fromHost = source.host;
    if (fromHost.group !== toHost.group) {
      stats.dropped.partition++;
      return;
    }
    const link = fromHost.links === null ? this.defaultLink : this.link(fromHost, toHost);
    if (link.loss > 0 && this.random() < link.loss) {
      stats.dropped.loss++;
      return;
    }
    const copy = this.slab.copy(bytes);
    const ev = new PacketEvent(this, fromHost, source.address, toHost, port, copy);
    this.clock.schedule(ev, this.arrival(fromHost, toHost, link, copy.byteLength));
    if (link.duplicate > 0 && this.random() < link.duplicate) {
      stats.packetsDuplicated++;
      const dup = new PacketEvent(
        this,
        fromHost,
        source.address,
        toHost,
        port,
        this.slab.copy(copy),
      );
      this.clock.schedule(dup, this.arrival(fromHost, toHost, link, copy.byteLength));
    }
  }

  /** Arrival of a packet: held while the receiver is paused, checked, then handled. */
  deliver(ev: PacketEvent): void {
    const to = ev.toHost;
    const stats = this.stats;
    if (to.pausedUntil > this.clock.now()) {
      // a blocked receiver reads its socket later; arrival order is kept by the heap
      this.clock.schedule(ev, to.pausedUntil);
      return;
    }
    if (ev.fromHost.group !== to.group) {
      stats.dropped.partition++;
      return;
    }
    const t = to.ports.get(ev.toPort);
    if (t === undefined || !t.packets || t.closed) {
      stats.dropped.noListener++;
      return;
    }
    const handler = t.packetHandler;
    if (handler === null) {
      stats.dropped.noHandler++;
      return;
    }
    stats.packetsDelivered++;
    stats.bytesDelivered += ev.bytes.byteLength;
    try {
      handler(ev.bytes, ev.from);
    } catch {
      stats.handlerErrors++;
    }
  }

  /** Assigns partition groups: the hosts of `groups[i]` form group i+1, the rest group 0. */
  partition(groups: readonly (readonly string[])[]): void {
    const map = new Map<string, number>();
    groups.forEach((g, i) => {
      for (const name of g) {
        if (map.has(name)) throw new Error(`host ${name} is in two partition groups`);
        map.set(name, i + 1);
      }
    });
    this.partitionOf = map;
    for (const h of this.hosts.values()) this.#regroup(h);
  }

  /**
   * The host goes silent (cable cut, power lost, a firewall that drops) or speaks again: a
   * silent host is a partition group of its own, so nothing reaches it and nothing it sends
   * arrives: no refusal, no reset, only timeouts.
   */
  silence(name: string, silent: boolean): void {
    const h = this.host(name);
    h.silent = silent;
    this.#regroup(h);
  }

  #regroup(h: HostState): void {
    // silent hosts get distinct negative groups, never equal to each other or to any partition
    h.group = h.silent ? -1 - this.#silentId(h) : this.partitionOf.get(h.name) ?? 0;
  }

  #silentIds = new Map<string, number>();
  #silentId(h: HostState): number {
    let id = this.#silentIds.get(h.name);
    if (id === undefined) this.#silentIds.set(h.name, id = this.#silentIds.size);
    return id;
  }
}
