/**
 * Crash on a live host versus a silent host, with three real CLI agents (`environment: "lan"`)
 * in three network namespaces joined by a bridge:
 *
 * - kill -9 of the agent on host 3: its host's kernel resets the survivors' log connections
 *   and refuses new ones, so both survivors declare n3 failed without suspecting it
 *   (memberlist/refusal.ts, the lan preset's deadOnRefusal);
 * - host 3 silent (its bridge port drops everything, nftables): no refusal ever comes back,
 *   so the survivors take SWIM's path: suspicion first, failure after the Lifeguard timeout.
 *
 * Skipped, with the reason printed, where namespaces cannot be created or the CLI agent is
 * not there.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  Agent,
  type AgentEvent,
  agentName,
  chaosPrerequisites,
  startAgents,
  stopAgents,
  waitAllSee,
  writeAgentConfig,
} from "../../testing/chaos_agents.ts";
import { createTestbed } from "../../testing/netns.ts";

const HOSTS = 3;
const NAMES = Array.from({ length: HOSTS }, (_, i) => agentName(i));
const VICTIM = HOSTS - 1;
const WAIT_MS = 90_000; // generous: a loaded machine; only guards against hangs

const prereq = await chaosPrerequisites("chaos/failover_test");
const skip = prereq.skip;

const aboutVictim = (a: Agent, since: number): AgentEvent[] =>
  a.events.filter((e) => e.at >= since && e.node === NAMES[VICTIM]);

describe("chaos: crash on a live host vs a silent host (3 agents, lan)", { skip }, () => {
  it("kill -9 is failed at once without suspicion; a silent host is suspected first", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chaos-failover-"));
    const bed = await createTestbed({ hosts: HOSTS });
    let agents: Agent[] = [];
    try {
      agents = await startAgents(bed, prereq.command(), dir, () => [], "lan");
      await waitAllSee(agents, NAMES, WAIT_MS);
      const survivors = agents.slice(0, VICTIM);

      // 1. the process dies, its host stays up
      let since = Date.now();
      agents[VICTIM].kill("SIGKILL");
      await agents[VICTIM].exited;
      const crashed = await Promise.all(
        survivors.map((a) =>
          a.waitFor(
            (e) => e.at >= since && e.event === "member-failed" && e.node === NAMES[VICTIM],
            WAIT_MS,
            "member-failed n3",
          )
        ),
      );
      for (const a of survivors) {
        const seen = aboutVictim(a, since).map((e) => e.event);
        assert.ok(!seen.includes("member-suspect"), `${a.name} suspected n3 first: ${seen}`);
      }
      const crashMs = Math.max(...crashed.map((e) => e.at)) - since;
      console.log(`chaos/failover_test: kill -9 failed everywhere after ${crashMs} ms`);

      // 2. back again, then the whole host goes silent
      const config = writeAgentConfig(bed, VICTIM, dir, "lan");
      agents[VICTIM] = new Agent(bed, VICTIM, prereq.command(), config);
      await agents[VICTIM].waitFor((e) => e.event === "ready", WAIT_MS, "ready");
      await waitAllSee(agents, NAMES, WAIT_MS);
      since = Date.now();
      await bed.partition([[0, 1], [VICTIM]]);
      await Promise.all(
        survivors.map((a) =>
          a.waitFor(
            (e) => e.at >= since && e.event === "member-failed" && e.node === NAMES[VICTIM],
            WAIT_MS,
            "member-failed n3 (silent)",
          )
        ),
      );
      for (const a of survivors) {
        const seen = aboutVictim(a, since).map((e) => e.event);
        const suspect = seen.indexOf("member-suspect");
        assert.ok(
          suspect >= 0 && suspect < seen.indexOf("member-failed"),
          `${a.name} did not suspect the silent n3 first: ${seen}`,
        );
      }
      await bed.heal();
    } catch (err) {
      const tails = agents.map((a) => `--- ${a.name} stderr:\n${a.stderr.slice(-1500)}`).join("\n");
      throw new Error(`${(err as Error).message}\n${tails}`, { cause: err });
    } finally {
      await stopAgents(agents);
      await bed.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
