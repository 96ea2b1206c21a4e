// Durability with real processes: every node is its own OS process with a FileLogStore
// (fsync "always"); minorities are killed with SIGKILL mid-stream, killed nodes restart on
// their directories. What a quorum acknowledged must be on every survivor, and on every
// restarted node once it caught up.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { headsKey, LogProc, waitStates, wireProcs } from "../testing/log_procs.ts";

const root = mkdtempSync(join(tmpdir(), "log-durability-"));
const all: LogProc[] = [];

after(async () => {
  await Promise.all(all.map((p) => p.stop()));
  rmSync(root, { recursive: true, force: true });
});

async function startNodes(prefix: string, n: number): Promise<LogProc[]> {
  const procs = Array.from(
    { length: n },
    (_, i) => new LogProc(`${prefix}${i + 1}`, join(root, `${prefix}${i + 1}`)),
  );
  all.push(...procs);
  await Promise.all(procs.map((p) => p.start()));
  await wireProcs(procs);
  await waitStates(procs, (s) => s.every((x) => x.connected === n - 1), "full mesh");
  return procs;
}

async function acks(p: LogProc, atLeast: number): Promise<void> {
  const end = Date.now() + 20_000;
  while (p.acked.length < atLeast) {
    if (Date.now() > end) throw new Error(`${p.name}: only ${p.acked.length} acks`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Equal heads and cache digests on every listed node; returns the common heads. */
async function converge(procs: LogProc[], what: string): Promise<Record<string, number>> {
  const states = await waitStates(
    procs,
    (s) => s.every((x) => headsKey(x) === headsKey(s[0]) && x.digest === s[0].digest),
    what,
  );
  return states[0].heads as Record<string, number>;
}

/** Every node holds every acknowledged seq of `writer`, gap-free and intact. */
async function assertHeld(procs: LogProc[], writer: LogProc): Promise<void> {
  assert.ok(writer.acked.length > 0);
  for (const p of procs) {
    const v = await p.ask({ cmd: "verify", origin: writer.name, seqs: writer.acked }, "verified");
    assert.deepEqual(v.missing, [], `${p.name} lost acknowledged entries of ${writer.name}`);
    assert.equal(v.corrupt, 0, `${p.name} holds a hole or a foreign value`);
    assert.ok((v.head as number) >= Math.max(...writer.acked));
  }
}

describe("log durability with real processes and SIGKILL", { timeout: 120_000 }, () => {
  it("quorum-acknowledged entries survive SIGKILL of 2 of 5 nodes; a killed node restarts on its store and catches up", async () => {
    const [n1, n2, n3, n4, n5] = await startNodes("a", 5);
    n1.send({ cmd: "write", concurrency: 8 });
    await acks(n1, 200);
    await Promise.all([n4.kill(), n5.kill()]);
    const atKill = n1.acked.length;
    // 3 of 5 are still a majority: quorum appends go on
    await acks(n1, atKill + 200);
    await n1.ask({ cmd: "stop" }, "stopped");
    assert.equal(new Set(n1.acked).size, n1.acked.length);
    const survivors = [n1, n2, n3];
    const heads = await converge(survivors, "survivors converge");
    assert.ok(heads.a1 >= Math.max(...n1.acked));
    await assertHeld(survivors, n1);

    // n4 comes back on its directory: what it had is still there, the rest arrives
    await n4.start();
    assert.ok(n4.records > 0, "the restarted node recovered entries from its files");
    await wireProcs([n1, n2, n3, n4, n5]);
    const after = await converge([n1, n2, n3, n4], "restarted node catches up");
    assert.deepEqual(after, heads);
    await assertHeld([n4], n1);
  });

  it("the writer itself and one more are SIGKILLed mid-stream: acknowledged entries are on the 3 survivors, and the restarted writer resumes without reusing a seq", async () => {
    const [m1, m2, m3, m4, m5] = await startNodes("b", 5);
    // m1 kills itself the instant its 300th acknowledgement came back, entries in flight
    m1.send({ cmd: "write", concurrency: 8, dieAfter: 300 });
    await m1.exited();
    await m2.kill();
    assert.ok(m1.acked.length >= 250, `only ${m1.acked.length} acks reported`);
    const survivors = [m3, m4, m5];
    // the survivors fill each other in (digest exchange) until they agree
    const heads = await converge(survivors, "survivors converge after the writer died");
    assert.ok(heads.b1 >= Math.max(...m1.acked));
    await assertHeld(survivors, m1);

    // the writer restarts on its directory (fsync always: nothing it sent is missing)
    await m1.start();
    assert.ok(m1.records > 0);
    const before = m1.acked.length;
    await wireProcs([m1, m2, m3, m4, m5]);
    await waitStates([m1], (s) => s[0].connected === 3, "writer reconnects");
    m1.send({ cmd: "write", concurrency: 4 });
    await acks(m1, before + 100);
    await m1.ask({ cmd: "stop" }, "stopped");
    assert.equal(new Set(m1.acked).size, m1.acked.length, "a seq was acknowledged twice");
    const final = await converge([m1, m3, m4, m5], "all four converge");
    assert.ok(final.b1 > heads.b1);
    await assertHeld([m1, m3, m4, m5], m1);
  });
});
