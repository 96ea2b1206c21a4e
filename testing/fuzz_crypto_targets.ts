/**
 * Fuzz targets of the encryption envelope: AES-GCM framing alone (Keyring.decrypt) and the
 * encrypted packet pipeline (openPacket). Valid inputs come from pools sealed once before
 * the run (WebCrypto is async, arbitraries are not). Besides "only CodecError escapes",
 * these check authentication: a changed input is never accepted.
 *
 * @module
 */
import fc from "fast-check";
import { CodecError } from "../memberlist/wire/errors.ts";
import { type EncryptionVersion, Keyring } from "../memberlist/wire/keyring.ts";
import { openPacket, type PacketSecurity, sealPacket } from "../memberlist/wire/packet.ts";
import { applyMutation, compoundArb, mutation } from "./fuzz_arbitraries.ts";
import {
  check,
  defineTarget,
  type FuzzTarget,
  onlyAsync,
  sameBytes,
  sealedPrefix,
} from "./fuzz_property.ts";

/** Two keys: decryption must try the secondary too. */
export const FUZZ_KEYS: readonly Uint8Array[] = [
  new Uint8Array(16).map((_, i) => i + 1),
  new Uint8Array(32).map((_, i) => 200 - i),
];
const POOL_SEED = 20261124;
const POOL_SIZE = 48;

/** A keyring holding both fuzz keys, primary first, and one per key for sealing. */
export async function fuzzRings(): Promise<{ both: Keyring; single: Keyring[] }> {
  return {
    both: await Keyring.create([...FUZZ_KEYS]),
    single: await Promise.all(FUZZ_KEYS.map((k) => Keyring.create([k]))),
  };
}

interface Sealed {
  sealed: Uint8Array;
  aad: Uint8Array;
  plain: Uint8Array;
}

/** Mutated pool entries (with the index of their origin) and forgeries from random bytes. */
function poolInput(pool: Uint8Array[]): fc.Arbitrary<{ i: number; bytes: Uint8Array }> {
  const entries = fc.constantFrom(...pool);
  return fc.oneof(
    {
      weight: 8,
      arbitrary: fc
        .tuple(fc.nat(pool.length - 1), fc.array(mutation(entries), { maxLength: 3 }))
        .map(([i, ms]) => ({ i, bytes: ms.reduce(applyMutation, pool[i]) })),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.nat(pool.length - 1), fc.uint8Array({ maxLength: 120 }))
        .map(([i, bytes]) => ({ i, bytes })),
    },
  );
}

async function keyringPool(): Promise<Sealed[]> {
  const { single } = await fuzzRings();
  const specs = fc.sample(
    fc.record({
      plain: fc.uint8Array({ maxLength: 80 }),
      aad: fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ maxLength: 20 })),
      version: fc.constantFrom<EncryptionVersion>(0, 1),
      key: fc.nat(single.length - 1),
    }),
    { numRuns: POOL_SIZE, seed: POOL_SEED },
  );
  return await Promise.all(specs.map(async (s) => ({
    sealed: await single[s.key].encrypt(s.plain, s.aad, s.version),
    aad: s.aad,
    plain: s.plain,
  })));
}

function keyringTarget(): FuzzTarget {
  let ring: Keyring;
  let pool: Sealed[];
  return defineTarget({
    name: "memberlist/encryption-envelope",
    weight: 4,
    testRuns: 300,
    async: true,
    arb: async () => {
      ring = (await fuzzRings()).both;
      pool = await keyringPool();
      return poolInput(pool.map((p) => p.sealed));
    },
    check: async ({ i, bytes }) => {
      const p = pool[i];
      const plain = await onlyAsync(CodecError, () => ring.decrypt(bytes, p.aad));
      const pristine = sameBytes(bytes, p.sealed);
      if (pristine) check(plain !== undefined, "an untouched envelope opens");
      if (plain !== undefined) {
        // A splice may rebuild another pool entry sealed under the same AAD: that one is
        // authentic too. Anything else would be a forgery.
        const origin = pool.find((q) =>
          sameBytes(q.aad, p.aad) && q.sealed.length === bytes.length &&
          sealedPrefix(bytes, q.sealed, 0)
        );
        check(origin !== undefined, "a changed nonce, ciphertext or tag is never accepted");
        if (origin !== undefined && bytes[0] === origin.sealed[0]) {
          check(sameBytes(plain, origin.plain), "the plaintext is the one sealed");
        }
      }
    },
  });
}

interface SealedPacket {
  bytes: Uint8Array;
  label: string;
}

async function packetPool(): Promise<SealedPacket[]> {
  const { single } = await fuzzRings();
  const specs = fc.sample(
    fc.record({
      payload: compoundArb,
      label: fc.constantFrom("", "lbl"),
      version: fc.constantFrom<EncryptionVersion>(0, 1),
      key: fc.nat(single.length - 1),
      compress: fc.boolean(),
      crc: fc.boolean(),
    }),
    { numRuns: POOL_SIZE, seed: POOL_SEED + 1 },
  );
  return await Promise.all(specs.map(async (s) => ({
    bytes: await sealPacket(s.payload, {
      keyring: single[s.key],
      label: s.label,
      compress: s.compress,
      crc: s.crc,
      verifyIncoming: true,
      verifyOutgoing: true,
      encryptionVersion: s.version,
    }),
    label: s.label,
  })));
}

/** Where the encryption version byte sits: after the label header, if any. */
function versionAt(label: string): number {
  return label === "" ? 0 : 2 + new TextEncoder().encode(label).length;
}

function encryptedPacketTarget(verifyIncoming: boolean): FuzzTarget {
  let ring: Keyring;
  let pool: SealedPacket[];
  return defineTarget({
    name: `memberlist/packet (encrypted, verifyIncoming=${verifyIncoming})`,
    weight: verifyIncoming ? 4 : 2,
    testRuns: verifyIncoming ? 300 : 150,
    async: true,
    arb: async () => {
      ring = (await fuzzRings()).both;
      pool = await packetPool();
      return poolInput(pool.map((p) => p.bytes));
    },
    check: async ({ i, bytes }) => {
      const sec: PacketSecurity = {
        keyring: ring,
        label: pool[i].label,
        verifyIncoming,
        verifyOutgoing: true,
        encryptionVersion: 1,
      };
      const r = await onlyAsync(
        CodecError,
        () => openPacket(bytes, sec, { maxDecompressedBytes: 1 << 20 }),
      );
      const pristine = sameBytes(bytes, pool[i].bytes);
      if (pristine) check(r !== undefined && r.messages.length > 0, "an untouched packet opens");
      // Accepted with verification on: it must be one of the packets we sealed.
      if (r !== undefined && verifyIncoming) {
        check(
          pool.some((p) =>
            p.bytes.length === bytes.length && sealedPrefix(bytes, p.bytes, versionAt(p.label))
          ),
          "a changed packet is never accepted",
        );
      }
    },
  });
}

/** The encryption targets. */
export function encryptedTargets(): FuzzTarget[] {
  return [keyringTarget(), encryptedPacketTarget(true), encryptedPacketTarget(false)];
}
