/**
 * Split brain with five real CLI agents in network namespaces: partition {n1,n2} | {n3,n4,n5}
 * (nftables in the bridge namespace) with quorum writes on both sides, before and after each
 * side has declared the other failed. Only the majority side acknowledges them; the minority
 * answers 503 (QuorumError), keeps taking local writes, and reports no quorum on
 * `GET /quorum`. After the heal every acknowledged entry reaches every agent.
 *
 * Skipped, with the reason printed, where namespaces cannot be created or the CLI agent is
 * missing. Short: about a minute when it passes, bounded by {@link FILE_BUDGET_MS}.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { presets } from "../../presets/mod.ts";
import {
  type Agent,
  agentName,
  chaosPrerequisites,
  controlRequest,
  fileBudget,
  startAgents,
  stopAgents,
  waitAllSee,
} from "../../testing/chaos_agents.ts";
import { createTestbed } from "../../testing/netns.ts";

const HOSTS = 5;
const NAMES = Array.from({ length: HOSTS }, (_, i) => agentName(i));
const MINORITY = [0, 1];
const MAJORITY = [2, 3, 4];
const tuning = presets.local.memberlist;
const SUSPICION_MAX_MS = tuning.suspicionMult * Math.max(1, Math.log10(HOSTS)) *
  tuning.probeIntervalMs * tuning.suspicionMaxTimeoutMult;
const FILE_BUDGET_MS = 4 * 60_000;
/** Time left in the file's budget; a wait never runs past it. */
const left = fileBudget(FILE_BUDGET_MS);

const prereq = await chaosPrerequisites("chaos/quorum_test");
const skip = prereq.skip;

interface Acked {
  origin: string;
  seq: number;
}

/** A quorum write through the agent's control endpoint: the entry, or the refusal. */
async function quorumWrite(
  a: Agent,
  key: string,
): Promise<{ status: number; at?: Acked; error?: string }> {
  const r = await controlRequest(a.control, "POST", "/append", {
    value: `${a.name}:${key}`,
    key,
    ack: "quorum",
    timeout: 2000,
  }, 8000);
  const body = r.json as Acked & { error?: string };
  return r.status === 200 ? { status: 200, at: body } : { status: r.status, error: body?.error };
}

describe(
  "chaos: split brain {n1,n2} | {n3,n4,n5} with quorum writes on both sides",
  { skip },
  () => {
    it("only the majority acknowledges; the minority refuses, takes local writes; after the heal every acknowledged entry is everywhere", async () => {
      const dir = mkdtempSync(join(tmpdir(), "chaos-quorum-"));
      const bed = await createTestbed({ hosts: HOSTS });
      let agents: Agent[] = [];
      try {
        agents = await startAgents(bed, prereq.command(), dir);
        await waitAllSee(agents, NAMES, left(45_000));
        const acked: Acked[] = [];
        const round = async (label: string) => {
          const results = await Promise.all(
            agents.map((a) => quorumWrite(a, `${label}-${a.name}`)),
          );
          results.forEach((r, h) => {
            const where = `${agents[h].name} ${label}`;
            if (MAJORITY.includes(h)) {
              assert.equal(r.status, 200, `${where}: ${r.error}`);
              acked.push(r.at!);
            } else {
              assert.equal(
                r.status,
                503,
                `${where} acknowledged a quorum write on the minority side`,
              );
              assert.match(String(r.error), /held by [12], 3 needed \(5 voting members\)/, where);
            }
          });
        };

        await bed.partition([MINORITY, MAJORITY]);
        await round("at-once");
        // each side declares the other failed: the minority still counts them as voters
        await Promise.all([
          waitAllSee(
            MINORITY.map((h) => agents[h]),
            MINORITY.map(agentName),
            left(SUSPICION_MAX_MS + 15_000),
          ),
          waitAllSee(
            MAJORITY.map((h) => agents[h]),
            MAJORITY.map(agentName),
            left(SUSPICION_MAX_MS + 15_000),
          ),
        ]);
        await round("detected");
        for (const h of [...MINORITY, ...MAJORITY]) {
          const q = await controlRequest(agents[h].control, "GET", "/quorum");
          const body = q.json as { hasQuorum: boolean; reachable: number; needed: number };
          assert.equal(
            body.hasQuorum,
            MAJORITY.includes(h),
            `${agents[h].name}: ${JSON.stringify(body)}`,
          );
          assert.equal(body.needed, 3);
        }
        const local = await controlRequest(agents[0].control, "POST", "/append", {
          value: "minority local",
          key: "local",
          ack: "local",
        });
        assert.equal(local.status, 200, "the minority takes local writes");
        assert.ok(
          agents[0].events.some((e) => e.event === "quorum" && e.hasQuorum === false),
          "the minority announced losing its quorum",
        );

        const healedAt = Date.now();
        await bed.heal();
        await waitAllSee(agents, NAMES, left(2 * tuning.pushPullIntervalMs));
        const key = (e: { origin?: unknown; seq?: unknown }) => `${e.origin}#${e.seq}`;
        const want = acked.map(key);
        const deadline = Date.now() + left(30_000);
        for (const a of agents) {
          let missing: string[] = [];
          while (true) {
            const have = new Set(a.events.filter((e) => e.event === "entry").map(key));
            missing = want.filter((k) => !have.has(k));
            if (missing.length === 0 || Date.now() > deadline) break;
            await new Promise((r) => setTimeout(r, 250));
          }
          assert.deepEqual(missing, [], `${a.name} misses acknowledged entries after the heal`);
        }
        assert.equal(acked.length, 2 * MAJORITY.length);
        await Promise.all(agents.map((a) =>
          a.waitFor(
            (e) =>
              e.at >= healedAt && e.event === "quorum" && e.hasQuorum === true && e.reachable === 5,
            left(30_000),
            "quorum of 5 after the heal",
          )
        ));
      } catch (err) {
        const tails = agents.map((a) => `--- ${a.name} stderr:\n${a.stderr.slice(-1500)}`).join(
          "\n",
        );
        throw new Error(`${(err as Error).message}\n${tails}`, { cause: err });
      } finally {
        await stopAgents(agents);
        await bed.destroy();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);
