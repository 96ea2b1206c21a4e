/**
 * memberlist's TCP stream forms (docs/PROTOCOL.md §2.6). A stream carries, after an optional label
 * header written by the dialer, one of: `[type][msgpack…]`, `[9][msgpack compress{…}]` whose
 * output is again `[type][msgpack…]`, or `[10][u32 BE length][encrypted]` whose plaintext is
 * one of the first two. There is no outer length for plaintext, so reading is incremental.
 *
 * @module
 */
import { concatBytes, type Stream } from "../../transport/mod.ts";
import { CodecError } from "./errors.ts";
import { encryptedLength } from "./keyring.ts";
import { LABEL_MAX_SIZE, labelBytes, labelHeader } from "./label.ts";
import { compressMessage, decompressEnvelope, MAX_DECOMPRESSED_BYTES } from "./lzw.ts";
import { decodeUserMsgHeader, encodeUserMsgHeader, MessageType } from "./messages.ts";
import {
  decodePushPullHeader,
  encodePushPullHeader,
  PUSH_NODE_STATE_FIELDS,
  type PushNodeState,
  pushNodeStateOf,
  type PushPullHeader,
  readPushNodeStateFast,
  type UnchangedAlive,
  writePushNodeState,
} from "./push_state.ts";
import { type MsgpackValue, MsgpackWriter } from "./msgpack.ts";
import type { PacketSecurity } from "./packet.ts";
import { StreamReader } from "./stream_reader.ts";

export { StreamReader } from "./stream_reader.ts";

/** memberlist's maxPushStateBytes: cap on an (encrypted) stream message, 20 MiB. */
export const MAX_STREAM_BYTES: number = 20 * 1024 * 1024;
/** Most node states one push/pull may carry (memberlist master). */
export const MAX_PUSH_STATE_NODES: number = 1_048_576;
/** Largest user state or reliable user message (memberlist master), 20 MiB. */
export const MAX_USER_BYTES: number = 20 * 1024 * 1024;

/** Options of {@link writeStreamMessage}. */
export interface StreamWriteOptions extends PacketSecurity {
  /** Wrap in a compress envelope (Go does so unconditionally when compression is on). */
  compress: boolean;
  /**
   * Write the label header first (default true). Only the dialer's first message carries it:
   * pass false for a responder's reply.
   */
  writeLabel?: boolean;
}

/** Limits of {@link readStreamMessage}. */
export interface StreamReadLimits {
  /** Cap on the encrypted blob, and on the plain bytes taken from the stream (20 MiB). */
  maxBytes: number;
  /** Cap on the decompressed body (default 40 MiB). */
  maxDecompressedBytes?: number;
  /**
   * Expect and check a label header (default true: the responder side). A dialer reading
   * the reply passes false: replies carry no header (the label still enters the AAD).
   */
  readLabel?: boolean;
}

/**
 * Writes one stream message: label header, then plain / compressed / encrypted form.
 *
 * @example
 * ```ts
 * await writeStreamMessage(stream, encodePushPull({ join: true }, nodes, state), {
 *   compress: true, verifyIncoming: true, verifyOutgoing: true, encryptionVersion: 1,
 * });
 * ```
 * @param stream where to write
 * @param payload type byte + body (e.g. a full push/pull buffer)
 * @param opts compression, keys and label
 */
export async function writeStreamMessage(
  stream: Stream,
  payload: Uint8Array,
  opts: StreamWriteOptions,
): Promise<void> {
  let buf = opts.compress ? compressMessage(payload) : payload;
  if (opts.keyring && opts.verifyOutgoing) {
    const header = new Uint8Array(5);
    header[0] = MessageType.encrypt;
    new DataView(header.buffer).setUint32(1, encryptedLength(opts.encryptionVersion, buf.length));
    const label = labelBytes(opts.label);
    const aad = new Uint8Array(5 + label.length);
    aad.set(header);
    aad.set(label, 5);
    const sealed = await opts.keyring.encrypt(buf, aad, opts.encryptionVersion);
    buf = concatBytes([header, sealed]);
  }
  if (opts.writeLabel !== false) {
    const header = labelHeader(opts.label);
    if (header.length > 0) buf = concatBytes([header, buf]);
  }
  await stream.write(buf);
}

/**
 * Reads the start of one stream message: checks the label, decrypts and decompresses as
 * needed, and returns the inner type byte plus a reader positioned after it.
 *
 * @example
 * ```ts
 * const { type, reader } = await readStreamMessage(stream, security, { maxBytes: MAX_STREAM_BYTES });
 * if (type === MessageType.pushPull) {
 *   const remote = await readPushPull(reader);
 * }
 * ```
 * @param stream the source
 * @param sec label and keys
 * @param limits size limits
 * @returns the message type and a reader over its body
 * @throws CodecError on a wrong label, an encryption mismatch, bad data or an early end
 */
export async function readStreamMessage(
  stream: Stream,
  sec: PacketSecurity,
  limits: StreamReadLimits,
): Promise<{ type: number; reader: StreamReader }> {
  let reader = new StreamReader(stream, limits.maxBytes, limits.maxBytes + 2 + LABEL_MAX_SIZE);
  let type = await reader.readByte();
  if (limits.readLabel !== false) {
    let label = "";
    if (type === MessageType.label) {
      const size = await reader.readByte();
      if (size < 1) throw new CodecError("label header cannot be empty when present");
      label = new TextDecoder().decode(await reader.readExact(size));
      type = await reader.readByte();
    }
    if (label !== (sec.label ?? "")) throw new CodecError(`unexpected stream label "${label}"`);
  }
  if (type === MessageType.encrypt) {
    if (!sec.keyring) {
      throw new CodecError("remote state is encrypted and encryption is not configured");
    }
    const lenBytes = await reader.readExact(4);
    const len = new DataView(lenBytes.buffer).getUint32(0);
    if (len > limits.maxBytes) {
      throw new CodecError(`remote state of ${len} bytes is larger than the limit`);
    }
    const blob = await reader.readExact(len);
    const aad = concatBytes([
      new Uint8Array([MessageType.encrypt]),
      lenBytes,
      labelBytes(sec.label),
    ]);
    const plain = await sec.keyring.decrypt(blob, aad);
    if (plain.length === 0) throw new CodecError("decrypted stream message is empty");
    type = plain[0];
    reader = StreamReader.fromBytes(plain.subarray(1));
  } else if (sec.keyring && sec.verifyIncoming) {
    throw new CodecError("encryption is configured but remote state is not encrypted");
  }
  if (type === MessageType.compress) {
    const plain = decompressEnvelope(
      await reader.readMsgpack(true), // decompressed before the reader is used again
      limits.maxDecompressedBytes ?? MAX_DECOMPRESSED_BYTES,
    );
    type = plain[0];
    reader = StreamReader.fromBytes(plain.subarray(1));
  }
  return { type, reader };
}

/** Limits of {@link readPushPull}. */
export interface PushPullLimits {
  /** Most node states (default 1,048,576). */
  maxNodes?: number;
  /** Largest user state (default 20 MiB). */
  maxUserState?: number;
}

/**
 * Builds a full push/pull buffer: `[6] header nodes… userState`.
 *
 * @example
 * ```ts
 * const buf = encodePushPull({ join: false }, nodes, delegateState);
 * ```
 * @param header the join flag (counts are derived from the arguments)
 * @param nodes every known node
 * @param userState the delegate's local state (may be empty)
 * @returns the buffer including the type byte
 */
export function encodePushPull(
  header: { join: boolean },
  nodes: readonly PushNodeState[],
  userState: Uint8Array,
): Uint8Array {
  const w = new MsgpackWriter(pushPullSize(nodes, userState));
  writePushPull(w, header, nodes, userState);
  return w.finish();
}

// The plain body of a compressed push/pull is compressed as soon as it is written: one writer
// serves every body, instead of a new ~700 KB buffer per body of 10,000 states.
const plainBodies = new MsgpackWriter(4096);

/**
 * {@link encodePushPull} compressed (memberlist's compress envelope, see compressMessage).
 *
 * @example
 * ```ts
 * const body = compressPushPull({ join: false }, nodes, new Uint8Array(0));
 * ```
 * @param header the join flag
 * @param nodes every known node
 * @param userState the delegate's local state (may be empty)
 * @returns the envelope including its type byte
 */
export function compressPushPull(
  header: { join: boolean },
  nodes: readonly PushNodeState[],
  userState: Uint8Array,
): Uint8Array {
  plainBodies.reset();
  plainBodies.reserve(pushPullSize(nodes, userState));
  writePushPull(plainBodies, header, nodes, userState);
  return compressMessage(plainBodies.written());
}

// A state is about 60 bytes plus its name and metadata: reserve once, not by doubling. (This
// quick pass over the records also makes the encoding pass faster: it fetches them into the
// CPU cache with many loads in flight, which the encoder's dependent steps cannot.)
function pushPullSize(nodes: readonly PushNodeState[], userState: Uint8Array): number {
  let size = 64 + userState.length;
  for (const n of nodes) size += 72 + n.name.length + (n.meta?.length ?? 0);
  return size;
}

function writePushPull(
  w: MsgpackWriter,
  header: { join: boolean },
  nodes: readonly PushNodeState[],
  userState: Uint8Array,
): void {
  w.verbatim(Uint8Array.of(MessageType.pushPull));
  w.verbatim(encodePushPullHeader({
    nodes: nodes.length,
    userStateLen: userState.length,
    join: header.join,
  }));
  for (const n of nodes) writePushNodeState(w, n);
  w.verbatim(userState);
}

/**
 * Reads a push/pull body (after the type byte 6).
 *
 * @example
 * ```ts
 * const { header, nodes, userState } = await readPushPull(reader);
 * ```
 * @param reader positioned after the type byte
 * @param limits node count and user state caps
 * @param unchanged alive states it accepts are left out of `nodes` (merging would ignore
 *   them; a compressed body's states are checked as they are decoded)
 * @returns the header, node states and user state
 * @throws CodecError on malformed data or exceeded limits
 */
export async function readPushPull(
  reader: StreamReader,
  limits: PushPullLimits = {},
  unchanged?: UnchangedAlive,
): Promise<{ header: PushPullHeader; nodes: PushNodeState[]; userState: Uint8Array }> {
  const header = decodePushPullHeader(await reader.readMsgpack());
  if (header.nodes > (limits.maxNodes ?? MAX_PUSH_STATE_NODES)) {
    throw new CodecError(`push/pull announces ${header.nodes} nodes, more than allowed`);
  }
  if (header.userStateLen > (limits.maxUserState ?? MAX_USER_BYTES)) {
    throw new CodecError(`push/pull user state of ${header.userStateLen} bytes is too large`);
  }
  const nodes: PushNodeState[] = [];
  const fields: (MsgpackValue | undefined)[] = [];
  // Over a stream too: a state already buffered whole is decoded (and dropped when unchanged)
  // in place; one cut short by the end of what has arrived goes to the general path.
  const fast = (buf: Uint8Array, pos: number, end: number, views: boolean) =>
    readPushNodeStateFast(buf, pos, end, nodes, unchanged, views);
  for (let i = 0; i < header.nodes; i++) {
    if (reader.decodeInPlace(fast)) continue;
    // Views, not copies, when decompressed or decrypted: the table copies what it keeps.
    if (!reader.readStructBuffered(PUSH_NODE_STATE_FIELDS, fields, true)) {
      await reader.readStruct(PUSH_NODE_STATE_FIELDS, fields, true);
    }
    nodes.push(pushNodeStateOf(fields));
  }
  const userState = await reader.readExact(header.userStateLen);
  return { header, nodes, userState };
}

/**
 * Builds a reliable user message: `[8] userMsgHeader bytes`.
 *
 * @example
 * ```ts
 * await writeStreamMessage(stream, encodeStreamUserMsg(data), opts);
 * ```
 * @param msg the user payload
 * @returns the buffer including the type byte
 */
export function encodeStreamUserMsg(msg: Uint8Array): Uint8Array {
  return concatBytes([
    new Uint8Array([MessageType.user]),
    encodeUserMsgHeader({ userMsgLen: msg.length }),
    msg,
  ]);
}

/**
 * Reads a reliable user message body (after the type byte 8).
 *
 * @example
 * ```ts
 * const data = await readUserMsg(reader);
 * ```
 * @param reader positioned after the type byte
 * @param maxBytes largest accepted message (default 20 MiB)
 * @returns the user payload
 */
export async function readUserMsg(
  reader: StreamReader,
  maxBytes: number = MAX_USER_BYTES,
): Promise<Uint8Array> {
  const { userMsgLen } = decodeUserMsgHeader(await reader.readMsgpack());
  if (userMsgLen > maxBytes) {
    throw new CodecError(`user message of ${userMsgLen} bytes is too large`);
  }
  return await reader.readExact(userMsgLen);
}
