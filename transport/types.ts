/**
 * The contracts every layer above speaks: addresses, clocks, packet and stream transports.
 *
 * memberlist and log never touch sockets or timers directly; they receive a {@link Network}
 * and a {@link Clock}. Production uses real sockets and the system clock; tests and
 * simulations use an in-memory network driven by a virtual clock, so the same code runs
 * deterministically at scale.
 *
 * @module
 */
import { ClusterError } from "../errors/mod.ts";

/** A host (IPv4/IPv6 literal or host name) and a port. */
export interface HostPort {
  /** IPv4 or IPv6 literal (without brackets) or a host name. */
  readonly host: string;
  /** 0–65535. */
  readonly port: number;
}

/** Opaque handle of a timer created by a {@link Clock}. */
export type TimerHandle = unknown;

/**
 * Time and timers. Every timer in the library goes through a Clock, so a virtual clock can
 * drive a whole cluster in simulated time.
 */
export interface Clock {
  /** Milliseconds since an arbitrary epoch; monotonic non-decreasing. */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer; unknown or already fired handles are ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/**
 * A reliable, ordered byte stream (TCP, or its simulated twin).
 *
 * Reads are pull-based so a protocol decoder can take exactly what it needs and apply its
 * own deadline (close the stream when the deadline passes: pending reads then resolve null).
 */
export interface Stream {
  /** The peer's address as seen by this side. */
  readonly remote: HostPort;
  /** Next chunk of bytes, or `null` once the peer closed or the stream was closed. */
  read(): Promise<Uint8Array | null>;
  /** Queues bytes; resolves when they were handed to the OS (or the simulated link). */
  write(bytes: Uint8Array): Promise<void>;
  /** Closes both directions; idempotent. Pending reads resolve `null`. */
  close(): void;
}

/** Handler of an inbound datagram. Must not throw; errors are the handler's own business. */
export type PacketHandler = (bytes: Uint8Array, from: HostPort) => void;
/** Handler of an inbound stream. The handler owns the stream and must close it. */
export type StreamHandler = (stream: Stream) => void;

/** A bound endpoint: datagrams (optional) and streams on one address. */
export interface Transport {
  /** The address actually bound (port 0 resolved to the ephemeral port). */
  readonly address: HostPort;
  /** Best effort: never throws for network reasons; drops silently instead. */
  sendPacket(to: HostPort, bytes: Uint8Array): void;
  /** Sets the single inbound packet handler (replaces any previous one). */
  onPacket(handler: PacketHandler): void;
  /** Opens a stream; rejects with a {@link TransportError} after `timeoutMs`. */
  dial(to: HostPort, timeoutMs: number): Promise<Stream>;
  /** Sets the single inbound stream handler (replaces any previous one). */
  onStream(handler: StreamHandler): void;
  /** Closes the listener(s), every open stream and pending dial; idempotent. */
  close(): Promise<void>;
}

/** What to bind. */
export interface BindOptions {
  /** Address to bind, e.g. "0.0.0.0", "127.0.0.1", "::". */
  readonly host: string;
  /** Port; 0 picks an ephemeral one (with packets: the same port for UDP and TCP). */
  readonly port: number;
  /** Also bind datagrams on the same port (memberlist). The log only needs streams. */
  readonly packets: boolean;
}

/** A way to bind transports: real sockets, or a simulated network. */
export interface Network {
  /** Binds; rejects with a {@link TransportError} (code "EADDRINUSE", "EADDRNOTAVAIL", …). */
  bind(options: BindOptions): Promise<Transport>;
}

/**
 * A transport failure with the system error code when there is one: `code` is "EADDRINUSE",
 * "EADDRNOTAVAIL", "ETIMEDOUT", "ECONNREFUSED", "ECLOSED", …
 */
export class TransportError extends ClusterError {
  /**
   * Creates a transport error.
   * @param code system-like error code
   * @param message human readable text
   */
  constructor(code: string, message: string) {
    super(code, message);
  }
}
