/**
 * The replicator: the log's own TCP listener, one connection per peer pair, periodic digest
 * exchange, push of own appends (at once, or gathered in a short window), and quorum acks.
 *
 * Peers come from outside through {@link Replicator.setPeers} (the cluster wires membership
 * into it). Of each pair, the node with the lexicographically smaller name dials; the other
 * only accepts. A lost connection is redialed on the next sync tick while the peer is still
 * listed; a peer removed from the list is disconnected.
 *
 * @module
 */
import type {
  Clock,
  HostPort,
  Network,
  Stream,
  TimerHandle,
  Transport,
} from "../transport/types.ts";
import { ConnectionGuard, type LogSecurity } from "./connection_guard.ts";
import { FrameCache } from "./frame_cache.ts";
import { PeerSession, type ReplicaData, type SessionHost } from "./peer.ts";
import { QuorumTracker } from "./quorum.ts";
import type { LogStats } from "./stats.ts";
import type { LogTuning } from "./tuning.ts";

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
export class Replicator implements SessionHost {
  /** This node's name. */
  readonly name: string;
  /** This node's own log. */
  readonly origin: string;
  /** Environment both sides must share. */
  readonly environment: string;
  /** Batching and limits. */
  readonly tuning: LogTuning;
  /** Timers. */
  readonly clock: Clock;
  /** Counters. */
  readonly stats: LogStats;
  /** Acks of own entries. */
  readonly quorum: QuorumTracker;
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
  // sessions whose authenticated name is not (yet) a member: name known → admit, else refuse
  #awaiting = new Map<PeerSession, (member: boolean) => void>();
  #syncTimer: TimerHandle = undefined;
  #batchTimer: TimerHandle = undefined;
  #closed = false;

  private constructor(options: ReplicatorOptions, transport: Transport) {
    this.name = options.name;
    this.origin = options.origin ?? options.name;
    this.environment = options.environment;
    this.tuning = options.tuning;
    this.clock = options.clock;
    this.stats = options.stats;
    this.data = options.data;
    this.quorum = new QuorumTracker(this.origin, options.clock);
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
   * smaller of the pair), disconnects peers no longer listed, and sets the quorum base.
   */
  setPeers(peers: readonly LogPeer[]): void {
    if (this.#closed) return;
    const next = new Map<string, HostPort>();
    for (const p of peers) if (p.name !== this.name && p.name !== "") next.set(p.name, p.address);
    this.#peers = next;
    this.quorum.setMembers(next.keys());
    for (const [s, settle] of [...this.#awaiting]) if (next.has(s.peer)) settle(true);
    for (const [name, s] of this.#sessions) if (!next.has(name)) s.close();
    for (const s of this.#all) {
      if (s.expectedName !== undefined && !next.has(s.expectedName)) s.close();
    }
    this.#dialMissing();
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

  /** @internal SessionHost */
  closed(session: PeerSession): void {
    this.#awaiting.get(session)?.(false);
    this.#all.delete(session);
    if (session.expectedName !== undefined) this.#dialing.delete(session.expectedName);
    if (this.#sessions.get(session.peer) === session) this.#sessions.delete(session.peer);
    this.stats.connections = this.#sessions.size;
  }

  #accept(stream: Stream): void {
    if (this.#closed) {
      stream.close();
      return;
    }
    if (this.#guard === undefined) return this.#startSession(stream);
    // keyed or TLS: the handshake first (counted when refused)
    void this.#guard.accept(stream).then((a) => {
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
      () => {
        this.#dialing.delete(name);
        this.stats.dialFailures++;
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

  /** Closes every connection, the listener and the timers. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.clock.clearTimeout(this.#syncTimer);
    this.clock.clearTimeout(this.#batchTimer);
    this.#syncTimer = this.#batchTimer = undefined;
    for (const settle of [...this.#awaiting.values()]) settle(false);
    for (const s of [...this.#all]) s.close();
    this.#sessions.clear();
    this.quorum.close();
    await this.#transport.close();
  }
}
