/**
 * A {@link Transport} bound on the simulated network, and its connection handshake.
 *
 * Dial: the SYN travels one link latency to the target; a listener there accepts at once (its
 * stream handler runs) and the reply travels back, so the dial resolves after one round
 * trip. No listener (nothing bound, closed, killed): "ECONNREFUSED" after the round trip.
 * Unknown host or a partition: nothing comes back and the dial rejects "ETIMEDOUT".
 *
 * @module
 */
import { formatHostPort } from "../address.ts";
import type { HostState, SimCore } from "./core.ts";
import { SimConnection, type SimStream } from "./stream.ts";
import type { HostPort, PacketHandler, Stream, StreamHandler, Transport } from "../types.ts";
import { TransportError } from "../types.ts";
import { TimelineEntry } from "./virtual_clock.ts";

/** A dial in progress: SYN to the target, then the reply back. */
class DialAttempt extends TimelineEntry {
  readonly core: SimCore;
  readonly source: SimTransport;
  readonly to: HostPort;
  resolve: (s: Stream) => void;
  reject: (e: TransportError) => void;
  timer: unknown = null;
  conn: SimConnection | null = null;
  replied = false;
  refused = false;
  settled = false;

  constructor(
    core: SimCore,
    source: SimTransport,
    to: HostPort,
    resolve: (s: Stream) => void,
    reject: (e: TransportError) => void,
  ) {
    super();
    this.core = core;
    this.source = source;
    this.to = to;
    this.resolve = resolve;
    this.reject = reject;
  }

  run(): void {
    if (this.settled) return;
    const core = this.core;
    const now = core.clock.now();
    if (!this.replied) {
      // the SYN reaches the target host
      const toHost = core.hosts.get(this.to.host);
      if (toHost === undefined) return; // no route: the timeout decides
      if (toHost.pausedUntil > now) {
        core.clock.schedule(this, toHost.pausedUntil);
        return;
      }
      const fromHost = this.source.host;
      if (fromHost.group !== toHost.group) return; // lost in the partition
      this.replied = true;
      const listener = toHost.ports.get(this.to.port);
      if (listener === undefined || listener.closed) {
        this.refused = true;
      } else {
        const dialerAddr: HostPort = { host: fromHost.name, port: fromHost.nextEphemeral };
        fromHost.nextEphemeral = fromHost.nextEphemeral >= 65535
          ? 50000
          : fromHost.nextEphemeral + 1;
        this.conn = new SimConnection(core, fromHost, dialerAddr, toHost, listener.address);
        listener.accept(this.conn.acceptor);
      }
      const back = core.link(toHost, fromHost);
      core.clock.schedule(this, core.arrival(toHost, fromHost, back, 0));
      return;
    }
    // the reply reaches the dialer
    const home = this.source.host;
    if (home.pausedUntil > now) {
      core.clock.schedule(this, home.pausedUntil);
      return;
    }
    const toHost = core.hosts.get(this.to.host);
    if (toHost !== undefined && toHost.group !== home.group) return; // reply lost
    this.settle();
    if (this.refused) {
      core.stats.streamsRefused++;
      this.reject(
        new TransportError("ECONNREFUSED", `dial ${formatHostPort(this.to)}: connection refused`),
      );
      return;
    }
    const conn = this.conn as SimConnection;
    core.stats.streamsOpened++;
    this.resolve(this.source.adopt(conn.dialer));
  }

  timeout(timeoutMs: number): void {
    if (this.settled) return;
    this.settle();
    this.conn?.reset();
    this.core.stats.streamsTimedOut++;
    this.reject(
      new TransportError(
        "ETIMEDOUT",
        `dial ${formatHostPort(this.to)}: timed out after ${timeoutMs} ms`,
      ),
    );
  }

  /** Marks it finished and releases its timers; the caller settles the promise. */
  settle(): void {
    this.settled = true;
    this.core.clock.cancel(this);
    this.core.clock.clearTimeout(this.timer);
    this.core.clock.noteAsyncWork();
    this.source.forgetDial(this);
  }
}

/** A transport on a {@link SimCore}. Fields are read by the core's packet path. */
export class SimTransport implements Transport {
  readonly address: HostPort;
  readonly host: HostState;
  readonly packets: boolean;
  closed: boolean = false;
  packetHandler: PacketHandler | null = null;
  streamHandler: StreamHandler | null = null;
  #core: SimCore;
  #streams = new Set<SimStream>();
  #dials = new Set<DialAttempt>();
  #forget = (s: SimStream): void => {
    this.#streams.delete(s);
  };

  constructor(core: SimCore, host: HostState, port: number, packets: boolean) {
    this.#core = core;
    this.host = host;
    this.packets = packets;
    this.address = Object.freeze({ host: host.name, port });
  }

  sendPacket(to: HostPort, bytes: Uint8Array): void {
    this.#core.sendPacket(this, to, bytes);
  }

  onPacket(handler: PacketHandler): void {
    this.packetHandler = handler;
  }

  onStream(handler: StreamHandler): void {
    this.streamHandler = handler;
  }

  dial(to: HostPort, timeoutMs: number): Promise<Stream> {
    const core = this.#core;
    core.clock.noteAsyncWork();
    if (this.closed) return Promise.reject(new TransportError("ECLOSED", "transport is closed"));
    core.stats.streamsDialed++;
    return new Promise<Stream>((resolve, reject) => {
      const attempt = new DialAttempt(core, this, to, resolve, reject);
      this.#dials.add(attempt);
      attempt.timer = core.clock.setTimeout(() => attempt.timeout(timeoutMs), timeoutMs);
      const toHost = core.hosts.get(to.host);
      if (toHost === undefined) return; // no route: only the timeout will answer
      const link = core.link(this.host, toHost);
      core.clock.schedule(attempt, core.arrival(this.host, toHost, link, 0));
    });
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.#unbind();
      for (const d of [...this.#dials]) {
        d.settle();
        d.conn?.reset();
        d.reject(new TransportError("ECLOSED", `dial ${formatHostPort(d.to)}: transport closed`));
      }
      for (const s of [...this.#streams]) s.close();
    }
    this.#core.clock.noteAsyncWork();
    return Promise.resolve();
  }

  /** The process died: no promise of it settles again, peers see resets. */
  kill(): void {
    if (this.closed) return;
    this.closed = true;
    this.#unbind();
    for (const d of [...this.#dials]) {
      d.settled = true;
      this.#core.clock.cancel(d);
      this.#core.clock.clearTimeout(d.timer);
      d.conn?.dialer.kill();
    }
    this.#dials.clear();
    for (const s of [...this.#streams]) s.kill();
  }

  /** Inbound connection (called when a SYN arrives). */
  accept(stream: SimStream): void {
    const handler = this.streamHandler;
    if (handler === null) {
      stream.close(); // like the real transport: accepted, then closed
      return;
    }
    this.adopt(stream);
    try {
      handler(stream);
    } catch {
      this.#core.stats.handlerErrors++;
      stream.close();
    }
  }

  /** Tracks a stream of this transport until it is finished. */
  adopt(stream: SimStream): SimStream {
    if (stream.finished) return stream; // e.g. the peer's FIN beat the handshake reply
    stream.onGone = this.#forget;
    this.#streams.add(stream);
    return stream;
  }

  /** A dial finished. */
  forgetDial(d: DialAttempt): void {
    this.#dials.delete(d);
  }

  #unbind(): void {
    if (this.host.ports.get(this.address.port) === this) this.host.ports.delete(this.address.port);
  }
}
