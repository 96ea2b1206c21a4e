/**
 * The UDP packet pipeline of memberlist (docs/PROTOCOL.md §2.5).
 *
 * Send: payload -> compress (only if smaller) -> CRC -> encrypt -> label header.
 * Receive: label check -> decrypt -> CRC check -> expand compound (7) and compress (9)
 * envelopes recursively into plain messages.
 *
 * Everything but the encryption step is synchronous, and {@link sealPlain} / {@link openPlain}
 * are the pipeline without it: a packet handled in the same turn it arrives keeps
 * virtual-clock simulations exact (no promise continuation drifting past later timers) and
 * saves a promise per packet. Only encrypted traffic takes the async path.
 *
 * @module
 */
import { decodeCompound } from "./compound.ts";
import { addCrc, stripCrc } from "./crc.ts";
import { CodecError } from "./errors.ts";
import type { EncryptionVersion, Keyring } from "./keyring.ts";
import { labelBytes, labelHeader, removeLabelHeader } from "./label.ts";
import { compressMessage, decompressMessage, MAX_DECOMPRESSED_BYTES } from "./lzw.ts";
import { decodeMessage, type Message, MessageType } from "./messages.ts";

/** Security settings shared by the packet and stream pipelines. */
export interface PacketSecurity {
  /** Encryption is enabled when a keyring is set. */
  keyring?: Keyring;
  /** Cluster label; "" or absent = none. */
  label?: string;
  /** Drop what cannot be decrypted (else accept it as plaintext, for rolling upgrades). */
  verifyIncoming: boolean;
  /** Encrypt what we send (when a keyring is set). */
  verifyOutgoing: boolean;
  /** 0 when speaking protocol version 1, else 1. */
  encryptionVersion: EncryptionVersion;
}

/** Options of {@link sealPacket}. */
export interface SealOptions extends PacketSecurity {
  /** Try LZW; used only when it makes the packet smaller. */
  compress: boolean;
  /** Add the CRC envelope (peer speaks protocol >= 5). */
  crc: boolean;
}

/** Bounds on what one packet may expand into. */
export interface OpenLimits {
  /** Total decompressed bytes over all compress envelopes of the packet (default 40 MiB). */
  maxDecompressedBytes?: number;
  /** Envelope nesting (compound/compress inside each other) allowed (default 4). */
  maxDepth?: number;
}

/**
 * What a packet contained. Partial failures inside a compound are reported, not thrown:
 * `malformed` counts parts that did not decode, `truncated` parts the packet was too short for.
 */
export interface OpenedPacket {
  /** The good messages, in packet order. */
  messages: Message[];
  /** Compound parts (at any depth) that were malformed and skipped. */
  malformed: number;
  /** Compound parts (at any depth) cut off by the end of the buffer. */
  truncated: number;
}

/** True when {@link sealPlain} / {@link openPlain} can handle this configuration. */
export function isPlain(sec: PacketSecurity): boolean {
  return sec.keyring === undefined;
}

// compress (only if smaller), then CRC: the steps before encryption.
function compressAndCrc(payload: Uint8Array, opts: SealOptions): Uint8Array {
  let buf = payload;
  if (opts.compress) {
    const c = compressMessage(buf);
    if (c.length < buf.length) buf = c;
  }
  return opts.crc ? addCrc(buf) : buf;
}

function withLabel(buf: Uint8Array, label: string | undefined): Uint8Array {
  const header = labelHeader(label);
  if (header.length === 0) return buf;
  const out = new Uint8Array(header.length + buf.length);
  out.set(header);
  out.set(buf, header.length);
  return out;
}

/**
 * Applies compression, CRC, encryption and the label, in Go's order.
 *
 * @example
 * ```ts
 * const bytes = await sealPacket(encodeMessage(msg), {
 *   compress: true, crc: false, verifyIncoming: true, verifyOutgoing: true, encryptionVersion: 1,
 * });
 * transport.sendPacket(to, bytes);
 * ```
 * @param payload one encoded message or compound
 * @param opts what to apply
 * @returns the datagram
 */
export async function sealPacket(payload: Uint8Array, opts: SealOptions): Promise<Uint8Array> {
  let buf = compressAndCrc(payload, opts);
  if (opts.keyring && opts.verifyOutgoing) {
    buf = await opts.keyring.encrypt(buf, labelBytes(opts.label), opts.encryptionVersion);
  }
  return withLabel(buf, opts.label);
}

/**
 * {@link sealPacket} without encryption, synchronous.
 *
 * @example
 * ```ts
 * const bytes = sealPlain(payload, { compress: true, crc: false, verifyIncoming: true, verifyOutgoing: true, encryptionVersion: 1 });
 * ```
 */
export function sealPlain(payload: Uint8Array, opts: SealOptions): Uint8Array {
  return withLabel(compressAndCrc(payload, opts), opts.label);
}

interface Expansion {
  out: OpenedPacket;
  budget: number;
  maxDepth: number;
}

function expand(buf: Uint8Array, depth: number, x: Expansion): void {
  if (buf.length === 0) throw new CodecError("empty message");
  if (buf[0] === MessageType.compound || buf[0] === MessageType.compress) {
    if (depth >= x.maxDepth) throw new CodecError("envelopes nested too deeply");
  }
  if (buf[0] === MessageType.compound) {
    const { parts, truncated } = decodeCompound(buf.subarray(1));
    x.out.truncated += truncated;
    for (const part of parts) {
      try {
        expand(part, depth + 1, x);
      } catch (e) {
        if (!(e instanceof CodecError)) throw e;
        x.out.malformed++;
      }
    }
  } else if (buf[0] === MessageType.compress) {
    const plain = decompressMessage(buf.subarray(1), x.budget);
    x.budget -= plain.length;
    expand(plain, depth + 1, x);
  } else {
    x.out.messages.push(decodeMessage(buf));
  }
}

function checkLabel(bytes: Uint8Array, sec: PacketSecurity): Uint8Array {
  const { label, rest } = removeLabelHeader(bytes);
  if (label !== (sec.label ?? "")) throw new CodecError(`unexpected packet label "${label}"`);
  return rest;
}

// The steps after decryption: CRC check, then the envelopes.
function expandAll(buf: Uint8Array, limits: OpenLimits): OpenedPacket {
  if (buf.length >= 5 && buf[0] === MessageType.crc) buf = stripCrc(buf);
  const out: OpenedPacket = { messages: [], malformed: 0, truncated: 0 };
  expand(buf, 0, {
    out,
    budget: limits.maxDecompressedBytes ?? MAX_DECOMPRESSED_BYTES,
    maxDepth: limits.maxDepth ?? 4,
  });
  return out;
}

/**
 * Opens a datagram: checks the label, decrypts, verifies the CRC and expands envelopes.
 *
 * @example
 * ```ts
 * try {
 *   const { messages, malformed } = await openPacket(bytes, security);
 *   for (const m of messages) handle(m);
 * } catch (e) {
 *   if (e instanceof CodecError) dropped++;
 * }
 * ```
 * @param bytes the datagram
 * @param sec label and keys
 * @param limits expansion bounds
 * @returns the messages and counts of bad compound parts
 * @throws CodecError when the packet as a whole is unusable (wrong label, undecryptable,
 *   CRC mismatch, malformed single message or compound header)
 */
export async function openPacket(
  bytes: Uint8Array,
  sec: PacketSecurity,
  limits: OpenLimits = {},
): Promise<OpenedPacket> {
  let buf = checkLabel(bytes, sec);
  if (sec.keyring) {
    try {
      buf = await sec.keyring.decrypt(buf, labelBytes(sec.label));
    } catch (e) {
      if (!(e instanceof CodecError) || sec.verifyIncoming) throw e;
      // Not verifying incoming traffic: treat what does not decrypt as plaintext.
    }
  }
  return expandAll(buf, limits);
}

/**
 * {@link openPacket} without decryption, synchronous.
 *
 * @example
 * ```ts
 * const { messages } = openPlain(bytes, { label: "", verifyIncoming: true, verifyOutgoing: true, encryptionVersion: 1 });
 * ```
 * @throws CodecError for a wrong label, a bad CRC or a malformed message
 */
export function openPlain(
  bytes: Uint8Array,
  sec: PacketSecurity,
  limits: OpenLimits = {},
): OpenedPacket {
  return expandAll(checkLabel(bytes, sec), limits);
}
