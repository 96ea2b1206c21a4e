/**
 * The NATS discovery wire format.
 *
 * Subjects, for a configured subject `S` (default `response-cluster`):
 * - `S.announce`: every node publishes `{ "name": "<node name>", "address": "host:port" }`
 *   (its advertised memberlist address) at start, periodically, and after a reconnect.
 * - `S.discover`: a starting node sends the same object as a request; every node replies with
 *   its own announcement. The requester collects replies for a bounded window.
 *
 * Payloads are UTF-8 JSON. Anything else (bad JSON, missing fields, unparsable address,
 * over {@link MAX_MESSAGE_BYTES}) is dropped and counted by the receiver.
 *
 * @module
 */
import * as v from "valibot";
import { formatHostPort, parseHostPort } from "../transport/mod.ts";
import type { HostPort } from "../transport/mod.ts";

/** Largest payload accepted; real announcements are well under 1 KiB. */
export const MAX_MESSAGE_BYTES: number = 4096;

/** A node's announcement. */
export interface Announcement {
  /** Node name. */
  readonly name: string;
  /** Advertised memberlist address. */
  readonly address: HostPort;
}

/** Subject names derived from the configured subject. */
export interface NatsSubjects {
  /** Where announcements are published. */
  readonly announce: string;
  /** Where discovery requests are sent. */
  readonly discover: string;
}

/** The subjects used under the configured subject prefix. */
export function natsSubjects(subject: string): NatsSubjects {
  return { announce: `${subject}.announce`, discover: `${subject}.discover` };
}

const WIRE = v.object({
  name: v.pipe(v.string(), v.maxLength(512)),
  address: v.pipe(v.string(), v.maxLength(300)),
});

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Encodes an announcement. */
export function encodeAnnouncement(a: Announcement): Uint8Array {
  return encoder.encode(JSON.stringify({ name: a.name, address: formatHostPort(a.address) }));
}

/** Decodes an announcement; `undefined` for anything malformed (never throws). */
export function decodeAnnouncement(bytes: Uint8Array): Announcement | undefined {
  if (bytes.length === 0 || bytes.length > MAX_MESSAGE_BYTES) return undefined;
  try {
    const parsed = v.safeParse(WIRE, JSON.parse(decoder.decode(bytes)));
    if (!parsed.success) return undefined;
    const address = parseHostPort(parsed.output.address);
    if (address.port === 0) return undefined;
    return { name: parsed.output.name, address };
  } catch {
    return undefined;
  }
}
