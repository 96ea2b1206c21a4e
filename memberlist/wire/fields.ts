/**
 * Typed access to the fields of a decoded msgpack map, following Go's decoding rules: a
 * missing field is the zero value, unknown fields are ignored, any integer family is fine.
 *
 * @module
 */
import { CodecError } from "./errors.ts";
import { decodeText, type MsgpackValue } from "./msgpack.ts";

/** Largest value of a Go uint16 field (ports). */
export const U16: number = 0xffff;
/** Largest value of a Go uint32 field (sequence numbers, incarnations). */
export const U32: number = 0xffffffff;
/** Largest count a length field may hold and JavaScript still count exactly. */
export const INT_MAX: number = Number.MAX_SAFE_INTEGER;

/** A decoded msgpack map. */
export type MsgpackMap = { [key: string]: MsgpackValue };

/**
 * Checks that a decoded value is a map.
 *
 * @example
 * ```ts
 * const m = asMap(decodeMsgpack(bytes).value, "ping");
 * ```
 * @param v the decoded value
 * @param what name used in the error
 * @returns the map
 */
export function asMap(v: MsgpackValue, what: string): MsgpackMap {
  if (v === null || typeof v !== "object" || Array.isArray(v) || v instanceof Uint8Array) {
    throw new CodecError(`${what}: expected a msgpack map`);
  }
  return v;
}

/**
 * An integer field within [min, max]; missing or nil gives 0.
 *
 * @example
 * ```ts
 * const seq = intField(m, "SeqNo", 0, 0xffffffff);
 * ```
 * @param m the map
 * @param key the Go field name
 * @param min smallest accepted value
 * @param max largest accepted value
 * @returns the value
 */
export function intField(m: MsgpackMap, key: string, min: number, max: number): number {
  return intValue(m[key], key, min, max);
}

/**
 * {@link intField} for a value already taken out of its map (see decodeMsgpackStruct).
 *
 * @example
 * ```ts
 * const port = intValue(fields[2], "Port", 0, 65535);
 * ```
 */
export function intValue(
  v: MsgpackValue | undefined,
  key: string,
  min: number,
  max: number,
): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== "number" || !Number.isInteger(v)) {
    throw new CodecError(`field ${key}: expected an integer`);
  }
  if (v < min || v > max) throw new CodecError(`field ${key}: ${v} out of range`);
  return v;
}

/**
 * A bool field; missing or nil gives false.
 *
 * @example
 * ```ts
 * const join = boolField(m, "Join");
 * ```
 * @param m the map
 * @param key the Go field name
 * @returns the value
 */
export function boolField(m: MsgpackMap, key: string): boolean {
  const v = m[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== "boolean") throw new CodecError(`field ${key}: expected a bool`);
  return v;
}

/**
 * A `[]byte` field; missing or nil gives null (Go's nil slice).
 *
 * @example
 * ```ts
 * const meta = bytesField(m, "Meta");
 * ```
 * @param m the map
 * @param key the Go field name
 * @returns the bytes or null
 */
export function bytesField(m: MsgpackMap, key: string): Uint8Array | null {
  return bytesValue(m[key], key);
}

/**
 * {@link bytesField} for a value already taken out of its map.
 *
 * @example
 * ```ts
 * const meta = bytesValue(fields[3], "Meta");
 * ```
 */
export function bytesValue(v: MsgpackValue | undefined, key: string): Uint8Array | null {
  if (v === undefined || v === null) return null;
  if (v instanceof Uint8Array) return v;
  if (typeof v === "string") return new TextEncoder().encode(v);
  throw new CodecError(`field ${key}: expected bytes`);
}

/**
 * A string field (raw str or bin, UTF-8); missing or nil gives "".
 *
 * @example
 * ```ts
 * const node = strField(m, "Node");
 * ```
 * @param m the map
 * @param key the Go field name
 * @returns the text
 */
export function strField(m: MsgpackMap, key: string): string {
  return strValue(m[key], key);
}

/**
 * {@link strField} for a value already taken out of its map.
 *
 * @example
 * ```ts
 * const name = strValue(fields[0], "Name");
 * ```
 */
export function strValue(v: MsgpackValue | undefined, key: string): string {
  if (v === undefined || v === null) return "";
  if (typeof v === "string") return v;
  if (v instanceof Uint8Array) return decodeText(v, 0, v.length);
  throw new CodecError(`field ${key}: expected a string`);
}
