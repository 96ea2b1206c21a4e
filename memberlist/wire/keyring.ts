/**
 * memberlist's symmetric encryption: AES-GCM with 16/24/32-byte keys, a 12-byte random nonce
 * and a 16-byte tag, framed as `[version][nonce][ciphertext+tag]`. Version 0 PKCS#7-pads the
 * plaintext to 16 bytes (protocol version 1 peers); version 1 does not.
 *
 * Uses WebCrypto (`globalThis.crypto.subtle`), present in Deno and Node 20.
 *
 * @module
 */
import { ClusterError } from "../../errors/mod.ts";
import { CodecError } from "./errors.ts";

const VERSION_SIZE = 1;
const NONCE_SIZE = 12;
const TAG_SIZE = 16;
const BLOCK_SIZE = 16;

/** Encryption versions a receiver accepts. */
export type EncryptionVersion = 0 | 1;

/** A keyring operation that is not allowed (bad key size, unknown key, removing the primary). */
export class KeyringError extends ClusterError<"keyring"> {
  /**
   * Creates a keyring error.
   * @param message what is wrong
   */
  constructor(message: string) {
    super("keyring", message);
  }
}

/**
 * Size of an encrypted payload of `n` plaintext bytes.
 *
 * @example
 * ```ts
 * encryptedLength(1, 5); // 34
 * encryptedLength(0, 5); // 45
 * ```
 * @param version 0 (padded) or 1
 * @param n plaintext length
 * @returns the framed ciphertext length
 */
export function encryptedLength(version: EncryptionVersion, n: number): number {
  const base = VERSION_SIZE + NONCE_SIZE + n + TAG_SIZE;
  return version === 0 ? base + (BLOCK_SIZE - (n % BLOCK_SIZE)) : base;
}

/** Copies into a fresh ArrayBuffer-backed view, as WebCrypto's BufferSource wants. */
function own(b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(b.length);
  out.set(b);
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function checkKeySize(key: Uint8Array): void {
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) {
    throw new KeyringError(`key size must be 16, 24 or 32 bytes, got ${key.length}`);
  }
}

interface Entry {
  raw: Uint8Array;
  key: CryptoKey;
}

async function importKey(raw: Uint8Array): Promise<Entry> {
  checkKeySize(raw);
  const copy = own(raw);
  const key = await globalThis.crypto.subtle.importKey("raw", copy, "AES-GCM", false, [
    "encrypt",
    "decrypt",
  ]);
  return { raw: copy, key };
}

/**
 * The installed keys; `keys()[0]` is the primary, used for all encryption. Decryption tries
 * every key, primary first.
 *
 * @example
 * ```ts
 * const ring = await Keyring.create([key]);
 * const sealed = await ring.encrypt(plain, new Uint8Array(0), 1);
 * const back = await ring.decrypt(sealed, new Uint8Array(0));
 * ```
 */
export class Keyring {
  #entries: Entry[];

  private constructor(entries: Entry[]) {
    this.#entries = entries;
  }

  /**
   * Builds a keyring; the first key is the primary, duplicates are ignored.
   *
   * @example
   * ```ts
   * const ring = await Keyring.create([newKey, oldKey]);
   * ```
   * @param keys at least one key of 16, 24 or 32 bytes
   * @returns the keyring
   * @throws KeyringError for no keys or a bad key size
   */
  static async create(keys: Uint8Array[]): Promise<Keyring> {
    if (keys.length === 0) throw new KeyringError("a keyring needs at least one key");
    const ring = new Keyring([]);
    for (const k of keys) await ring.addKey(k);
    return ring;
  }

  /**
   * Installs a key as a secondary (or primary, in an empty ring); an installed key is ignored.
   *
   * @example
   * ```ts
   * await ring.addKey(newKey);
   * ```
   * @param key 16, 24 or 32 bytes
   */
  async addKey(key: Uint8Array): Promise<void> {
    checkKeySize(key);
    if (this.#find(key) >= 0) return;
    const entry = await importKey(key);
    // Re-check: another addKey of the same key may have finished while we awaited.
    if (this.#find(key) < 0) this.#entries.push(entry);
  }

  /**
   * Makes an installed key the primary.
   *
   * @example
   * ```ts
   * ring.useKey(newKey);
   * ```
   * @param key an installed key
   * @throws KeyringError when the key is not installed
   */
  useKey(key: Uint8Array): void {
    const i = this.#find(key);
    if (i < 0) throw new KeyringError("the requested key is not in the keyring");
    const [entry] = this.#entries.splice(i, 1);
    this.#entries.unshift(entry);
  }

  /**
   * Removes a secondary key; removing an unknown key does nothing.
   *
   * @example
   * ```ts
   * ring.removeKey(oldKey);
   * ```
   * @param key the key to remove
   * @throws KeyringError when the key is the primary
   */
  removeKey(key: Uint8Array): void {
    const i = this.#find(key);
    if (i === 0) throw new KeyringError("removing the primary key is not allowed");
    if (i > 0) this.#entries.splice(i, 1);
  }

  /**
   * The installed keys (copies), primary first.
   *
   * @example
   * ```ts
   * const [primary, ...others] = ring.keys();
   * ```
   * @returns the keys
   */
  keys(): Uint8Array[] {
    return this.#entries.map((e) => e.raw.slice());
  }

  /**
   * The key used for encryption (a copy).
   *
   * @example
   * ```ts
   * const k = ring.primaryKey();
   * ```
   * @returns the primary key
   */
  primaryKey(): Uint8Array {
    return this.#entries[0].raw.slice();
  }

  /**
   * Encrypts with the primary key: `[version][12-byte random nonce][ciphertext+16-byte tag]`.
   *
   * @example
   * ```ts
   * const sealed = await ring.encrypt(packet, new TextEncoder().encode(label), 1);
   * ```
   * @param plain the plaintext
   * @param aad authenticated data (packets: the label; streams: header + label)
   * @param version 0 (PKCS#7 padded, protocol 1 peers) or 1
   * @returns the framed ciphertext
   */
  async encrypt(
    plain: Uint8Array,
    aad: Uint8Array,
    version: EncryptionVersion,
  ): Promise<Uint8Array> {
    let input = own(plain);
    if (version === 0) {
      const pad = BLOCK_SIZE - (plain.length % BLOCK_SIZE);
      input = new Uint8Array(plain.length + pad).fill(pad);
      input.set(plain);
    }
    const nonce = globalThis.crypto.getRandomValues(new Uint8Array(NONCE_SIZE));
    const sealed = await globalThis.crypto.subtle.encrypt(
      { name: "AES-GCM", iv: nonce, additionalData: own(aad), tagLength: TAG_SIZE * 8 },
      this.#entries[0].key,
      input,
    );
    const out = new Uint8Array(VERSION_SIZE + NONCE_SIZE + sealed.byteLength);
    out[0] = version;
    out.set(nonce, VERSION_SIZE);
    out.set(new Uint8Array(sealed), VERSION_SIZE + NONCE_SIZE);
    return out;
  }

  /**
   * Decrypts a framed ciphertext, trying every installed key, primary first.
   *
   * @example
   * ```ts
   * const plain = await ring.decrypt(sealed, new Uint8Array(0));
   * ```
   * @param buf `[version][nonce][ciphertext+tag]`
   * @param aad the authenticated data the sender used
   * @returns the plaintext (padding removed for version 0)
   * @throws CodecError for an unknown version, a short buffer, or when no key opens it
   */
  async decrypt(buf: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    if (buf.length === 0) throw new CodecError("cannot decrypt an empty payload", true, 1);
    const version = buf[0];
    if (version > 1) throw new CodecError(`unsupported encryption version ${version}`);
    const min = encryptedLength(version as EncryptionVersion, 0);
    if (buf.length < min) throw new CodecError("payload is too small to decrypt", true, min);
    const nonce = own(buf.subarray(VERSION_SIZE, VERSION_SIZE + NONCE_SIZE));
    const sealed = own(buf.subarray(VERSION_SIZE + NONCE_SIZE));
    const data = own(aad);
    for (const entry of this.#entries.slice()) {
      let plain: Uint8Array;
      try {
        plain = new Uint8Array(
          await globalThis.crypto.subtle.decrypt(
            { name: "AES-GCM", iv: nonce, additionalData: data, tagLength: TAG_SIZE * 8 },
            entry.key,
            sealed,
          ),
        );
      } catch {
        continue;
      }
      if (version === 1) return plain;
      const pad = plain.length > 0 ? plain[plain.length - 1] : 0;
      if (pad < 1 || pad > BLOCK_SIZE || pad > plain.length) {
        throw new CodecError("invalid padding in a version 0 payload");
      }
      return plain.subarray(0, plain.length - pad);
    }
    throw new CodecError("no installed key could decrypt the message");
  }

  #find(key: Uint8Array): number {
    return this.#entries.findIndex((e) => sameBytes(e.raw, key));
  }
}
