/**
 * Four memberlist nodes, each in its own process on real loopback sockets, with faults
 * injected inside each process by `faultyNetwork` (transport/sim/fault.ts): loss on every link,
 * and one node's transports paused as by a long GC. Tuning: FAST_TUNING (probe 200 ms,
 * timeout 100 ms, suspicion 3 × probe interval scaled by cluster size, at most 3.6 s here).
 * The processes run testing/member_node.ts.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { HostPort } from "../transport/types.ts";
import { FAST_TUNING } from "../testing/fast_tuning.ts";
import { JsonLineProc, type Msg } from "../testing/json_line_proc.ts";

interface MemberView {
  name: string;
  state: string;
}

/** One member_node.ts process and the membership events it reported. */
class MemberProc extends JsonLineProc {
  address: HostPort = { host: "", port: 0 };
  readonly events: { ev: string; who: string }[] = [];

  constructor(name: string) {
    super(name, "member_node");
  }

  protected override onEvent(msg: Msg): boolean {
    if (msg.type !== "event") return false;
    this.events.push({ ev: msg.ev as string, who: msg.who as string });
    return true;
  }

  async start(seed: number): Promise<void> {
    const ready = await this.launch({ name: this.name, seed });
    this.address = ready.address as HostPort;
  }

  async members(): Promise<MemberView[]> {
    return (await this.ask({ cmd: "members" }, "members")).members as MemberView[];
  }

  async stats(): Promise<Record<string, number>> {
    return (await this.ask({ cmd: "stats" }, "stats")).stats as Record<string, number>;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function allAlive(procs: readonly MemberProc[]): Promise<boolean> {
  const views = await Promise.all(procs.map((p) => p.members()));
  return views.every((v) => v.length === procs.length && v.every((m) => m.state === "alive"));
}

async function waitAllAlive(procs: readonly MemberProc[], ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await allAlive(procs))) {
    if (Date.now() > end) {
      const views = await Promise.all(procs.map((p) => p.members()));
      throw new Error(`not all alive everywhere: ${JSON.stringify(views)}`);
    }
    await sleep(50);
  }
}

describe("memberlist in four processes, faults injected by faultyNetwork", () => {
  const procs = [0, 1, 2, 3].map((i) => new MemberProc(`p${i}`));

  before(async () => {
    await Promise.all(procs.map((p, i) => p.start(i + 1)));
    const seed = procs[0].address;
    for (const p of procs.slice(1)) {
      const joined = await p.ask({ cmd: "join", peers: [`${seed.host}:${seed.port}`] }, "joined");
      assert.equal(joined.joined, 1);
    }
    await waitAllAlive(procs);
  });

  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
  });

  it("10% loss on every link for 15 s (75 probe rounds): no process declares another dead", async () => {
    const mark = procs.map((p) => p.events.length);
    const before = await Promise.all(procs.map((p) => p.stats()));
    await Promise.all(procs.map((p) => p.ask({ cmd: "faults", loss: 0.1 }, "faults")));
    await sleep(15_000);
    await Promise.all(procs.map((p) => p.ask({ cmd: "faults", loss: 0 }, "faults")));
    const stats = await Promise.all(procs.map((p) => p.stats()));
    for (const [i, s] of stats.entries()) {
      const sent = s.packetsSent - before[i].packetsSent;
      const dropped = s.packetsDropped - before[i].packetsDropped;
      // the loss took effect: about a tenth of what each process sent was dropped
      assert.ok(sent > 100, `${procs[i].name} sent ${sent} packets`);
      assert.ok(dropped > sent * 0.03 && dropped < sent * 0.2, `${dropped} of ${sent} dropped`);
    }
    await waitAllAlive(procs);
    for (const [i, p] of procs.entries()) {
      const dead = p.events.slice(mark[i]).filter((e) => e.ev === "dead");
      assert.deepEqual(dead, [], `${p.name} declared dead: ${JSON.stringify(dead)}`);
    }
  });

  it("one process paused three times for twice the probe interval: alive everywhere, no flapping", async () => {
    const paused = procs[3];
    const observers = procs.slice(0, 3);
    const mark = procs.map((p) => p.events.length);
    const before = await paused.stats();
    for (let i = 0; i < 3; i++) {
      await paused.ask({ cmd: "pause", ms: 2 * FAST_TUNING.probeIntervalMs }, "paused");
      await sleep(2 * FAST_TUNING.probeIntervalMs + 1000);
    }
    // past the longest suspicion timeout, so a suspicion not refuted would have ended in death
    await sleep(
      FAST_TUNING.suspicionMaxTimeoutMult * FAST_TUNING.suspicionMult *
        FAST_TUNING.probeIntervalMs,
    );
    await waitAllAlive(procs);
    const after = await paused.stats();
    // the pauses took effect: what the paused node sent meanwhile went out late
    assert.ok(after.packetsDelayed > before.packetsDelayed, JSON.stringify({ before, after }));
    for (const [i, p] of procs.entries()) {
      const events = p.events.slice(mark[i]);
      assert.deepEqual(
        events.filter((e) => e.ev === "dead"),
        [],
        `${p.name}: ${JSON.stringify(events)}`,
      );
    }
    // no flapping storm: at most one suspicion of the paused node per pause and observer (the
    // paused node itself may accuse others while its probes wait; they refute)
    for (const [i, p] of observers.entries()) {
      const suspects = p.events.slice(mark[i]).filter((e) =>
        e.ev === "suspect" && e.who === paused.name
      );
      assert.ok(suspects.length <= 3, `${p.name}: ${JSON.stringify(p.events.slice(mark[i]))}`);
    }
  });
});
