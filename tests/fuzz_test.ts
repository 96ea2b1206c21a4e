/**
 * Fuzzing every decoder with fast-check: random bytes and structure-aware mutations of
 * valid encodings (bit flips, truncations, length-field lies, splices) of memberlist
 * packets, streams, LZW, the encryption envelope, log frames and payloads, segment records,
 * and FileLogStore recovery from damaged files. Then a live node under a fuzzed flood.
 *
 * The same properties run a million cases in bench/fuzz.ts; here a few thousand in all.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { applyMutation, chunked, type Mutation } from "../testing/fuzz_arbitraries.ts";
import { floodNode, installGuards } from "../testing/fuzz_flood.ts";
import { fuzzTargets } from "../testing/fuzz_targets.ts";
import { check, only } from "../testing/fuzz_property.ts";
import { CodecError } from "../memberlist/wire/errors.ts";

const root = mkdtempSync(join(tmpdir(), "fuzz-test-"));
after(() => rmSync(root, { recursive: true, force: true }));

describe("mutation machinery", () => {
  const buf = new Uint8Array([1, 2, 3, 4, 5, 6]);
  it("applies each kind of edit as described, never in place", () => {
    const cases: [Mutation, number[]][] = [
      [{ op: "flip", pos: 7, bit: 0 }, [1, 3, 3, 4, 5, 6]],
      [{ op: "set", pos: 0, value: 9 }, [9, 2, 3, 4, 5, 6]],
      [{ op: "truncate", pos: 3 }, [1, 2, 3]],
      [{ op: "lie", pos: 1, width: 2, value: 0xabcd }, [1, 0xab, 0xcd, 4, 5, 6]],
      [{ op: "lie", pos: 4, width: 4, value: 0x01020304 }, [1, 2, 3, 4, 1, 2]],
      [{ op: "insert", pos: 2, bytes: new Uint8Array([8, 8]) }, [1, 2, 8, 8, 3, 4, 5, 6]],
      [{ op: "delete", pos: 1, count: 2 }, [1, 4, 5, 6]],
      [{ op: "dup", pos: 4, count: 9 }, [1, 2, 3, 4, 5, 6, 5, 6]],
      [{ op: "splice", pos: 2, other: new Uint8Array([7, 8, 9]), from: 1 }, [1, 2, 8, 9]],
    ];
    for (const [m, want] of cases) {
      assert.deepEqual([...applyMutation(buf, m)], want, m.op);
    }
    assert.deepEqual([...buf], [1, 2, 3, 4, 5, 6]);
    assert.deepEqual([...applyMutation(new Uint8Array(0), { op: "flip", pos: 3, bit: 1 })], []);
  });
  it("chunked() splits at the cut points and loses nothing", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 50 }), fc.array(fc.nat()), (b, cuts) => {
        const parts = chunked(b, cuts);
        assert.ok(parts.every((p) => p.length > 0));
        assert.deepEqual(parts.flatMap((p) => [...p]), [...b]);
      }),
      { numRuns: 200 },
    );
  });
  it("only() lets the allowed error through as undefined and turns others into failures", () => {
    assert.equal(
      only(CodecError, () => {
        throw new CodecError("x");
      }),
      undefined,
    );
    assert.equal(only(CodecError, () => 5), 5);
    assert.throws(() =>
      only(CodecError, () => {
        throw new TypeError("boom");
      }), /escaped TypeError/);
    assert.throws(() => check(false, "bound"), /property violated: bound/);
  });
});

describe("decoders under fuzz", () => {
  for (const target of fuzzTargets(root)) {
    it(`${target.name}: only its own error type escapes, bounds hold (${target.testRuns} cases)`, async () => {
      const r = await target.run(target.testRuns);
      assert.ok(
        !r.failed,
        `${r.name} failed: ${r.error}\nseed ${r.seed}, path ${r.path}\ncounterexample: ${r.counterexample}`,
      );
      assert.equal(r.cases, target.testRuns);
    });
  }
});

describe("a live node under a fuzzed flood", () => {
  let guards: ReturnType<typeof installGuards>;
  before(() => {
    guards = installGuards();
  });
  after(() => guards.remove());

  it("keeps answering probes, counts the garbage, throws nothing, and does not grow its heap", async () => {
    const r = await floodNode({ packets: 3000, streams: 150, seed: 42 });
    assert.deepEqual(guards.fired, [], "no exception escaped a receive path");
    assert.equal(r.dead, 0, `the prober never declared the target dead (${JSON.stringify(r)})`);
    assert.equal(r.finalState, "alive");
    assert.ok(r.probesSent > 0, "the prober kept probing");
    assert.ok(r.expectedMalformed > r.packets / 4, "the flood is mostly garbage");
    // Loopback UDP can drop under a flood, so only demand that most garbage was counted.
    assert.ok(
      r.countedBad >= r.expectedMalformed / 2,
      `counted ${r.countedBad} of ${r.expectedMalformed} malformed packets`,
    );
    assert.ok(r.heapGrowth < 64 * 1024 * 1024, `heap grew by ${r.heapGrowth} bytes`);
  });
});
