/**
 * The push/pull codec: the header and the node states a push/pull carries (PROTOCOL.md §2),
 * written straight into one buffer and read field by field, since a large cluster's push/pull
 * carries one state per member, thousands at a time.
 *
 * @module
 */
import {
  asMap,
  boolField,
  bytesValue,
  INT_MAX,
  intField,
  intValue,
  strValue,
  U16,
  U32,
} from "./fields.ts";
import { checkVsn } from "./messages.ts";
import { encodeMsgpack, type MsgpackValue, MsgpackWriter, StructFields } from "./msgpack.ts";

/** pushPullHeader (stream, after type byte 6). */
export interface PushPullHeader {
  nodes: number;
  userStateLen: number;
  join: boolean;
}
/** pushNodeState (stream). `state`: 0 alive, 1 suspect, 2 dead, 3 left. */
export interface PushNodeState {
  name: string;
  addr: Uint8Array;
  port: number;
  meta: Uint8Array | null;
  incarnation: number;
  state: number;
  vsn: Uint8Array;
}

/**
 * Encodes a pushPullHeader (msgpack only, no type byte).
 *
 * @example
 * ```ts
 * encodePushPullHeader({ nodes: 1, userStateLen: 0, join: true });
 * ```
 * @param h the header
 * @returns msgpack bytes
 */
export function encodePushPullHeader(h: PushPullHeader): Uint8Array {
  return encodeMsgpack({ Nodes: h.nodes, UserStateLen: h.userStateLen, Join: h.join });
}

/**
 * Encodes one pushNodeState (msgpack only).
 *
 * @example
 * ```ts
 * encodePushNodeState({ name: "a", addr: ipToBytes("10.0.0.1"), port: 7946, meta: null,
 *   incarnation: 1, state: 0, vsn: new Uint8Array([1, 5, 2, 0, 0, 0]) });
 * ```
 * @param n the node state
 * @returns msgpack bytes
 */
export function encodePushNodeState(n: PushNodeState): Uint8Array {
  const w = new MsgpackWriter();
  writePushNodeState(w, n);
  return w.finish();
}

/**
 * Writes one pushNodeState into `w`: Go's sorted field order, `meta` nil when null or
 * empty (a member without metadata), `vsn` checked.
 *
 * @example
 * ```ts
 * for (const n of nodes) writePushNodeState(w, n);
 * ```
 */
export function writePushNodeState(w: MsgpackWriter, n: PushNodeState): void {
  w.map(7);
  w.key("Addr");
  w.raw(n.addr);
  w.key("Incarnation");
  w.int(n.incarnation);
  w.key("Meta");
  w.raw(n.meta === null || n.meta.length === 0 ? null : n.meta);
  w.key("Name");
  w.str(n.name);
  w.key("Port");
  w.int(n.port);
  w.key("State");
  w.int(n.state);
  w.key("Vsn");
  w.raw(checkVsn(n.vsn));
}

/**
 * Reads a pushPullHeader from a decoded msgpack value.
 *
 * @example
 * ```ts
 * const h = decodePushPullHeader(await reader.readMsgpack());
 * ```
 * @param v decoded msgpack
 * @returns the header (negative counts are rejected)
 */
export function decodePushPullHeader(v: MsgpackValue): PushPullHeader {
  const m = asMap(v, "pushPullHeader");
  return {
    nodes: intField(m, "Nodes", 0, INT_MAX),
    userStateLen: intField(m, "UserStateLen", 0, INT_MAX),
    join: boolField(m, "Join"),
  };
}

/**
 * Reads a pushNodeState from a decoded msgpack value.
 *
 * @example
 * ```ts
 * const n = decodePushNodeState(await reader.readMsgpack());
 * ```
 * @param v decoded msgpack
 * @returns the node state (`vsn` as received: validate its length before use)
 */
export function decodePushNodeState(v: MsgpackValue): PushNodeState {
  const m = asMap(v, "pushNodeState");
  return pushNodeStateOf(PUSH_NODE_STATE_FIELDS.keys.map((k) => m[k]));
}

/** The Go field names of a pushNodeState, in the order {@link pushNodeStateOf} reads them. */
export const PUSH_NODE_STATE_FIELDS: StructFields = new StructFields(
  ["Name", "Addr", "Port", "Meta", "Incarnation", "State", "Vsn"],
  [true],
  [false, true, false, false, false, false, true],
);

/**
 * A pushNodeState from its field values in {@link PUSH_NODE_STATE_FIELDS} order (as
 * decodeMsgpackStruct fills them), checked like every decoded message.
 *
 * @example
 * ```ts
 * const fields: (MsgpackValue | undefined)[] = [];
 * decodeMsgpackStruct(bytes, 0, bytes.length, false, PUSH_NODE_STATE_FIELDS, fields);
 * const n = pushNodeStateOf(fields);
 * ```
 * @throws CodecError naming the field that is mistyped or out of range
 */
export function pushNodeStateOf(f: readonly (MsgpackValue | undefined)[]): PushNodeState {
  return {
    name: strValue(f[0], "Name"),
    addr: bytesValue(f[1], "Addr") ?? new Uint8Array(0),
    port: intValue(f[2], "Port", 0, U16),
    meta: bytesValue(f[3], "Meta"),
    incarnation: intValue(f[4], "Incarnation", 0, U32),
    state: intValue(f[5], "State", -0x80000000, 0x7fffffff),
    vsn: bytesValue(f[6], "Vsn") ?? new Uint8Array(0),
  };
}
