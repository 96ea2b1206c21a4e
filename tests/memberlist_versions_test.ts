import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ProtocolError, VersionBounds, type Versioned } from "../memberlist/versions.ts";
import { seededRandom } from "../transport/sim/random.ts";

const m = (name: string, state: number, ...vsn: number[]): Versioned => ({
  name,
  state,
  vsn: Uint8Array.from(vsn),
});

function verify(remote: Versioned[], local: Versioned[]): void {
  VersionBounds.of(local).verify(VersionBounds.of(remote), remote, local);
}

// memberlist's verifyProtocol as written there: two passes over each side, no bounds kept.
function reference(remote: Versioned[], local: Versioned[]): string | null {
  let maxPMin = 0, minPMax = 255, maxDMin = 0, minDMax = 255;
  for (const n of [...remote, ...local]) {
    if (n.state !== 0 || n.vsn.length < 6) continue;
    maxPMin = Math.max(maxPMin, n.vsn[0]);
    minPMax = Math.min(minPMax, n.vsn[1]);
    maxDMin = Math.max(maxDMin, n.vsn[3]);
    minDMax = Math.min(minDMax, n.vsn[4]);
  }
  for (const n of [...remote, ...local]) {
    const pcur = n.vsn.length >= 6 ? n.vsn[2] : 0;
    const dcur = n.vsn.length >= 6 ? n.vsn[5] : 0;
    if (pcur < maxPMin || pcur > minPMax) {
      return `node '${n.name}' protocol version ${pcur} not in [${maxPMin}, ${minPMax}]`;
    }
    if (dcur < maxDMin || dcur > minDMax) {
      return `node '${n.name}' delegate protocol ${dcur} not in [${maxDMin}, ${minDMax}]`;
    }
  }
  return null;
}

describe("push/pull protocol compatibility", () => {
  it("accepts members whose versions overlap", () => {
    verify([m("r", 0, 1, 5, 2, 0, 0, 0)], [
      m("a", 0, 2, 5, 3, 0, 0, 0),
      m("b", 0, 1, 5, 5, 0, 0, 0),
    ]);
  });

  it("names the remote member whose current protocol we cannot speak", () => {
    assert.throws(
      () => verify([m("r", 0, 1, 5, 5, 0, 0, 0)], [m("a", 0, 1, 4, 2, 0, 0, 0)]),
      (e) =>
        e instanceof ProtocolError && e.message === "node 'r' protocol version 5 not in [1, 4]",
    );
  });

  it("names our member the remote side cannot speak with", () => {
    assert.throws(
      () => verify([m("r", 0, 3, 5, 4, 0, 0, 0)], [m("a", 0, 1, 5, 2, 0, 0, 0)]),
      (e) =>
        e instanceof ProtocolError && e.message === "node 'a' protocol version 2 not in [3, 5]",
    );
  });

  it("checks delegate versions too", () => {
    assert.throws(
      () => verify([m("r", 0, 1, 5, 2, 2, 3, 2)], [m("a", 0, 1, 5, 2, 0, 1, 1)]),
      (e) =>
        e instanceof ProtocolError &&
        /^node 'r' delegate protocol 2 not in \[2, 1\]$/.test(e.message),
    );
  });

  it("counts only alive members' ranges, but checks every member's current version", () => {
    // A dead member's narrow range [2, 2] does not restrict a's current 3...
    verify([m("dead", 2, 2, 2, 2, 0, 0, 0)], [m("a", 0, 1, 5, 3, 0, 0, 0)]);
    // ...yet its current version must still fit the alive members' range.
    assert.throws(
      () => verify([m("old", 2, 1, 1, 1, 0, 0, 0)], [m("a", 0, 2, 5, 2, 0, 0, 0)]),
      (e) => e instanceof ProtocolError && e.message.startsWith("node 'old' protocol version 1"),
    );
  });

  it("treats a member without versions as version 0", () => {
    verify([m("legacy", 0)], [m("a", 2, 1, 5, 2, 0, 0, 0)]); // a is dead: no range at all
    assert.throws(
      () => verify([m("legacy", 0)], [m("a", 0, 1, 5, 2, 0, 0, 0)]),
      (e) => e instanceof ProtocolError && e.message.startsWith("node 'legacy' protocol version 0"),
    );
  });

  it("decides and words every case like memberlist's two-pass check (random sets)", () => {
    const random = seededRandom(7);
    const pick = (k: number): number => Math.floor(random() * k);
    const member = (name: string): Versioned => {
      if (random() < 0.05) return m(name, pick(4));
      const pmin = 1 + pick(3), dmin = pick(3);
      return m(
        name,
        pick(4),
        pmin,
        pmin + pick(3),
        pmin + pick(3),
        dmin,
        dmin + pick(3),
        dmin + pick(3),
      );
    };
    let refused = 0;
    for (let i = 0; i < 2_000; i++) {
      const remote = Array.from({ length: pick(5) }, (_, j) => member(`r${j}`));
      const local = Array.from({ length: 1 + pick(5) }, (_, j) => member(`l${j}`));
      const want = reference(remote, local);
      let got: string | null = null;
      try {
        verify(remote, local);
      } catch (e) {
        assert.ok(e instanceof ProtocolError);
        got = e.message;
      }
      assert.equal(
        got,
        want,
        JSON.stringify({ remote, local }, (_, v) => v instanceof Uint8Array ? [...v] : v),
      );
      if (got !== null) refused++;
    }
    assert.ok(refused > 200 && refused < 1_800, `both outcomes occur: ${refused} refused`);
  });
});
