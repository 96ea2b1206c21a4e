/**
 * The memberlist wire format, byte-compatible with hashicorp/memberlist: msgpack message
 * bodies, compound and CRC packets, labels, AES-GCM encryption with a keyring, LZW
 * compression, and the TCP stream messages of push/pull. Pure codec: no sockets, no timers,
 * no protocol state (that is the engine in the folder above). docs/PROTOCOL.md describes the
 * format.
 *
 * ```ts
 * import { encodeMessage, MessageType } from "./mod.ts";
 * const bytes = encodeMessage({ type: "nack", body: { seqNo: 1 } }); // 0b 81 a5"SeqNo" 01
bytes[0] === MessageType.nack; // true: the type byte, then the msgpack body
 * ```
 *
 * @module
 */
export { encodeCompound } from "./compound.ts";
export { CodecError } from "./errors.ts";
export { bytesToIp, ipToBytes } from "./ip.ts";
export { type EncryptionVersion, Keyring, KeyringError } from "./keyring.ts";
export { labelBytes } from "./label.ts";
export {
  type Alive,
  type Dead,
  decodeMessageBody,
  encodeMessage,
  type IndirectPing,
  type Message,
  MessageType,
  type Ping,
  type Suspect,
} from "./messages.ts";
export { decodeText } from "./msgpack.ts";
export {
  isPlain,
  type OpenedPacket,
  openPacket,
  openPlain,
  type PacketSecurity,
  sealPacket,
  sealPlain,
} from "./packet.ts";
export type { PushNodeState, UnchangedAlive } from "./push_state.ts";
export { sharedBytes } from "./shared_bytes.ts";
export {
  compressPushPull,
  encodePushPull,
  encodeStreamUserMsg,
  readPushPull,
  readStreamMessage,
  readUserMsg,
  writeStreamMessage,
} from "./stream.ts";
