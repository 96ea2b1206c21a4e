/**
 * The label header memberlist (>= v0.3.0) puts on every packet and at the start of every
 * stream: `[244][length 1..255][label bytes]`. Peers with different labels ignore each other.
 *
 * @module
 */
import { CodecError } from "./errors.ts";
import { MessageType } from "./messages.ts";

/** Longest label (bytes). */
export const LABEL_MAX_SIZE: number = 255;

const textEncoder = new TextEncoder();

/**
 * The label as bytes (the encryption AAD), checked for length.
 *
 * @example
 * ```ts
 * labelBytes("prod"); // Uint8Array of 4 bytes
 * ```
 * @param label the label ("" = none)
 * @returns the UTF-8 bytes (empty for no label)
 * @throws CodecError when the label is longer than 255 bytes
 */
export function labelBytes(label: string | undefined): Uint8Array {
  const b = textEncoder.encode(label ?? "");
  if (b.length > LABEL_MAX_SIZE) {
    throw new CodecError(`label is ${b.length} bytes, more than ${LABEL_MAX_SIZE}`);
  }
  return b;
}

/**
 * The label header for a label, or an empty array when there is no label.
 *
 * @example
 * ```ts
 * labelHeader("prod"); // [244, 4, ...“prod”]
 * ```
 * @param label the label ("" = none)
 * @returns the header bytes
 */
export function labelHeader(label: string | undefined): Uint8Array {
  const b = labelBytes(label);
  if (b.length === 0) return b;
  const out = new Uint8Array(b.length + 2);
  out[0] = MessageType.label;
  out[1] = b.length;
  out.set(b, 2);
  return out;
}

/**
 * Removes a label header if the buffer starts with one.
 *
 * @example
 * ```ts
 * const { label, rest } = removeLabelHeader(packet);
 * ```
 * @param buf a packet
 * @returns the label ("" when absent) and the bytes after the header
 * @throws CodecError for an empty or cut-off header
 */
export function removeLabelHeader(buf: Uint8Array): { label: string; rest: Uint8Array } {
  if (buf.length === 0 || buf[0] !== MessageType.label) return { label: "", rest: buf };
  if (buf.length < 2) throw new CodecError("label header truncated", true, 2);
  const size = buf[1];
  if (size < 1) throw new CodecError("label header cannot be empty when present");
  if (buf.length < 2 + size) throw new CodecError("label header truncated", true, 2 + size);
  return {
    label: new TextDecoder().decode(buf.subarray(2, 2 + size)),
    rest: buf.subarray(2 + size),
  };
}
