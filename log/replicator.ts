/**
 * The replicator: the log's own TCP listener, one connection per peer pair, periodic digest
 * exchange, push of own appends (at once, or gathered in a short window), and quorum acks.
 *
 * Peers come from outside through {@link Replicator.setPeers} (the cluster wires membership
 * into it). Of each pair, the node with the lexicographically smaller name dials; the other
 * only accepts. A lost connection is redialed on the next sync tick while the peer is still
 * listed; a peer removed from the list is disconnected.
 *
 * Bounds (the tuning's limits): at most `maxConnections` connections and
 * `maxConnectionsPerAddress` inbound ones per remote IP address (more are closed at once), a
 * deadline per frame and an idle deadline (checked by a sweep a few times per deadline), and
 * `maxBufferedBytes` of incomplete frames across all connections (above it, the connection
 * holding the most is cut). Every refusal is counted in `stats.rejectedPeers`.
 *
 * @module
 */
import type { Clock, HostPort, Network, Stream, TimerHandle, Transport } from "../transport/mod.ts";
import { ConnectionGuard, type LogSecurity } from "./connection_guard.ts";
import { FrameCache } from "./frame_cache.ts";
import { PeerSession, type ReplicaData, type SessionHost } from "./peer.ts";
import { QuorumTracker } from "./quorum.ts";
import { type LogLogger, type LogStats, silentLogLogger } from "./stats.ts";
import { type LogLimits, logLimits, type LogTuning } from "./tuning.ts";

/** A peer of the replicated log: its node name and the address of its log listener. */
export interface LogPeer {
  /** Node name (its origin). */
  readonly name: string;
  /** Where its log listener (bind_address:bind_port) is reachable. */
  readonly address: HostPort;
}

/** What {@link Replicator.start} needs. */
export interface ReplicatorOptions {
  /** This node's name. */
  readonly name: string;
  /** This node's own log; default the name. */
  readonly origin?: string;
  /** Peers with another environment are refused. */
  readonly environment: string;
  /** Where sockets come from. */
  readonly network: Network;
  /** Timers. */
  readonly clock: Clock;
  /** Listener address. */
  readonly bind: HostPort;
  /** Batching and limits. */
  readonly tuning: LogTuning;
  /** Counters to bump. */
  readonly stats: LogStats;
  /** The log data. */
  readonly data: ReplicaData;
  /** Floor of holders a quorum append needs (`min_quorum`); default 1. */
  readonly minQuorum?: number;
  /** A listed peer's connection ended without this node closing it, or its port refused. */
  readonly onPeerLost?: (peer: string, reason: string) => void;
  /** Where refusals and failures are written; default silent. */
  readonly logger?: LogLogger;
  /** Keyed or TLS protection of the log port; default none (open). */
  readonly security?: LogSecurity;
}

/**
 * Connections to the peers and the replication protocol over them.
 *
 * @example
 * ```ts
 * const r = await Replicator.start({ name: "a", environment: "lan", network, clock, bind, tuning, stats, data });
 * r.setPeers([{ name: "b", address: { host: "127.0.0.1", port: 3320 } }]);
 * await r.close();
 * ```
 */
export class Replicator implements SessionHost<PeerSession> {
  /** This node's name. */
  readonly name: string;
  /** This node's own log. */
  readonly origin: string;
  /** Environment both sides must share. */
  readonly environment: string;
  /** Batching and limits. */
  readonly tuning: LogTuning;
  /** The connection limits, defaults filled in. */
  readonly limits: LogLimits;
  /** Timers. */
  readonly clock: Clock;
  /** Counters. */
  readonly stats: LogStats;
  /** Acks of own entries. */
  readonly quorum: QuorumTracker;
  /** Where refusals and failures are written. */
  readonly logger: LogLogger;
  /** The log data. */
  readonly data: ReplicaData;
  /** Entries frames shared by the connections. */
  readonly frames: FrameCache = new FrameCache();
  #transport: Transport;
  #guard: ConnectionGuard | undefined;
  #peers = new Map<string, HostPort>();
  #sessions = new Map<string, PeerSession>();
  #all = new Set<PeerSession>();
  #dialing = new Set<string>();
  // inbound handshakes (keyed or TLS) in progress, by remote host
  #handshaking = new Map<string, number>();
  // sessions whose authenticated name is not (yet) a member: name known → admit, else refuse
  #awaiting = new Map<PeerSession, (member: boolean) => void>();
  #syncTimer: TimerHandle = undefined;
  #batchTimer: TimerHandle = undefined;
  #sweepTimer: TimerHandle = undefined;
  #closed = false;
  #onPeerLost: ((peer: string, reason: string) => void) | undefined;

  private constructor(options: ReplicatorOptions, transport: Transport) {
    this.#onPeerLost = options.onPeerLost;
    this.name = options.name;
    this.origin = options.origin ?? options.name;
    this.environment = options.environment;
    this.tuning = options.tuning;
    this.limits = logLimits(options.tuning);
    this.clock = options.clock;
    this.stats = options.stats;
    this.data = options.data;
    this.logger = options.logger ?? silentLogLogger;
    this.quorum = new QuorumTracker(this.origin, options.clock, {
      self: options.name,
      minimum: options.minQuorum,
    });
    this.#transport = transport;
    if (options.security !== undefined) {
      this.#guard = new ConnectionGuard(options.security, {
        name: this.name,
        environment: this.environment,
        clock: this.clock,
        stats: this.stats,
        connectTimeoutMs: this.tuning.connectTimeoutMs,
      });
    }
  }

  /** Binds the listener (streams only) and starts the sync timer. */
  static async start(options: ReplicatorOptions): Promise<Replicator> {
    const transport = await options.network.bind({
      host: options.bind.host,
      port: options.bind.port,
      packets: false,
    });
    const r = new Replicator(options, transport);
    transport.onStream((stream) => r.#accept(stream));
    r.#armSync();
    r.#armSweep();
    return r;
  }

  /** The listener's bound address (port 0 resolved). */
  get address(): HostPort {
    return this.#transport.address;
  }

  /** Names of peers with an open connection. */
  connected(): string[] {
    return [...this.#sessions.keys()];
  }

  /**
   * Replaces the peer list: dials listed peers it lacks a connection to (when its name is the
   * smaller of the pair), disconnects peers no longer listed. The peers are the quorum's
   * voters only while nobody calls `quorum.setVoters`.
   */
  setPeers(peers: readonly LogPeer[]): void {
    if (this.#closed) return;
    const next = new Map<string, HostPort>();
    for (const p of peers) if (p.name !== this.name && p.name !== "") next.set(p.name, p.address);
    this.#peers = next;
    this.quorum.setPeers(next.keys());
    for (const [s, settle] of [...this.#awaiting]) if (next.has(s.peer)) settle(true);
    for (const [name, s] of this.#sessions) if (!next.has(name)) s.close();
    for (const s of this.#all) {
      if (s.expectedName !== undefined && !next.has(s.expectedName)) s.close();
    }
    this.#dialMissing();
  }

  /**
   * What the owner of `origin` reported holding of it, when the owner is connected, is not
   * `from`, and mentioned it; else undefined. The owner is the peer named like the origin or
   * like its part before an "@" (`cluster()` names a run's origin `name@run`). Relays of an
   * origin beyond what its connected owner holds are forgeries or early: they wait.
   */
  ownerHolds(origin: string, from: string): number | undefined {
    for (let end = origin.length; end > 0; end = origin.lastIndexOf("@", end - 1)) {
      const owner = origin.slice(0, end);
      if (owner === from) return undefined;
      const claimed = this.#sessions.get(owner)?.claimed(origin);
      if (claimed !== undefined) return claimed;
    }
    return undefined;
  }

  /**
   * Local appends happened: push them now, or within the batch window. `urgent` (a quorum
   * append waits for acks) sends the gathered batch at once: a quorum append must not pay a
   * batch window per round trip; appends without a waiter keep batching.
   */
  notifyAppend(urgent = false): void {
    if (this.#closed) return;
    if (this.tuning.pushMode === "immediate" || urgent) {
      if (this.#batchTimer !== undefined) {
        this.clock.clearTimeout(this.#batchTimer);
        this.#batchTimer = undefined;
      }
      for (const s of this.#sessions.values()) s.kick();
      return;
    }
    if (this.#batchTimer !== undefined) return;
    this.#batchTimer = this.clock.setTimeout(() => {
      this.#batchTimer = undefined;
      for (const s of this.#sessions.values()) s.kick();
    }, this.tuning.batchWindowMs);
  }

  /** Entries of other origins arrived (e.g. a snapshot): let every connection catch up. */
  kickAll(): void {
    for (const s of this.#sessions.values()) s.kick();
  }

  /**
   * @internal SessionHost. Sessions are bound to members: a name the membership does not list
   * waits up to the connect timeout for it (a joining member may be known to the dialer a
   * moment before it is known here), then is refused.
   */
  opened(session: PeerSession): boolean | Promise<boolean> {
    if (this.#closed) return false;
    if (this.#peers.has(session.peer)) return this.#admit(session);
    return new Promise<boolean>((resolve) => {
      const timer = this.clock.setTimeout(() => {
        this.#awaiting.delete(session);
        this.stats.rejectedPeers["not-member"]++;
        resolve(false);
      }, this.tuning.connectTimeoutMs);
      this.#awaiting.set(session, (member) => {
        this.clock.clearTimeout(timer);
        this.#awaiting.delete(session);
        resolve(member && !this.#closed && !session.isClosed && this.#admit(session));
      });
    });
  }

  #admit(session: PeerSession): boolean {
    const peer = session.peer;
    const existing = this.#sessions.get(peer);
    if (existing !== undefined && existing !== session) {
      // one connection per pair: prefer the one the smaller name dialed; a second session
      // never replaces a live one (a live peer sends a digest every sync interval), only one
      // that has gone silent (most likely dead and unnoticed)
      const proper = (s: PeerSession): boolean => s.outbound === (this.name < peer);
      const silentMs = 3 * this.tuning.syncIntervalMs + this.tuning.connectTimeoutMs;
      const live = this.clock.now() - existing.lastHeard < silentMs;
      if ((proper(existing) && !proper(session)) || live) {
        this.stats.rejectedPeers.duplicate++;
        return false;
      }
      this.#sessions.delete(peer);
      existing.close();
    }
    this.#sessions.set(peer, session);
    if (session.expectedName !== undefined) this.#dialing.delete(session.expectedName);
    this.stats.connections = this.#sessions.size;
    this.stats.connectionsOpened++;
    this.quorum.reset(peer);
    return true;
  }

  /** @internal SessionHost: bounds the incomplete-frame bytes of all sessions together */
  buffered(_session: PeerSession, delta: number): void {
    const stats = this.stats;
    stats.bufferedBytes += delta;
    if (stats.bufferedBytes > stats.bufferedBytesPeak) {
      stats.bufferedBytesPeak = stats.bufferedBytes;
    }
    if (delta <= 0 || stats.bufferedBytes <= this.limits.maxBufferedBytes) return;
    // over the budget: cut the biggest holder (a stalled giant frame, not a peer's small one)
    let biggest: PeerSession | undefined;
    for (const s of this.#all) {
      if (biggest === undefined || s.bufferedBytes > biggest.bufferedBytes) biggest = s;
    }
    // its close() gives its bytes back through a negative delta
    biggest?.reject("buffer-limit");
  }

  /** @internal SessionHost */
  closed(session: PeerSession): void {
    this.#awaiting.get(session)?.(false);
    this.#all.delete(session);
    if (session.expectedName !== undefined) this.#dialing.delete(session.expectedName);
    const current = this.#sessions.get(session.peer) === session;
    if (current) {
      this.#sessions.delete(session.peer);
      // it may have crashed with a memory store: count it again once it reports afresh
      this.quorum.reset(session.peer);
    }
    this.stats.connections = this.#sessions.size;
    // the peer's connection ended while it is still listed (no leave seen): maybe a crash
    if (current && session.lostByPeer) {
      this.#peerLost(session.peer, "log connection lost without goodbye");
    }
  }

  #peerLost(peer: string, reason: string): void {
    if (this.#closed || !this.#peers.has(peer)) return;
    try {
      this.#onPeerLost?.(peer, reason);
    } catch {
      // a hint; whoever listens must not break replication
    }
  }

  #accept(stream: Stream): void {
    if (this.#closed) {
      stream.close();
      return;
    }
    // caps first, counting handshakes in progress too: a flood of half-open handshakes is
    // refused like a flood of sessions
    const { maxConnections, maxConnectionsPerAddress } = this.limits;
    const host = stream.remote.host;
    let fromHost = this.#handshaking.get(host) ?? 0;
    let total = this.#all.size;
    for (const n of this.#handshaking.values()) total += n;
    for (const o of this.#all) {
      if (!o.outbound && o.stream.remote.host === host) fromHost++;
    }
    if (total >= maxConnections || fromHost >= maxConnectionsPerAddress) {
      this.stats.rejectedPeers[total >= maxConnections ? "connection-limit" : "address-limit"]++;
      stream.close();
      return;
    }
    if (this.#guard === undefined) return this.#startSession(stream);
    // keyed or TLS: the handshake first (counted when refused)
    this.#handshaking.set(host, (this.#handshaking.get(host) ?? 0) + 1);
    void this.#guard.accept(stream).then((a) => {
      const left = (this.#handshaking.get(host) ?? 1) - 1;
      if (left > 0) this.#handshaking.set(host, left);
      else this.#handshaking.delete(host);
      if (a !== undefined) this.#startSession(a.stream, undefined, a.peer);
    });
  }

  #startSession(stream: Stream, dialed?: string, authenticated?: string): void {
    if (this.#closed || (dialed !== undefined && !this.#peers.has(dialed))) {
      if (dialed !== undefined) this.#dialing.delete(dialed);
      stream.close();
      return;
    }
    const s = new PeerSession(this, stream, dialed, authenticated);
    this.#all.add(s);
    s.start();
  }

  #dialMissing(): void {
    for (const [name, address] of this.#peers) {
      if (this.name < name && !this.#sessions.has(name) && !this.#dialing.has(name)) {
        this.#dial(name, address);
      }
    }
  }

  #dial(name: string, address: HostPort): void {
    this.#dialing.add(name);
    this.#transport.dial(address, this.tuning.connectTimeoutMs).then(
      (stream) => {
        if (this.#closed || !this.#peers.has(name) || this.#sessions.has(name)) {
          this.#dialing.delete(name);
          stream.close();
          return;
        }
        if (this.#guard === undefined) return this.#startSession(stream, name);
        void this.#guard.dial(stream, name).then((a) => {
          if (a === undefined) this.#dialing.delete(name);
          else this.#startSession(a.stream, name, a.peer);
        });
      },
      (err: unknown) => {
        this.#dialing.delete(name);
        this.stats.dialFailures++;
        this.logger.debug("dial failed", {
          peer: name,
          address: `${address.host}:${address.port}`,
          error: err instanceof Error ? err.message : String(err),
        });
        const code = (err as { code?: unknown } | null)?.code;
        if (code === "ECONNREFUSED") this.#peerLost(name, "log port refused the connection");
      },
    );
  }

  #armSync(): void {
    this.#syncTimer = this.clock.setTimeout(() => {
      this.#syncTimer = undefined;
      if (this.#closed) return;
      for (const s of this.#sessions.values()) s.sendDigest();
      this.#dialMissing();
      this.#armSync();
    }, this.tuning.syncIntervalMs);
  }

  /** Checks every connection's frame and idle deadlines, a few times per deadline. */
  #armSweep(): void {
    const every = Math.max(10, Math.min(this.limits.frameTimeoutMs, this.limits.idleTimeoutMs) / 4);
    this.#sweepTimer = this.clock.setTimeout(() => {
      this.#sweepTimer = undefined;
      if (this.#closed) return;
      const now = this.clock.now();
      for (const s of [...this.#all]) s.sweep(now);
      this.#armSweep();
    }, every);
  }

  /** Closes every connection, the listener and the timers. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.clock.clearTimeout(this.#syncTimer);
    this.clock.clearTimeout(this.#batchTimer);
    this.clock.clearTimeout(this.#sweepTimer);
    this.#syncTimer = this.#batchTimer = this.#sweepTimer = undefined;
    for (const settle of [...this.#awaiting.values()]) settle(false);
    for (const s of [...this.#all]) s.close();
    this.#sessions.clear();
    this.quorum.close();
    await this.#transport.close();
  }
}
