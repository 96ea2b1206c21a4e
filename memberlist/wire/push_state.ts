/**
 * The push/pull codec: the header and the node states a push/pull carries (docs/PROTOCOL.md §2),
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
import {
  decodeText,
  encodeMsgpack,
  type MsgpackValue,
  MsgpackWriter,
  StructFields,
} from "./msgpack.ts";
import { MAX_SHARED_LENGTH, sharedBytes } from "./shared_bytes.ts";

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
  w.verbatim(MAP_AND_ADDR);
  w.raw(n.addr);
  w.verbatim(INCARNATION);
  w.int(n.incarnation);
  w.verbatim(META);
  w.raw(n.meta === null || n.meta.length === 0 ? null : n.meta);
  w.verbatim(NAME);
  w.str(n.name);
  w.verbatim(PORT);
  w.int(n.port);
  w.verbatim(STATE);
  w.int(n.state);
  w.verbatim(VSN);
  w.raw(checkVsn(n.vsn));
}

// The map header and the keys, encoded once: a body of 10,000 states writes them 10,000 times.
const MAP_AND_ADDR = Uint8Array.of(0x87, ...encodeMsgpack("Addr"));
const INCARNATION = encodeMsgpack("Incarnation");
const META = encodeMsgpack("Meta");
const NAME = encodeMsgpack("Name");
const PORT = encodeMsgpack("Port");
const STATE = encodeMsgpack("State");
const VSN = encodeMsgpack("Vsn");

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

// Each of the 7 fields once: bit i for field i of PUSH_NODE_STATE_FIELDS.
const ALL_FIELDS = 0x7f;

/**
 * Tells, from an alive pushNodeState's fields as they lie in the input, that merging it would
 * change nothing (see MemberTable.holdsAlive): {@link readPushNodeStateFast} then drops it
 * without building anything. In a quiet cluster that is nearly every state of a push/pull.
 */
export type UnchangedAlive = (
  name: string,
  incarnation: number,
  port: number,
  buf: Uint8Array,
  addrAt: number,
  addrLen: number,
  vsnAt: number,
  vsnLen: number,
) => boolean;

/**
 * Decodes the pushNodeState at `buf[pos]` and appends it to `out` when it has exactly the shape
 * Go writes: a map of the 7 fields, each once, every value of its usual msgpack type and in
 * range. Returns the offset after it, or −1, consuming nothing, for anything else: malformed,
 * truncated or merely unusual input is left to {@link decodeMsgpackStruct} and
 * {@link pushNodeStateOf}, which decode every legal form and name what is wrong. The result is
 * the one they give: Name from the text cache, Addr and Vsn shared, Meta a view into `buf`
 * (or a copy, see `views`).
 * An alive state `unchanged` accepts is skipped: the offset after it is returned, nothing is
 * appended.
 *
 * It exists for speed: a 10,000-member push/pull carries 10,000 states, and the general
 * decoder spends most of its time on generality this shape does not need.
 *
 * @example
 * ```ts
 * const nodes: PushNodeState[] = [];
 * const next = readPushNodeStateFast(bytes, 0, bytes.length, nodes);
 * ```
 * @param buf the input (with `views`, its bytes must stay unchanged while `out` is used)
 * @param pos where the state starts
 * @param end where the input ends
 * @param out receives the state
 * @param unchanged drops alive states merging would ignore
 * @param views Meta as a view into `buf` (default) or, when `buf` will be reused, a copy
 * @returns the offset after the state, or −1
 */
export function readPushNodeStateFast(
  buf: Uint8Array,
  pos: number,
  end: number,
  out: PushNodeState[],
  unchanged?: UnchangedAlive,
  views = true,
): number {
  if (pos >= end || buf[pos] !== 0x87) return -1; // fixmap of 7
  let p = pos + 1;
  let seen = 0;
  let prev = -1;
  let name = "";
  let port = 0;
  let incarnation = 0;
  let state = 0;
  let addrAt = 0;
  let addrLen = 0;
  let metaAt = -1; // nil
  let metaLen = 0;
  let vsnAt = 0;
  let vsnLen = 0;
  for (let k = 0; k < 7; k++) {
    if (p >= end) return -1;
    const kb = buf[p];
    if (kb < 0xa1 || kb > 0xbf) return -1;
    const klen = kb & 0x1f;
    if (p + 2 + klen > end) return -1; // the key and at least a value byte
    const field = PUSH_NODE_STATE_FIELDS.match(buf, p + 1, klen, prev);
    if (field < 0 || (seen & (1 << field)) !== 0) return -1;
    seen |= 1 << field;
    prev = field;
    p += 1 + klen;
    const b = buf[p];
    if (field === 4 || field === 2 || field === 5) {
      // an unsigned integer: Incarnation (u32), Port (u16), State (fixint)
      let v: number;
      if (b <= 0x7f) {
        v = b;
        p += 1;
      } else if (b === 0xcc && field !== 5 && p + 2 <= end) {
        v = buf[p + 1];
        p += 2;
      } else if (b === 0xcd && field !== 5 && p + 3 <= end) {
        v = (buf[p + 1] << 8) | buf[p + 2];
        p += 3;
      } else if (b === 0xce && field === 4 && p + 5 <= end) {
        v = ((buf[p + 1] << 24) | (buf[p + 2] << 16) | (buf[p + 3] << 8) | buf[p + 4]) >>> 0;
        p += 5;
      } else return -1;
      if (field === 4) incarnation = v;
      else if (field === 2) port = v;
      else state = v;
      continue;
    }
    if (field === 3 && b === 0xc0) {
      p += 1; // nil Meta
      continue;
    }
    // a byte string: fixstr, str8 or bin8
    let n: number;
    if (b >= 0xa0 && b <= 0xbf) {
      n = b & 0x1f;
      p += 1;
    } else if ((b === 0xc4 || b === 0xd9) && p + 2 <= end) {
      n = buf[p + 1];
      p += 2;
    } else return -1;
    if (p + n > end) return -1;
    if (field === 0) name = decodeText(buf, p, n);
    else if (field === 3) {
      metaAt = p;
      metaLen = n;
    } else if (n > MAX_SHARED_LENGTH) return -1;
    else if (field === 1) {
      addrAt = p;
      addrLen = n;
    } else {
      vsnAt = p;
      vsnLen = n;
    }
    p += n;
  }
  if (seen !== ALL_FIELDS) return -1;
  if (
    state === 0 && unchanged !== undefined &&
    unchanged(name, incarnation, port, buf, addrAt, addrLen, vsnAt, vsnLen)
  ) {
    return p;
  }
  out.push({
    name,
    addr: sharedBytes(buf, addrAt, addrLen),
    port,
    meta: metaAt < 0
      ? null
      : views
      ? buf.subarray(metaAt, metaAt + metaLen)
      : buf.slice(metaAt, metaAt + metaLen),
    incarnation,
    state,
    vsn: sharedBytes(buf, vsnAt, vsnLen),
  });
  return p;
}
