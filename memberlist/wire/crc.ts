/**
 * The CRC envelope memberlist puts around UDP payloads for peers speaking protocol >= 5:
 * `[12][CRC-32 IEEE of the rest, big-endian][payload]`.
 *
 * @module
 */
import { CodecError } from "./errors.ts";
import { MessageType } from "./messages.ts";
import { crc32 } from "../../transport/mod.ts";

export { crc32 };

/**
 * Wraps a payload in the CRC envelope.
 *
 * @example
 * ```ts
 * const packet = addCrc(encodeMessage(msg)); // [12][crc u32 BE][msg]
 * ```
 * @param buf the payload
 * @returns `[12][crc][buf]`
 */
export function addCrc(buf: Uint8Array): Uint8Array {
  const out = new Uint8Array(buf.length + 5);
  out[0] = MessageType.crc;
  new DataView(out.buffer).setUint32(1, crc32(buf));
  out.set(buf, 5);
  return out;
}

/**
 * Verifies and removes the CRC envelope.
 *
 * @example
 * ```ts
 * const payload = stripCrc(packet);
 * ```
 * @param buf the whole envelope, starting with 12
 * @returns the payload (a view into `buf`)
 * @throws CodecError when the envelope is short, not a CRC envelope, or the checksum differs
 */
export function stripCrc(buf: Uint8Array): Uint8Array {
  if (buf.length < 5) throw new CodecError("truncated crc envelope", true, 5);
  if (buf[0] !== MessageType.crc) throw new CodecError("not a crc envelope");
  const expected = ((buf[1] << 24) | (buf[2] << 16) | (buf[3] << 8) | buf[4]) >>> 0;
  const payload = buf.subarray(5);
  if (crc32(payload) !== expected) throw new CodecError("crc mismatch");
  return payload;
}
