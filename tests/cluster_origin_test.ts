/**
 * The origin a node writes under: a fresh one per run that starts without its old log, and
 * the old one resumed when the store holds it (so a wiped node never reuses seqs peers hold).
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cluster } from "../mod.ts";
import { FileLogStore, ReplicatedLog } from "../log/mod.ts";

describe("the origin of a node's own log", () => {
  const dirs: string[] = [];
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), "origin-"));
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("a fresh file store starts a new run; the same store resumes it; a wiped one starts anew", async () => {
    const first = dir();
    const a = await cluster(undefined, { name: "n", store: await FileLogStore.open(first) });
    const origin = a.log.origin;
    assert.match(origin, /^n@[0-9a-z]+$/);
    await a.log.appendText("one");
    await a.log.appendText("two");
    await a.close();

    const again = await cluster(undefined, { name: "n", store: await FileLogStore.open(first) });
    assert.equal(again.log.origin, origin, "the store's own log is resumed");
    assert.equal((await again.log.appendText("three")).seq, 3);
    await again.close();

    await new Promise((r) => setTimeout(r, 5)); // a later run, a later start time
    const wiped = await cluster(undefined, { name: "n", store: await FileLogStore.open(dir()) });
    assert.notEqual(wiped.log.origin, origin, "a wiped node does not reuse the old seqs");
    assert.equal((await wiped.log.appendText("anew")).seq, 1);
    await wiped.close();
  });

  it("a log written under the plain name (before runs were named) is resumed", async () => {
    const d = dir();
    const old = await ReplicatedLog.create({
      name: "m",
      origin: "m",
      environment: "local",
      store: await FileLogStore.open(d),
    });
    await old.appendText("legacy");
    await old.close();
    const node = await cluster(undefined, { name: "m", store: await FileLogStore.open(d) });
    assert.equal(node.log.origin, "m");
    assert.equal((await node.log.appendText("next")).seq, 2);
    await node.close();
  });
});
