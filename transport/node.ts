/**
 * The real network: UDP packets (`node:dgram`) and TCP streams (`node:net`) on one port,
 * the way hashicorp/memberlist binds them. Runs unchanged on Bun, Deno and Node.
 *
 * @module
 */
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { type AddressInfo, connect, createServer, isIP, type Server, type Socket } from "node:net";
import { formatHostPort } from "./address.ts";
import { errorCode, toTransportError } from "./node_error.ts";
import { NodeStream, unmapV4 } from "./node_stream.ts";
import type {
  BindOptions,
  HostPort,
  Network,
  PacketHandler,
  Stream,
  StreamHandler,
  Transport,
} from "./types.ts";
import { TransportError } from "./types.ts";

/** UDP receive buffer asked for (memberlist asks for the same, halving until accepted). */
const UDP_RECV_BUFFER = 2 << 20;
const UDP_RECV_BUFFER_MIN = 64 << 10;
/** Port-0 attempts at finding a port free for both TCP and UDP. */
const BIND_ATTEMPTS = 10;
/**
 * Times a datagram whose send failed with ECONNREFUSED is sent again. On Bun the ICMP "port
 * unreachable" answering a datagram to a closed port fails the socket's next send, whatever
 * its destination, and that datagram is not sent (Node and Deno do not report it). A member
 * gossips to the recently dead, so without this a leave or an ack to a live member right after
 * a packet to a dead one was lost. A datagram is never refused for its own destination on an
 * unconnected socket, so sending it again is right; a few times, since every datagram to a
 * closed port primes the next refusal.
 */
const RESEND_REFUSED = 3;

/** Counters of a {@link NodeTransport}; they only grow. */
export interface NodeTransportStats {
  /** Datagrams handed to the OS. */
  packetsSent: number;
  /** Bytes of those datagrams. */
  bytesSent: number;
  /** Datagrams received and passed to the handler. */
  packetsReceived: number;
  /** Bytes of those datagrams. */
  bytesReceived: number;
  /** Datagrams not sent: transport closed, no UDP socket, host not an IP literal, bad port. */
  packetsDropped: number;
  /** Datagrams the OS refused asynchronously (and socket-level errors). */
  sendErrors: number;
  /**
   * Datagrams sent again because their send failed with ECONNREFUSED: the refusal was an
   * earlier datagram's (see {@link RESEND_REFUSED}).
   */
  packetsResent: number;
  /** Datagrams received while no handler was set. */
  packetsUnhandled: number;
  /** Exceptions thrown by the packet or stream handler (caught). */
  handlerErrors: number;
  /** Inbound streams accepted. */
  streamsAccepted: number;
  /** Inbound connections closed because no stream handler was set. */
  streamsRejected: number;
  /** Outbound streams opened. */
  streamsDialed: number;
}

/** A {@link Transport} on real sockets, with counters. */
export interface NodeTransport extends Transport {
  /** Live counters. */
  readonly stats: Readonly<NodeTransportStats>;
}

/** A {@link Network} on real sockets. */
export interface NodeNetwork extends Network {
  /** Binds TCP (and UDP on the same port when `packets`). */
  bind(options: BindOptions): Promise<NodeTransport>;
}

interface PendingDial {
  cancel(): void;
}

function isV6Family(family: string | number): boolean {
  return family === "IPv6" || family === 6;
}

/**
 * Bind failures as the contract names them: runtimes disagree on the code for an address the
 * host does not have (Node: EADDRNOTAVAIL, Deno: EINVAL) or a name that does not resolve.
 */
function bindError(err: unknown, what: string, host: string, port: number): TransportError {
  const e = toTransportError(err, what, { host, port }, "EADDRNOTAVAIL");
  const code = e.code;
  if (code === "EINVAL" || code === "ENOTFOUND" || code.startsWith("EAI_")) {
    return new TransportError("EADDRNOTAVAIL", e.message);
  }
  return e;
}

function listenTcp(host: string, port: number, onConnection: (s: Socket) => void): Promise<Server> {
  return new Promise<Server>((resolve, reject) => {
    const server = createServer({ allowHalfOpen: false }, onConnection);
    const onError = (err: Error): void => {
      server.close();
      reject(bindError(err, "cannot bind TCP", host, port));
    };
    server.once("error", onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.removeListener("error", onError);
      // accept errors (EMFILE…) must not crash the process
      server.on("error", () => {});
      resolve(server);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => server.close(() => resolve()));
}

function bindUdp(host: string, port: number, v6: boolean): Promise<UdpSocket> {
  return new Promise<UdpSocket>((resolve, reject) => {
    const udp = createSocket({ type: v6 ? "udp6" : "udp4", reuseAddr: false });
    const onError = (err: Error): void => {
      try {
        udp.close();
      } catch {
        // already closed
      }
      reject(bindError(err, "cannot bind UDP", host, port));
    };
    udp.once("error", onError);
    udp.bind({ address: host, port, exclusive: true }, () => {
      udp.removeListener("error", onError);
      for (let size = UDP_RECV_BUFFER; size >= UDP_RECV_BUFFER_MIN; size >>= 1) {
        try {
          udp.setRecvBufferSize(size);
          break;
        } catch {
          // the OS (or runtime) refused this size: try half of it
        }
      }
      resolve(udp);
    });
  });
}

class NodeTransportImpl implements NodeTransport {
  readonly address: HostPort;
  readonly stats: NodeTransportStats = {
    packetsSent: 0,
    bytesSent: 0,
    packetsReceived: 0,
    bytesReceived: 0,
    packetsDropped: 0,
    sendErrors: 0,
    packetsResent: 0,
    packetsUnhandled: 0,
    handlerErrors: 0,
    streamsAccepted: 0,
    streamsRejected: 0,
    streamsDialed: 0,
  };
  #server: Server;
  #udp: UdpSocket | null;
  #udpV6: boolean;
  #packetHandler: PacketHandler | null = null;
  #streamHandler: StreamHandler | null = null;
  #streams = new Set<NodeStream>();
  #dials = new Set<PendingDial>();
  #closing: Promise<void> | null = null;
  #forget = (stream: NodeStream): void => {
    this.#streams.delete(stream);
  };

  constructor(server: Server, udp: UdpSocket | null, address: HostPort, udpV6: boolean) {
    this.#server = server;
    this.#udp = udp;
    this.#udpV6 = udpV6;
    this.address = address;
    if (udp !== null) {
      udp.on("message", (msg: Uint8Array, rinfo: { address: string; port: number }) => {
        this.#onMessage(msg, rinfo.address, rinfo.port);
      });
      udp.on("error", () => {
        this.stats.sendErrors++;
      });
    }
  }

  /** Called by the TCP server for every accepted connection. */
  accept(socket: Socket): void {
    const handler = this.#streamHandler;
    if (this.#closing !== null || handler === null) {
      this.stats.streamsRejected++;
      socket.on("error", () => {});
      socket.destroy();
      return;
    }
    this.stats.streamsAccepted++;
    const stream = new NodeStream(socket, this.#forget);
    this.#streams.add(stream);
    try {
      handler(stream);
    } catch {
      this.stats.handlerErrors++;
      stream.close();
    }
  }

  sendPacket(to: HostPort, bytes: Uint8Array): void {
    const udp = this.#udp;
    if (udp === null || this.#closing !== null) {
      this.stats.packetsDropped++;
      return;
    }
    let host = to.host;
    const kind = isIP(host);
    if (kind === 0 || !(to.port > 0 && to.port <= 65535)) {
      // host names are never resolved per packet: callers pass IP literals
      this.stats.packetsDropped++;
      return;
    }
    if (this.#udpV6) {
      if (kind === 4) host = "::ffff:" + host;
    } else if (kind === 6) {
      const plain = unmapV4(host);
      if (plain === host) {
        this.stats.packetsDropped++;
        return;
      }
      host = plain;
    }
    this.#send(udp, bytes, to.port, host, 0);
  }

  #send(udp: UdpSocket, bytes: Uint8Array, port: number, host: string, resends: number): void {
    try {
      udp.send(bytes, port, host, (err: Error | null) => {
        if (!err) return;
        if (
          errorCode(err, "") === "ECONNREFUSED" && resends < RESEND_REFUSED &&
          this.#closing === null && this.#udp === udp
        ) {
          this.stats.packetsResent++;
          this.#send(udp, bytes, port, host, resends + 1);
        } else this.stats.sendErrors++;
      });
      if (resends > 0) return;
      this.stats.packetsSent++;
      this.stats.bytesSent += bytes.byteLength;
    } catch {
      this.stats.sendErrors++;
    }
  }

  onPacket(handler: PacketHandler): void {
    this.#packetHandler = handler;
  }

  onStream(handler: StreamHandler): void {
    this.#streamHandler = handler;
  }

  dial(to: HostPort, timeoutMs: number): Promise<Stream> {
    if (this.#closing !== null) {
      return Promise.reject(new TransportError("ECLOSED", "transport is closed"));
    }
    return new Promise<Stream>((resolve, reject) => {
      const socket = connect({ host: to.host, port: to.port, allowHalfOpen: false });
      let settled = false;
      const finish = (err: TransportError | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#dials.delete(pending);
        socket.removeListener("error", onError);
        socket.removeListener("connect", onConnect);
        if (err !== null) {
          socket.on("error", () => {});
          socket.destroy();
          reject(err);
          return;
        }
        this.stats.streamsDialed++;
        const stream = new NodeStream(socket, this.#forget);
        this.#streams.add(stream);
        resolve(stream);
      };
      const onConnect = (): void => finish(null);
      const onError = (err: Error): void => {
        finish(toTransportError(err, "dial", to, "ECONNREFUSED"));
      };
      const pending: PendingDial = {
        cancel: () =>
          finish(new TransportError("ECLOSED", `dial ${formatHostPort(to)}: transport closed`)),
      };
      const timer = setTimeout(() => {
        finish(
          new TransportError(
            "ETIMEDOUT",
            `dial ${formatHostPort(to)}: timed out after ${timeoutMs} ms`,
          ),
        );
      }, Math.max(0, timeoutMs));
      this.#dials.add(pending);
      socket.once("connect", onConnect);
      socket.once("error", onError);
    });
  }

  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    for (const d of [...this.#dials]) d.cancel();
    for (const s of [...this.#streams]) s.destroy();
    const tasks: Promise<void>[] = [closeServer(this.#server)];
    const udp = this.#udp;
    if (udp !== null) tasks.push(new Promise<void>((resolve) => udp.close(() => resolve())));
    this.#closing = Promise.all(tasks).then(() => {});
    return this.#closing;
  }

  #onMessage(msg: Uint8Array, host: string, port: number): void {
    const handler = this.#packetHandler;
    if (handler === null || this.#closing !== null) {
      this.stats.packetsUnhandled++;
      return;
    }
    this.stats.packetsReceived++;
    this.stats.bytesReceived += msg.byteLength;
    try {
      handler(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), {
        host: unmapV4(host),
        port,
      });
    } catch {
      this.stats.handlerErrors++;
    }
  }
}

async function bindOnce(host: string, port: number, packets: boolean): Promise<NodeTransportImpl> {
  let target: NodeTransportImpl | null = null;
  const server = await listenTcp(host, port, (socket) => {
    if (target !== null) target.accept(socket);
    else {
      socket.on("error", () => {});
      socket.destroy();
    }
  });
  const bound = server.address() as AddressInfo;
  const v6 = isV6Family(bound.family);
  let udp: UdpSocket | null = null;
  if (packets) {
    try {
      udp = await bindUdp(bound.address, bound.port, v6);
    } catch (err) {
      await closeServer(server);
      throw err;
    }
  }
  target = new NodeTransportImpl(
    server,
    udp,
    { host: unmapV4(bound.address), port: bound.port },
    v6,
  );
  return target;
}

/**
 * Real sockets on `node:dgram` + `node:net`. `bind` listens on TCP first; with `packets` it
 * binds UDP on the very same port (for port 0, the port the kernel gave TCP, retrying with a
 * fresh port up to 10 times when UDP finds it taken). Bind failures reject with a
 * {@link TransportError} ("EADDRINUSE", "EADDRNOTAVAIL", …) naming `host:port`.
 *
 * `sendPacket` takes IP literals only (names are dropped, never resolved per packet) and
 * never throws; `dial` rejects with "ETIMEDOUT", "ECONNREFUSED", … Streams have TCP_NODELAY.
 * `close()` releases every socket, so nothing keeps the process alive afterwards.
 *
 * @example
 * ```ts
 * import { nodeNetwork } from "./node.ts";
 * const t = await nodeNetwork.bind({ host: "127.0.0.1", port: 0, packets: true });
 * t.onPacket((bytes, from) => console.log(bytes.length, from));
 * t.sendPacket(t.address, new Uint8Array([1, 2, 3]));
 * await t.close();
 * ```
 */
export const nodeNetwork: NodeNetwork = {
  async bind(options: BindOptions): Promise<NodeTransport> {
    const { host, port, packets } = options;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new TransportError("EINVAL", `cannot bind ${formatHostPort({ host, port })}: bad port`);
    }
    const attempts = packets && port === 0 ? BIND_ATTEMPTS : 1;
    for (let i = 1;; i++) {
      try {
        return await bindOnce(host, port, packets);
      } catch (err) {
        if (i < attempts && errorCode(err, "") === "EADDRINUSE") continue;
        throw err;
      }
    }
  },
};
