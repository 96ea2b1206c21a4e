/**
 * memberlist's message structs and their exact Go wire encoding: one type byte followed by
 * one msgpack map whose keys are the Go field names (sorted, as go-msgpack writes them).
 * The push/pull header and node states are in push_state.ts.
 *
 * @module
 */
import { CodecError } from "./errors.ts";
import {
  asMap,
  boolField,
  bytesField,
  INT_MAX,
  intField,
  type MsgpackMap,
  strField,
  U16,
  U32,
} from "./fields.ts";
import { decodeMsgpack, encodeMsgpack, encodeTypedMsgpack, type MsgpackValue } from "./msgpack.ts";

export { bytesToIp, ipToBytes } from "./ip.ts";

/**
 * Message type codes (the first byte). Part of the protocol: never renumber.
 *
 * @example
 * ```ts
 * buf[0] === MessageType.compound;
 * ```
 */
export const MessageType: {
  readonly ping: 0;
  readonly indirectPing: 1;
  readonly ack: 2;
  readonly suspect: 3;
  readonly alive: 4;
  readonly dead: 5;
  readonly pushPull: 6;
  readonly compound: 7;
  readonly user: 8;
  readonly compress: 9;
  readonly encrypt: 10;
  readonly nack: 11;
  readonly crc: 12;
  readonly err: 13;
  readonly label: 244;
} = {
  ping: 0,
  indirectPing: 1,
  ack: 2,
  suspect: 3,
  alive: 4,
  dead: 5,
  pushPull: 6,
  compound: 7,
  user: 8,
  compress: 9,
  encrypt: 10,
  nack: 11,
  crc: 12,
  err: 13,
  label: 244,
} as const;

/** ping (0). `node` is the intended recipient's name. */
export interface Ping {
  seqNo: number;
  node: string;
  sourceAddr?: Uint8Array;
  sourcePort?: number;
  sourceNode?: string;
}
/** indirectPingReq (1). */
export interface IndirectPing {
  seqNo: number;
  target: Uint8Array;
  port: number;
  node: string;
  nack: boolean;
  sourceAddr?: Uint8Array;
  sourcePort?: number;
  sourceNode?: string;
}
/** ackResp (2). `payload` null is Go's nil slice. */
export interface Ack {
  seqNo: number;
  payload: Uint8Array | null;
}
/** nackResp (11). */
export interface Nack {
  seqNo: number;
}
/** suspect (3). */
export interface Suspect {
  incarnation: number;
  node: string;
  from: string;
}
/** dead (5); `from === node` means a graceful leave. */
export interface Dead {
  incarnation: number;
  node: string;
  from: string;
}
/** alive (4). `vsn` is [pmin, pmax, pcur, dmin, dmax, dcur]. */
export interface Alive {
  incarnation: number;
  node: string;
  addr: Uint8Array;
  port: number;
  meta: Uint8Array | null;
  vsn: Uint8Array;
}
/** userMsgHeader (stream, after type byte 8). */
export interface UserMsgHeader {
  userMsgLen: number;
}
/** errResp (13, stream). */
export interface ErrResp {
  error: string;
}

/** A plain (non-envelope) message. UDP user messages are type 8 followed by raw bytes. */
export type Message =
  | { type: "ping"; body: Ping }
  | { type: "indirectPing"; body: IndirectPing }
  | { type: "ack"; body: Ack }
  | { type: "nack"; body: Nack }
  | { type: "suspect"; body: Suspect }
  | { type: "alive"; body: Alive }
  | { type: "dead"; body: Dead }
  | { type: "err"; body: ErrResp }
  | { type: "user"; body: Uint8Array };

function withType(type: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 1);
  out[0] = type;
  out.set(body, 1);
  return out;
}

/**
 * A Vsn to send: exactly six bytes, or a CodecError.
 *
 * @example
 * ```ts
 * checkVsn(Uint8Array.of(1, 5, 2, 0, 0, 0));
 * ```
 */
export function checkVsn(vsn: Uint8Array): Uint8Array {
  // A short Vsn panics v0.2.2 peers (they index Vsn[0..5]), so never send one.
  if (vsn.length !== 6) throw new CodecError(`vsn must be 6 bytes, got ${vsn.length}`);
  return vsn;
}

/** Adds the omitempty source fields of ping / indirectPingReq. */
function sourceFields(
  m: { [key: string]: MsgpackValue },
  b: { sourceAddr?: Uint8Array; sourcePort?: number; sourceNode?: string },
): void {
  if (b.sourceAddr !== undefined && b.sourceAddr.length > 0) m.SourceAddr = b.sourceAddr;
  if (b.sourcePort !== undefined && b.sourcePort !== 0) m.SourcePort = b.sourcePort;
  if (b.sourceNode !== undefined && b.sourceNode !== "") m.SourceNode = b.sourceNode;
}

function readSourceFields(
  m: MsgpackMap,
  out: { sourceAddr?: Uint8Array; sourcePort?: number; sourceNode?: string },
): void {
  const addr = bytesField(m, "SourceAddr");
  if (addr !== null && addr.length > 0) out.sourceAddr = addr;
  const port = intField(m, "SourcePort", 0, U16);
  if (port !== 0) out.sourcePort = port;
  const node = strField(m, "SourceNode");
  if (node !== "") out.sourceNode = node;
}

/**
 * Encodes a message as type byte + msgpack, byte for byte as Go does.
 *
 * @example
 * ```ts
 * encodeMessage({ type: "nack", body: { seqNo: 1 } }); // 0b 81 a5"SeqNo" 01
 * ```
 * @param msg the message
 * @returns the encoded bytes
 */
export function encodeMessage(msg: Message): Uint8Array {
  switch (msg.type) {
    case "ping": {
      const b = msg.body;
      const m: { [key: string]: MsgpackValue } = { SeqNo: b.seqNo, Node: b.node };
      sourceFields(m, b);
      return encodeTypedMsgpack(MessageType.ping, m);
    }
    case "indirectPing": {
      const b = msg.body;
      const m: { [key: string]: MsgpackValue } = {
        SeqNo: b.seqNo,
        Target: b.target,
        Port: b.port,
        Node: b.node,
        Nack: b.nack,
      };
      sourceFields(m, b);
      return encodeTypedMsgpack(MessageType.indirectPing, m);
    }
    case "ack":
      return encodeTypedMsgpack(MessageType.ack, {
        SeqNo: msg.body.seqNo,
        Payload: msg.body.payload,
      });
    case "nack":
      return encodeTypedMsgpack(MessageType.nack, { SeqNo: msg.body.seqNo });
    case "suspect":
    case "dead": {
      const b = msg.body;
      const body = { Incarnation: b.incarnation, Node: b.node, From: b.from };
      return encodeTypedMsgpack(msg.type === "dead" ? MessageType.dead : MessageType.suspect, body);
    }
    case "alive": {
      const b = msg.body;
      return encodeTypedMsgpack(
        MessageType.alive,
        {
          Incarnation: b.incarnation,
          Node: b.node,
          Addr: b.addr,
          Port: b.port,
          Meta: b.meta,
          Vsn: checkVsn(b.vsn),
        },
      );
    }
    case "err":
      return encodeTypedMsgpack(MessageType.err, { Error: msg.body.error });
    case "user":
      return withType(MessageType.user, msg.body);
  }
}

/**
 * Encodes a userMsgHeader (msgpack only; the stream form is `[8] header bytes`).
 *
 * @example
 * ```ts
 * encodeUserMsgHeader({ userMsgLen: 5 }); // 81 aa"UserMsgLen" 05
 * ```
 * @param h the header
 * @returns msgpack bytes
 */
export function encodeUserMsgHeader(h: UserMsgHeader): Uint8Array {
  return encodeMsgpack({ UserMsgLen: h.userMsgLen });
}

/**
 * Reads a userMsgHeader from a decoded msgpack value.
 *
 * @example
 * ```ts
 * const { userMsgLen } = decodeUserMsgHeader(await reader.readMsgpack());
 * ```
 * @param v decoded msgpack
 * @returns the header (negative lengths are rejected)
 */
export function decodeUserMsgHeader(v: MsgpackValue): UserMsgHeader {
  return { userMsgLen: intField(asMap(v, "userMsgHeader"), "UserMsgLen", 0, INT_MAX) };
}

/**
 * Builds a message of the given type from its decoded msgpack body (used for the stream path,
 * where the type byte and the body are read separately). Type 8 (user) is not accepted here:
 * its UDP form has no msgpack body and its stream form has a header.
 *
 * @example
 * ```ts
 * const msg = decodeMessageBody(MessageType.ping, await reader.readMsgpack());
 * ```
 * @param type the type byte
 * @param v the decoded msgpack body
 * @returns the message
 * @throws CodecError for unknown types or malformed fields
 */
export function decodeMessageBody(type: number, v: MsgpackValue): Message {
  switch (type) {
    case MessageType.ping: {
      const m = asMap(v, "ping");
      const body: Ping = { seqNo: intField(m, "SeqNo", 0, U32), node: strField(m, "Node") };
      readSourceFields(m, body);
      return { type: "ping", body };
    }
    case MessageType.indirectPing: {
      const m = asMap(v, "indirectPingReq");
      const body: IndirectPing = {
        seqNo: intField(m, "SeqNo", 0, U32),
        target: bytesField(m, "Target") ?? new Uint8Array(0),
        port: intField(m, "Port", 0, U16),
        node: strField(m, "Node"),
        nack: boolField(m, "Nack"),
      };
      readSourceFields(m, body);
      return { type: "indirectPing", body };
    }
    case MessageType.ack: {
      const m = asMap(v, "ackResp");
      return {
        type: "ack",
        body: { seqNo: intField(m, "SeqNo", 0, U32), payload: bytesField(m, "Payload") },
      };
    }
    case MessageType.nack:
      return { type: "nack", body: { seqNo: intField(asMap(v, "nackResp"), "SeqNo", 0, U32) } };
    case MessageType.suspect:
    case MessageType.dead: {
      const m = asMap(v, type === MessageType.dead ? "dead" : "suspect");
      const body = {
        incarnation: intField(m, "Incarnation", 0, U32),
        node: strField(m, "Node"),
        from: strField(m, "From"),
      };
      return type === MessageType.dead ? { type: "dead", body } : { type: "suspect", body };
    }
    case MessageType.alive: {
      const m = asMap(v, "alive");
      return {
        type: "alive",
        body: {
          incarnation: intField(m, "Incarnation", 0, U32),
          node: strField(m, "Node"),
          addr: bytesField(m, "Addr") ?? new Uint8Array(0),
          port: intField(m, "Port", 0, U16),
          meta: bytesField(m, "Meta"),
          vsn: bytesField(m, "Vsn") ?? new Uint8Array(0),
        },
      };
    }
    case MessageType.err:
      return { type: "err", body: { error: strField(asMap(v, "errResp"), "Error") } };
    default:
      throw new CodecError(`unexpected message type ${type}`);
  }
}

/**
 * Decodes one plain message (type byte + msgpack; type 8 = raw user bytes). Envelopes
 * (compound, compress, crc, encrypt, label) are handled by the packet layer, not here.
 * Trailing bytes after the msgpack body are ignored, as Go does. Byte fields are views into
 * `buf`, which must therefore not be modified afterwards.
 *
 * @example
 * ```ts
 * const msg = decodeMessage(bytes);
 * if (msg.type === "ping") console.log(msg.body.seqNo);
 * ```
 * @param buf the message
 * @returns the message
 * @throws CodecError on malformed input or an unknown type
 */
export function decodeMessage(buf: Uint8Array): Message {
  if (buf.length === 0) throw new CodecError("empty message", true, 1);
  const type = buf[0];
  if (type === MessageType.user) return { type: "user", body: buf.slice(1) };
  if (type > MessageType.err || type === MessageType.pushPull) {
    throw new CodecError(`unexpected message type ${type}`);
  }
  // A received packet is never modified afterwards: fields may be views into it.
  return decodeMessageBody(type, decodeMsgpack(buf, 1, true).value);
}
