/**
 * Chaos scenarios with five real CLI agents in five network namespaces joined by a bridge.
 * The loss scenario runs the agents with `environment: "lan"`; the others use "local", whose
 * short timings keep the partition scenario within the file's budget.
 * Loss and partitions are nftables rules in the bridge's namespace (no netem in this kernel);
 * the test reaches each agent's control endpoint through the probe veth, which the rules
 * never touch. Every scenario builds its own testbed and removes it in `finally`.
 *
 * Skipped, with the reason printed, where namespaces cannot be created or the CLI agent is
 * not there yet. The whole file is bounded: about 6 minutes when everything passes, and at
 * most {@link FILE_BUDGET_MS} even when scenarios fail slowly.
 */
import { Buffer } from "node:buffer";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { Environment } from "../../cluster/config.ts";
import { presets } from "../../presets/mod.ts";
import {
  Agent,
  agentName,
  chaosPrerequisites,
  type CliCommand,
  controlRequest,
  fileBudget,
  startAgents,
  stopAgents,
  waitAllSee,
  writeAgentConfig,
} from "../../testing/chaos_agents.ts";
import { createTestbed, type Testbed } from "../../testing/netns.ts";

const HOSTS = 5;
const NAMES = Array.from({ length: HOSTS }, (_, i) => agentName(i));
const tuning = presets.local.memberlist;
/** Longest suspicion of a 5-node cluster: mult × max(1, log10 n) × interval × max multiplier. */
const SUSPICION_MAX_MS = tuning.suspicionMult * Math.max(1, Math.log10(HOSTS)) *
  tuning.probeIntervalMs *
  tuning.suspicionMaxTimeoutMult;
const LOSS_HOLD_MS = 3 * 60_000;
const PARTITION_HOLD_MS = SUSPICION_MAX_MS + tuning.gossipToTheDeadMs + 5 * tuning.probeIntervalMs;
const HEAL_DEADLINE_MS = 2 * tuning.pushPullIntervalMs;
const FILE_BUDGET_MS = 7.5 * 60_000;
/** Time left in the file's budget; a wait never runs past it. */
const left = fileBudget(FILE_BUDGET_MS);

const prereq = await chaosPrerequisites("chaos/cluster_test");
const skip = prereq.skip;
const command = (): CliCommand => prereq.command();

// a fixed test key (base64 of 32 bytes): every agent of a scenario shares it
const CHAOS_KEY = Buffer.from("response-cluster-chaos-test-key!").toString("base64");

/** A fresh testbed, config dir and running, converged, keyed cluster; `body` runs, then all is removed. */
async function withCluster(
  body: (bed: Testbed, agents: Agent[], dir: string) => Promise<void>,
  extraArgs: (host: number, dir: string) => string[] = () => [],
  environment: Environment = "local",
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "chaos-"));
  const bed = await createTestbed({ hosts: HOSTS });
  let agents: Agent[] = [];
  try {
    // keyed, as production should run: gossip and the log port under one key
    const keyed = (h: number) => ["--encrypt", CHAOS_KEY, ...extraArgs(h, dir)];
    agents = await startAgents(bed, command(), dir, keyed, environment);
    for (const a of agents) {
      const ready = a.events.find((e) => e.event === "ready") as
        | { security?: { gossip?: string; log?: string } }
        | undefined;
      assert.deepEqual(
        [ready?.security?.gossip, ready?.security?.log],
        ["keyed", "keyed"],
        `${a.name} runs keyed`,
      );
    }
    await waitAllSee(agents, NAMES, left(45_000));
    await body(bed, agents, dir);
  } catch (err) {
    const tails = agents.map((a) => `--- ${a.name} stderr:\n${a.stderr.slice(-1500)}`).join("\n");
    throw new Error(`${(err as Error).message}\n${tails}`, { cause: err });
  } finally {
    await stopAgents(agents);
    await bed.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

const failures = (agents: Agent[], since: number) =>
  agents.flatMap((a) =>
    a.events.filter((e) =>
      e.at >= since && (e.event === "member-failed" || e.event === "member-leave")
    )
      .map((e) => `${a.name}: ${e.event} ${e.node}`)
  );

describe("chaos: five CLI agents in network namespaces", { skip }, () => {
  it("5% loss on every link for 3 minutes: no node is declared dead", async () => {
    await withCluster(
      async (bed, agents) => {
        assert.ok(
          left(LOSS_HOLD_MS + 60_000) === LOSS_HOLD_MS + 60_000,
          "not enough chaos budget left for 3 minutes",
        );
        const since = Date.now();
        await bed.setLoss(50);
        while (Date.now() - since < LOSS_HOLD_MS) {
          await new Promise((r) => setTimeout(r, 2000));
          const down = agents.filter((a) => !a.running).map((a) => a.name);
          assert.deepEqual(down, [], `agents exited under loss: ${down.join(", ")}`);
          assert.deepEqual(failures(agents, since), [], "a node was declared dead under 5% loss");
        }
        assert.match(
          await bed.rules(),
          /numgen random mod 1000 < 50 counter packets [1-9]/,
          "the loss rule dropped nothing",
        );
        await waitAllSee(agents, NAMES, left(10_000)); // still one cluster, seen through the exempt probe port
        assert.deepEqual(failures(agents, since), []);
      },
      undefined,
      // hosts on a lossy bridge are a LAN. The "local" preset assumes loopback (200 ms probe
      // timeout, retransmit 2) and, with the CPU contended, can lose a refutation race
      // (bench/investigations/false_deaths.ts measures both presets).
      "lan",
    );
  });

  it("partition {n1,n2} | {n3,n4,n5} past suspicion + gossip-to-the-dead, then heal: five alive within two push/pull intervals", async () => {
    await withCluster(async (bed, agents) => {
      const sideA = [0, 1];
      const sideB = [2, 3, 4];
      const start = Date.now();
      await bed.partition([sideA, sideB]);
      // Each side must really lose the other (else the heal below proves nothing).
      await Promise.all([
        waitAllSee(
          sideA.map((h) => agents[h]),
          sideA.map(agentName),
          left(SUSPICION_MAX_MS + 15_000),
        ),
        waitAllSee(
          sideB.map((h) => agents[h]),
          sideB.map(agentName),
          left(SUSPICION_MAX_MS + 15_000),
        ),
      ]);
      const rest = PARTITION_HOLD_MS - (Date.now() - start);
      if (rest > 0) await new Promise((r) => setTimeout(r, left(rest)));
      await bed.heal();
      // The deadline is the property under test here (no operator action, two push/pull rounds).
      await waitAllSee(agents, NAMES, left(HEAL_DEADLINE_MS));
    });
  });

  it(
    "kill -9 of one node during quorum appends: survivors miss no acknowledged entry; restarted, it catches up",
    async () => {
      const victim = 2;
      await withCluster(async (bed, agents, dir) => {
        const acked: { origin: string; seq: number }[] = [];
        let appending = true;
        const appender = async (a: Agent) => {
          for (let i = 0; appending && a.running; i++) {
            try {
              const r = await controlRequest(a.control, "POST", "/append", {
                value: `${a.name}-${i}`,
                ack: "quorum",
                timeout: 5000,
              }, 8000);
              if (r.status === 200) {
                const at = r.json as { origin: string; seq: number };
                acked.push({ origin: at.origin, seq: at.seq });
              }
            } catch {
              // not acknowledged (the victim died mid-request): not counted
            }
          }
        };
        const loops = agents.map(appender);
        await new Promise((r) => setTimeout(r, 3000));
        agents[victim].kill("SIGKILL");
        await agents[victim].exited;
        await new Promise((r) => setTimeout(r, 4000));
        appending = false;
        await Promise.all(loops);
        for (const name of NAMES) {
          assert.ok(
            acked.some((e) => e.origin.startsWith(`${name}@`)),
            `no acknowledged append from ${name}`,
          );
        }

        const survivors = agents.filter((_, i) => i !== victim);
        const key = (e: { origin?: string; seq?: number }) => `${e.origin}#${e.seq}`;
        const deadline = Date.now() + 30_000;
        for (const s of survivors) {
          let missing: string[] = [];
          while (true) {
            const have = new Set(s.events.filter((e) => e.event === "entry").map(key));
            missing = acked.map(key).filter((k) => !have.has(k));
            if (missing.length === 0 || Date.now() > deadline) break;
            await new Promise((r) => setTimeout(r, left(250)));
          }
          assert.deepEqual(missing, [], `${s.name} misses acknowledged entries`);
        }

        // Restart the victim on its own data directory; it must catch up and not reuse seqs.
        await Promise.race([
          Promise.any(
            survivors.map((s) =>
              s.waitFor((e) => e.event === "member-failed" && e.node === agentName(victim), 25_000)
            ),
          ),
          new Promise((r) => setTimeout(r, 25_000)),
        ]).catch(() => undefined);
        const again = new Agent(bed, victim, command(), writeAgentConfig(bed, victim, dir), [
          "--encrypt",
          CHAOS_KEY,
          "--data-dir",
          join(dir, agentName(victim)),
        ]);
        agents[victim] = again;
        await again.waitFor((e) => e.event === "ready", left(60_000), "ready after restart");
        const want = new Map<string, number>();
        for (const e of acked) want.set(e.origin, Math.max(want.get(e.origin) ?? 0, e.seq));
        let heads: Record<string, number> = {};
        const until = Date.now() + left(HEAL_DEADLINE_MS);
        while (true) {
          const r = await controlRequest(again.control, "GET", "/heads").catch(() => ({
            status: 0,
            json: undefined,
          }));
          assert.notEqual(r.status, 404, "the agent has no GET /heads");
          if (r.status === 200) heads = (r.json as { heads: Record<string, number> }).heads;
          const behind = [...want].filter(([o, s]) => (heads[o] ?? 0) < s);
          if (behind.length === 0) break;
          assert.ok(
            Date.now() < until,
            `restarted ${again.name} is behind: ${JSON.stringify(behind)} heads ${
              JSON.stringify(heads)
            }`,
          );
          await new Promise((r) => setTimeout(r, 250));
        }
        const next = await controlRequest(again.control, "POST", "/append", {
          value: "after-restart",
          ack: "quorum",
          timeout: 5000,
        });
        assert.equal(next.status, 200, `append after restart: ${JSON.stringify(next.json)}`);
        const before = acked.find((e) => e.origin.startsWith(`${again.name}@`))?.origin;
        const after = next.json as { origin: string; seq: number };
        assert.equal(after.origin, before, "the restarted node resumed its own log");
        assert.ok(after.seq > (want.get(after.origin) ?? 0), "the restarted node reused a seq");
        await waitAllSee(agents, NAMES, left(HEAL_DEADLINE_MS));
      }, (host, dir) => ["--data-dir", join(dir, agentName(host))]);
    },
  );
});
