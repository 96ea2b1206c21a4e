import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CodecError } from "../memberlist/wire/errors.ts";
import { encryptedLength, Keyring, KeyringError } from "../memberlist/wire/keyring.ts";
import { loadEncryptedLengths, loadVectors } from "../testing/memberlist_vectors.ts";

const vectors = loadVectors();
const te = new TextEncoder();
const none = new Uint8Array(0);
const key0to15 = Uint8Array.from({ length: 16 }, (_, i) => i);
const keyOf = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);
const isCodecError = (e: unknown): boolean => e instanceof CodecError;

describe("keyring against Go's vectors", () => {
  it("decrypts the v1 and v0 vectors made with key 00..0f", async () => {
    const ring = await Keyring.create([key0to15]);
    for (const name of ["enc_v1_key0to15_plain_hello_noaad", "enc_v0_key0to15_plain_hello_noaad"]) {
      const v = vectors.get(name);
      assert.ok(v, name);
      assert.equal(new TextDecoder().decode(await ring.decrypt(v, none)), "hello", name);
    }
  });
  it("vector sizes match encryptedLength, and so does our output", async () => {
    assert.equal(vectors.get("enc_v1_key0to15_plain_hello_noaad")?.length, encryptedLength(1, 5));
    assert.equal(vectors.get("enc_v0_key0to15_plain_hello_noaad")?.length, encryptedLength(0, 5));
    const lengths = loadEncryptedLengths();
    assert.equal(encryptedLength(0, 5), lengths.get("v0(5)"));
    assert.equal(encryptedLength(1, 5), lengths.get("v1(5)"));
    assert.equal(encryptedLength(0, 16), lengths.get("v0(16)"));
    const ring = await Keyring.create([key0to15]);
    for (const n of [0, 1, 15, 16, 17, 100]) {
      for (const v of [0, 1] as const) {
        assert.equal(
          (await ring.encrypt(new Uint8Array(n), none, v)).length,
          encryptedLength(v, n),
        );
      }
    }
  });
  it("refuses a vector with the wrong key, a changed byte, or AAD it was not made with", async () => {
    const v = vectors.get("enc_v1_key0to15_plain_hello_noaad");
    assert.ok(v);
    const other = await Keyring.create([keyOf(16, 7)]);
    await assert.rejects(other.decrypt(v, none), isCodecError);
    const ring = await Keyring.create([key0to15]);
    await assert.rejects(ring.decrypt(v, te.encode("label")), isCodecError);
    for (let i = 1; i < v.length; i++) {
      const bad = v.slice();
      bad[i] ^= 0x01;
      await assert.rejects(ring.decrypt(bad, none), isCodecError);
    }
  });
});

describe("keyring round trips", () => {
  for (const size of [16, 24, 32]) {
    it(`AES-${size * 8}: v0 and v1, with and without AAD`, async () => {
      const ring = await Keyring.create([keyOf(size, size)]);
      for (
        const plain of [none, te.encode("x"), new Uint8Array(16), new Uint8Array(1000).fill(3)]
      ) {
        for (const version of [0, 1] as const) {
          for (const aad of [none, te.encode("prod")]) {
            const sealed = await ring.encrypt(plain, aad, version);
            assert.equal(sealed[0], version);
            assert.deepEqual(await ring.decrypt(sealed, aad), plain);
          }
        }
      }
    });
  }
  it("uses a fresh nonce each time", async () => {
    const ring = await Keyring.create([key0to15]);
    const a = await ring.encrypt(te.encode("same"), none, 1);
    const b = await ring.encrypt(te.encode("same"), none, 1);
    assert.notDeepEqual(a.subarray(1, 13), b.subarray(1, 13));
  });
  it("rejects bad versions and short payloads", async () => {
    const ring = await Keyring.create([key0to15]);
    const sealed = await ring.encrypt(te.encode("hello"), none, 1);
    const v2 = sealed.slice();
    v2[0] = 2;
    await assert.rejects(ring.decrypt(v2, none), isCodecError);
    await assert.rejects(ring.decrypt(none, none), isCodecError);
    await assert.rejects(ring.decrypt(sealed.subarray(0, 28), none), isCodecError);
    const v0 = await ring.encrypt(te.encode("hello"), none, 0);
    await assert.rejects(ring.decrypt(v0.subarray(0, 44), none), isCodecError);
  });
  it("rejects invalid key sizes", async () => {
    await assert.rejects(Keyring.create([new Uint8Array(15)]), KeyringError);
    await assert.rejects(Keyring.create([]), KeyringError);
    const ring = await Keyring.create([key0to15]);
    await assert.rejects(ring.addKey(new Uint8Array(33)), KeyringError);
  });
});

describe("key rotation", () => {
  it("install, use, remove; the primary cannot be removed", async () => {
    const oldKey = keyOf(16, 1);
    const newKey = keyOf(32, 2);
    const ring = await Keyring.create([oldKey, oldKey]);
    assert.equal(ring.keys().length, 1, "duplicates are ignored");
    const sealedOld = await ring.encrypt(te.encode("old"), none, 1);

    await ring.addKey(newKey);
    await ring.addKey(newKey);
    assert.deepEqual(ring.keys(), [oldKey, newKey]);
    assert.deepEqual(ring.primaryKey(), oldKey);

    ring.useKey(newKey);
    assert.deepEqual(ring.primaryKey(), newKey);
    assert.deepEqual(ring.keys(), [newKey, oldKey]);
    const sealedNew = await ring.encrypt(te.encode("new"), none, 1);
    // Secondary keys still decrypt during the rotation.
    assert.equal(new TextDecoder().decode(await ring.decrypt(sealedOld, none)), "old");

    assert.throws(() => ring.removeKey(newKey), KeyringError);
    ring.removeKey(oldKey);
    ring.removeKey(keyOf(24, 9)); // unknown: nothing happens
    assert.deepEqual(ring.keys(), [newKey]);
    await assert.rejects(ring.decrypt(sealedOld, none), isCodecError);
    assert.equal(new TextDecoder().decode(await ring.decrypt(sealedNew, none)), "new");

    assert.throws(() => ring.useKey(oldKey), KeyringError);
    // A node that only has the old key cannot read the new traffic.
    const oldOnly = await Keyring.create([oldKey]);
    await assert.rejects(oldOnly.decrypt(sealedNew, none), isCodecError);
  });
  it("returns copies, so callers cannot change installed keys", async () => {
    const ring = await Keyring.create([key0to15]);
    ring.keys()[0].fill(0);
    ring.primaryKey().fill(0);
    assert.deepEqual(ring.primaryKey(), key0to15);
  });
});
