/**
 * The shared context of one memberlist node: what the probe, gossip, push/pull and send
 * modules need from the node that owns them. Internal; not part of the public surface.
 *
 * @module
 */
import type { Clock, HostPort, Transport } from "../transport/mod.ts";
import type { Awareness } from "./awareness.ts";
import type { DeliveryEstimate } from "./delivery.ts";
import type { MemberlistDelegate, MemberlistLogger, MemberlistTuning } from "./config.ts";
import type { Counters } from "./counters.ts";
import type { PacketSecurity } from "./wire/mod.ts";
import type { TransmitLimitedQueue } from "./queue.ts";
import type { MemberTable } from "./state.ts";
import type { TimerSet } from "./timers.ts";

/** Everything a memberlist module may use. */
export interface Core {
  /** Our node name. */
  readonly name: string;
  /** Time source. */
  readonly clock: Clock;
  /** Timings. */
  readonly tuning: MemberlistTuning;
  /** Tracked timers (cleared at shutdown). */
  readonly timers: TimerSet;
  /** Members and state machine. */
  readonly table: MemberTable;
  /** Broadcasts to piggyback. */
  readonly queue: TransmitLimitedQueue;
  /** Local health. */
  readonly awareness: Awareness;
  /** Packet delivery estimated from probes (scales the retransmit budget). */
  readonly delivery: DeliveryEstimate;
  /** Counters. */
  readonly counters: Counters;
  /** Bound socket(s). */
  readonly transport: Transport;
  /** Label and keyring settings. */
  readonly security: PacketSecurity;
  /** LZW compression enabled. */
  readonly compress: boolean;
  /** Protocol version spoken (Vsn[2]). */
  readonly protocolVersion: number;
  /** Advertised address. */
  readonly advertise: HostPort;
  /** Advertised address as raw IP bytes. */
  readonly advertiseAddr: Uint8Array;
  /** Our Vsn bytes. */
  readonly vsn: Uint8Array;
  /** Application hooks. */
  readonly delegate: MemberlistDelegate;
  /** Log sink. */
  readonly logger: MemberlistLogger;
  /** Uniform [0, 1). */
  random(): number;
  /** True once shutdown started. */
  isClosed(): boolean;
  /** Registers background work so shutdown can await it. */
  track(p: Promise<unknown>): void;
  /** Next probe sequence number (uint32, wraps). */
  nextSeqNo(): number;
  /** A TCP connection to `to` was actively refused (crash evidence, refusal.ts). */
  refused(to: HostPort): void;
}

/** Bytes a label header adds: 244, length, label. */
export function labelOverhead(label: string | undefined): number {
  return label === undefined || label === "" ? 0 : 2 + new TextEncoder().encode(label).length;
}

/** Bytes encryption adds to a packet (version 1: 1 + 12 nonce + 16 tag; v0 adds padding). */
export function encryptOverhead(sec: PacketSecurity): number {
  if (sec.keyring === undefined || !sec.verifyOutgoing) return 0;
  return sec.encryptionVersion === 0 ? 45 : 29;
}

/** The error message of anything thrown. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
