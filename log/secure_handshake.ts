/**
 * The keyed handshake of a log connection: both sides prove they hold a key of the same
 * keyring, without the key ever crossing the wire, and derive fresh per-connection session
 * keys from it.
 *
 * ```
 * dialer   → ClientHello  MAGIC 1 len | version | nonceC (32) | dialer's name
 * acceptor → ServerHello  MAGIC 2 len | version | nonceS (32) | acceptor's name
 * dialer   → ClientProof  MAGIC 3 len | HMAC-SHA256(K, "client" | T)
 * acceptor → ServerProof  MAGIC 4 len | HMAC-SHA256(K, "server" | T)
 * T = "rcl-log-1" | environment | dialer's name | acceptor's name | nonceC | nonceS
 *     (each length-prefixed)
 * ```
 *
 * The dialer uses its primary key; the acceptor tries every key of its keyring and answers
 * with the one that matched, so a rotation (add the new key everywhere, make it primary, drop
 * the old) never needs a flag day. Session keys: HKDF-SHA256(K, salt nonceC | nonceS, info
 * "c2s"/"s2c" | SHA-256(T)), 32 bytes each, one per direction (sealed_stream.ts).
 *
 * The magic's first byte (0x52) read as a plaintext frame length would be over 1 GiB, so an
 * acceptor tells a plaintext peer from a keyed one by the first 4 bytes.
 *
 * @module
 */
import { ClusterError } from "../errors/mod.ts";
import { Buffer } from "node:buffer";
import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import type { Stream } from "../transport/mod.ts";
import { importSessionKey, PrefixedStream, SealedStream, type SealFault } from "./sealed_stream.ts";

/**
 * The keys a keyed log accepts: the memberlist keyring fits (`Keyring` has both methods).
 * Read at every handshake, so rotation applies to new connections at once.
 *
 * @example
 * ```ts
 * const keys: LogKeys = { primaryKey: () => key, keys: () => [key] };
 * ```
 */
export interface LogKeys {
  /** The key this node dials with. */
  primaryKey(): Uint8Array;
  /** Every key it accepts, primary first. */
  keys(): Uint8Array[];
}

/** Why a handshake failed. */
export type HandshakeFault = "unauthenticated" | "key" | "name" | "garbage" | "closed";

/** A failed handshake; `reason` says which counter it belongs to. */
export class HandshakeError extends ClusterError<HandshakeFault> {
  /**
   * Creates an instance.
   * @param reason the fault class: unauthenticated (plaintext peer), key (no shared key), name
   *   (not who was dialed), garbage, closed (EOF); the error's `code`
   * @param message details
   */
  constructor(reason: HandshakeFault, message: string) {
    super(reason, message);
  }
}

/** What a handshake needs to know about this side. */
export interface HandshakeContext {
  /** This node's name. */
  readonly name: string;
  /** The environment, bound into the transcript. */
  readonly environment: string;
  /** The keyring. */
  readonly keys: LogKeys;
  /** Called when a record of the sealed stream fails authentication. */
  readonly onFault: (fault: SealFault) => void;
}

/** A connection after the handshake. */
export interface Secured {
  /** The stream to speak the log protocol on (sealed, or plain when allowed). */
  readonly stream: Stream;
  /** The name the peer proved (undefined for a plaintext peer). */
  readonly peer: string | undefined;
}

/** First bytes of every handshake message. */
export const HANDSHAKE_MAGIC: Uint8Array = new Uint8Array([0x52, 0x43, 0x4c, 0xd1]);
const VERSION = 1;
const NONCE = 32;
const MAC = 32;
const MAX_BODY = 512;
const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

/** Reads exact amounts from a stream, keeping what it read past them. */
class Reader {
  #stream: Stream;
  #buf = new Uint8Array(0);

  constructor(stream: Stream) {
    this.#stream = stream;
  }

  async fill(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) {
      const chunk = await this.#stream.read();
      if (chunk === null) throw new HandshakeError("closed", "connection closed in handshake");
      const next = new Uint8Array(this.#buf.length + chunk.length);
      next.set(this.#buf);
      next.set(chunk, this.#buf.length);
      this.#buf = next;
    }
    return this.#buf;
  }

  take(n: number): Uint8Array {
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  rest(): Uint8Array {
    return this.#buf.slice();
  }
}

function message(type: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(7 + body.length);
  out.set(HANDSHAKE_MAGIC);
  out[4] = type;
  out[5] = body.length >> 8;
  out[6] = body.length & 0xff;
  out.set(body, 7);
  return out;
}

function isMagic(b: Uint8Array): boolean {
  for (let i = 0; i < HANDSHAKE_MAGIC.length; i++) if (b[i] !== HANDSHAKE_MAGIC[i]) return false;
  return true;
}

async function readMessage(r: Reader, type: number): Promise<Uint8Array> {
  const head = await r.fill(7);
  if (!isMagic(head)) throw new HandshakeError("unauthenticated", "not a keyed handshake");
  if (head[4] !== type) throw new HandshakeError("garbage", `handshake message ${head[4]}`);
  const len = (head[5] << 8) | head[6];
  if (len > MAX_BODY) throw new HandshakeError("garbage", `handshake message of ${len} bytes`);
  await r.fill(7 + len);
  return r.take(7 + len).subarray(7);
}

function hello(nonce: Uint8Array, name: string): Uint8Array {
  const n = enc.encode(name);
  if (n.length > 255) throw new RangeError("node name longer than 255 bytes");
  const out = new Uint8Array(1 + NONCE + n.length);
  out[0] = VERSION;
  out.set(nonce, 1);
  out.set(n, 1 + NONCE);
  return out;
}

function parseHello(body: Uint8Array): { nonce: Uint8Array; name: string } {
  if (body.length < 1 + NONCE + 1) throw new HandshakeError("garbage", "short hello");
  if (body[0] !== VERSION) throw new HandshakeError("garbage", `handshake version ${body[0]}`);
  let name: string;
  try {
    name = dec.decode(body.subarray(1 + NONCE));
  } catch {
    throw new HandshakeError("garbage", "name is not UTF-8");
  }
  return { nonce: body.slice(1, 1 + NONCE), name };
}

function transcript(env: string, dialer: string, acceptor: string, nc: Uint8Array, ns: Uint8Array) {
  const parts = [
    enc.encode("rcl-log-1"),
    enc.encode(env),
    enc.encode(dialer),
    enc.encode(acceptor),
  ];
  const chunks: Uint8Array[] = [];
  for (const p of parts) chunks.push(new Uint8Array([p.length >> 8, p.length & 0xff]), p);
  chunks.push(nc, ns);
  return Buffer.concat(chunks);
}

function mac(key: Uint8Array, role: "client" | "server", t: Uint8Array): Buffer {
  return createHmac("sha256", key).update(role).update(t).digest();
}

async function sessionKeys(key: Uint8Array, nc: Uint8Array, ns: Uint8Array, t: Uint8Array) {
  const salt = Buffer.concat([nc, ns]);
  const h = createHash("sha256").update(t).digest();
  const derive = (label: string) =>
    importSessionKey(
      new Uint8Array(hkdfSync("sha256", key, salt, Buffer.concat([enc.encode(label), h]), 32)),
    );
  return { c2s: await derive("c2s"), s2c: await derive("s2c") };
}

/**
 * Dialer side: proves the primary key, checks the acceptor's proof and name.
 *
 * @example
 * ```ts
 * const { stream } = await dialKeyed(tcp, { name: "a", environment: "lan", keys, onFault }, "b");
 * ```
 * @param stream the fresh connection
 * @param ctx this side
 * @param expected the name of the node dialed
 * @throws {HandshakeError} when the acceptor does not prove the key or is someone else
 */
export async function dialKeyed(
  stream: Stream,
  ctx: HandshakeContext,
  expected: string,
): Promise<Secured> {
  const key = ctx.keys.primaryKey();
  const r = new Reader(stream);
  const nc = randomBytes(NONCE);
  void stream.write(message(1, hello(nc, ctx.name))).catch(() => {});
  const sh = parseHello(await readMessage(r, 2));
  if (sh.name !== expected) {
    throw new HandshakeError("name", `dialed ${expected}, reached ${sh.name}`);
  }
  const t = transcript(ctx.environment, ctx.name, sh.name, nc, sh.nonce);
  void stream.write(message(3, mac(key, "client", t))).catch(() => {});
  const proof = await readMessage(r, 4);
  if (proof.length !== MAC || !timingSafeEqual(proof, mac(key, "server", t))) {
    throw new HandshakeError("key", `${expected} does not hold our key`);
  }
  const k = await sessionKeys(key, nc, sh.nonce, t);
  return {
    stream: new SealedStream(stream, k.c2s, k.s2c, r.rest(), ctx.onFault),
    peer: sh.name,
  };
}

/**
 * Acceptor side: finds the keyring key the dialer proved, answers with it. With
 * `allowPlaintext` (the migration switch) a peer that starts with a plaintext frame is let
 * through unauthenticated.
 *
 * @example
 * ```ts
 * const { stream, peer } = await acceptKeyed(tcp, { name: "b", environment: "lan", keys, onFault }, false);
 * ```
 * @param stream the accepted connection
 * @param ctx this side
 * @param allowPlaintext accept peers that do not speak the handshake
 * @throws {HandshakeError} for plaintext (unless allowed), an unknown key, or garbage
 */
export async function acceptKeyed(
  stream: Stream,
  ctx: HandshakeContext,
  allowPlaintext: boolean,
): Promise<Secured> {
  const r = new Reader(stream);
  const first = await r.fill(HANDSHAKE_MAGIC.length);
  if (!isMagic(first)) {
    if (!allowPlaintext) throw new HandshakeError("unauthenticated", "plaintext peer");
    return { stream: new PrefixedStream(stream, r.rest()), peer: undefined };
  }
  const ch = parseHello(await readMessage(r, 1));
  const ns = randomBytes(NONCE);
  void stream.write(message(2, hello(ns, ctx.name))).catch(() => {});
  const proof = await readMessage(r, 3);
  const t = transcript(ctx.environment, ch.name, ctx.name, ch.nonce, ns);
  const key = proof.length === MAC
    ? ctx.keys.keys().find((k) => timingSafeEqual(proof, mac(k, "client", t)))
    : undefined;
  if (key === undefined) throw new HandshakeError("key", `${ch.name} holds none of our keys`);
  const k = await sessionKeys(key, ch.nonce, ns, t);
  await stream.write(message(4, mac(key, "server", t)));
  return {
    stream: new SealedStream(stream, k.s2c, k.c2s, r.rest(), ctx.onFault),
    peer: ch.name,
  };
}
