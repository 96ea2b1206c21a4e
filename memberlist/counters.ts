/**
 * Traffic and error counters of one memberlist node.
 *
 * @module
 */
import type { MemberlistCounters } from "./config.ts";

type Bag = Record<string, number>;

function bump(bag: Bag, key: string, by: number): void {
  bag[key] = (bag[key] ?? 0) + by;
}

/** Message type byte -> counter name. */
export const TYPE_NAMES: Readonly<Record<number, string>> = {
  0: "ping",
  1: "indirectPing",
  2: "ack",
  3: "suspect",
  4: "alive",
  5: "dead",
  6: "pushPull",
  7: "compound",
  8: "user",
  9: "compress",
  10: "encrypt",
  11: "nack",
  12: "crc",
  13: "err",
};

/**
 * Mutable counters; {@link snapshot} hands out copies.
 *
 * @example
 * ```ts
 * const c = new Counters();
 * c.packetOut("ping", 30);
 * c.snapshot().packetsOut.ping; // 1
 * ```
 */
export class Counters {
  private readonly c: MemberlistCounters = {
    packetsIn: {},
    bytesIn: {},
    packetsOut: {},
    bytesOut: {},
    messagesIn: {},
    messagesOut: {},
    streamsIn: {},
    streamsOut: {},
    malformed: 0,
    rejected: 0,
    probesSent: 0,
    probesFailed: 0,
    pushPullsIn: 0,
    pushPullsOut: 0,
    refutations: 0,
    degradedTimeouts: 0,
    reconnects: 0,
    accusationsSent: 0,
    accusationsAnswered: 0,
    revivalChecks: 0,
    crashChecks: 0,
    crashDeaths: 0,
  };

  /** One datagram received. */
  packetIn(kind: string, bytes: number): void {
    bump(this.c.packetsIn, kind, 1);
    bump(this.c.bytesIn, kind, bytes);
  }
  /** One datagram sent. */
  packetOut(kind: string, bytes: number): void {
    bump(this.c.packetsOut, kind, 1);
    bump(this.c.bytesOut, kind, bytes);
  }
  /** One decoded message received. */
  messageIn(type: string): void {
    bump(this.c.messagesIn, type, 1);
  }
  /** One message sent (alone or as a compound part). */
  messageOut(type: string): void {
    bump(this.c.messagesOut, type, 1);
  }
  /** An inbound stream of some kind. */
  streamIn(kind: string): void {
    bump(this.c.streamsIn, kind, 1);
  }
  /** An outbound stream of some kind. */
  streamOut(kind: string): void {
    bump(this.c.streamsOut, kind, 1);
  }
  /** Increments one of the scalar counters. */
  inc(
    key:
      | "malformed"
      | "rejected"
      | "probesSent"
      | "probesFailed"
      | "pushPullsIn"
      | "pushPullsOut"
      | "refutations"
      | "degradedTimeouts"
      | "reconnects"
      | "accusationsSent"
      | "accusationsAnswered"
      | "revivalChecks"
      | "crashChecks"
      | "crashDeaths",
  ): void {
    this.c[key]++;
  }
  /** A deep copy. */
  snapshot(): MemberlistCounters {
    const c = this.c;
    return {
      ...c,
      packetsIn: { ...c.packetsIn },
      bytesIn: { ...c.bytesIn },
      packetsOut: { ...c.packetsOut },
      bytesOut: { ...c.bytesOut },
      messagesIn: { ...c.messagesIn },
      messagesOut: { ...c.messagesOut },
      streamsIn: { ...c.streamsIn },
      streamsOut: { ...c.streamsOut },
    };
  }
}
