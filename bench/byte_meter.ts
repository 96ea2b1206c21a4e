/**
 * A byte-counting decorator of a {@link Network}: counts the payload bytes of every datagram
 * and every stream chunk each bound transport sends and receives (UDP and TCP payloads, no
 * IP/UDP/TCP headers). The memberlist counters only count datagrams; push/pull rides TCP.
 *
 * @module
 */
import type { BindOptions, HostPort, Network, Stream, Transport } from "../transport/types.ts";

/** Payload bytes of one transport. */
export interface ByteCounts {
  udpIn: number;
  udpOut: number;
  tcpIn: number;
  tcpOut: number;
}

/** A zeroed counter set. */
export function zeroCounts(): ByteCounts {
  return { udpIn: 0, udpOut: 0, tcpIn: 0, tcpOut: 0 };
}

/** `b - a`, field by field. */
export function diffCounts(a: ByteCounts, b: ByteCounts): ByteCounts {
  return {
    udpIn: b.udpIn - a.udpIn,
    udpOut: b.udpOut - a.udpOut,
    tcpIn: b.tcpIn - a.tcpIn,
    tcpOut: b.tcpOut - a.tcpOut,
  };
}

class MeteredStream implements Stream {
  readonly remote: HostPort;
  #inner: Stream;
  #c: ByteCounts;

  constructor(inner: Stream, c: ByteCounts) {
    this.#inner = inner;
    this.#c = c;
    this.remote = inner.remote;
  }

  async read(): Promise<Uint8Array | null> {
    const chunk = await this.#inner.read();
    if (chunk !== null) this.#c.tcpIn += chunk.length;
    return chunk;
  }

  write(bytes: Uint8Array): Promise<void> {
    this.#c.tcpOut += bytes.length;
    return this.#inner.write(bytes);
  }

  close(): void {
    this.#inner.close();
  }
}

class MeteredTransport implements Transport {
  readonly counts: ByteCounts = zeroCounts();
  #inner: Transport;

  constructor(inner: Transport) {
    this.#inner = inner;
  }

  get address(): HostPort {
    return this.#inner.address;
  }

  sendPacket(to: HostPort, bytes: Uint8Array): void {
    this.counts.udpOut += bytes.length;
    this.#inner.sendPacket(to, bytes);
  }

  onPacket(handler: (bytes: Uint8Array, from: HostPort) => void): void {
    this.#inner.onPacket((bytes, from) => {
      this.counts.udpIn += bytes.length;
      handler(bytes, from);
    });
  }

  async dial(to: HostPort, timeoutMs: number): Promise<Stream> {
    return new MeteredStream(await this.#inner.dial(to, timeoutMs), this.counts);
  }

  onStream(handler: (stream: Stream) => void): void {
    this.#inner.onStream((s) => handler(new MeteredStream(s, this.counts)));
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

/**
 * Wraps a network; `counts()` lists the counters of every transport bound through it, in
 * bind order.
 *
 * @example
 * ```ts
 * const meter = new MeteredNetwork(nodeNetwork);
 * const list = await Memberlist.create({ ...opts, network: meter });
 * meter.counts()[0].udpOut;
 * ```
 */
export class MeteredNetwork implements Network {
  #inner: Network;
  #bound: MeteredTransport[] = [];

  /** @param inner the network to count */
  constructor(inner: Network) {
    this.#inner = inner;
  }

  async bind(options: BindOptions): Promise<Transport> {
    const t = new MeteredTransport(await this.#inner.bind(options));
    this.#bound.push(t);
    return t;
  }

  /** Copies of the counters of every bound transport. */
  counts(): ByteCounts[] {
    return this.#bound.map((t) => ({ ...t.counts }));
  }
}
