/**
 * False deaths under packet loss and event-loop stalls, in the simulator: 5 nodes, each
 * paused (nothing processed or sent, as under CPU starvation or a long GC) with probability
 * `--stall-p` per 100 ms for 100 ms + U(0, `--stall-max`) ms, on links losing `--loss` of
 * packets, for `--minutes` simulated minutes per seed. Every "dead" event is false: no node
 * ever stops. Deterministic by seed.
 *
 *   npx deno run -A bench/investigations/false_deaths.ts [--presets local,lan] [--seeds 10] [--minutes 10]
 *       [--loss 0.05] [--stall-p 0.01] [--stall-max 1500]
 *
 * Prints one line per preset and writes bench/results/false_deaths.json.
 *
 * @module
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { presets } from "../../presets/mod.ts";
import { seededRandom } from "../../transport/sim/random.ts";
import { hostOf, SimCluster } from "../../testing/sim_harness.ts";
import { arg } from "../args.ts";

/** One preset's outcome. */
export interface FalseDeathResult {
  preset: "local" | "lan" | "wan";
  seeds: number;
  minutes: number;
  deaths: number;
  suspicions: number;
  refutations: number;
  accusationsAnswered: number;
}

const NODES = 5;
const STEP_MS = 100;

async function run(
  preset: "local" | "lan" | "wan",
  seeds: number,
  minutes: number,
  loss: number,
  stallP: number,
  stallMax: number,
): Promise<FalseDeathResult> {
  const r: FalseDeathResult = {
    preset,
    seeds,
    minutes,
    deaths: 0,
    suspicions: 0,
    refutations: 0,
    accusationsAnswered: 0,
  };
  for (let seed = 1; seed <= seeds; seed++) {
    const sim = new SimCluster({ seed, tuning: presets[preset].memberlist });
    try {
      for (let i = 0; i < NODES; i++) await sim.start(i);
      await sim.joinAll([...Array(NODES).keys()].slice(1), [0]);
      if (await sim.until(() => sim.converged(), 60_000) === undefined) {
        throw new Error(`seed ${seed}: the cluster did not converge`);
      }
      const t0 = sim.clock.now();
      sim.net.setDefaultLink({ latencyMs: 1, loss });
      const rnd = seededRandom(seed * 77);
      for (let t = 0; t < (minutes * 60_000) / STEP_MS; t++) {
        for (let i = 0; i < NODES; i++) {
          if (rnd() < stallP) sim.net.pause(hostOf(i), STEP_MS + rnd() * stallMax);
        }
        await sim.clock.advanceAsync(STEP_MS);
      }
      const events = sim.events.filter((e) => e.t >= t0);
      r.deaths += events.filter((e) => e.ev === "dead").length;
      r.suspicions += events.filter((e) => e.ev === "suspect").length;
      for (const l of sim.running()) {
        r.refutations += l.counters().refutations;
        r.accusationsAnswered += l.counters().accusationsAnswered;
      }
    } finally {
      await sim.stop();
    }
  }
  return r;
}

const list = arg("presets", "local,lan").split(",") as ("local" | "lan" | "wan")[];
const seeds = Number(arg("seeds", "10"));
const minutes = Number(arg("minutes", "10"));
const loss = Number(arg("loss", "0.05"));
const stallP = Number(arg("stall-p", "0.01"));
const stallMax = Number(arg("stall-max", "1500"));
const results: FalseDeathResult[] = [];
for (const p of list) {
  const started = Date.now();
  const r = await run(p, seeds, minutes, loss, stallP, stallMax);
  results.push(r);
  console.log(
    `${p}: ${r.deaths} false deaths, ${r.suspicions} suspicions, ${r.refutations} ` +
      `refutations, ${r.accusationsAnswered} accusers answered ` +
      `(${seeds} seeds × ${minutes} min, ${((Date.now() - started) / 1000).toFixed(1)} s)`,
  );
}
const out = fileURLToPath(new URL("../results/false_deaths.json", import.meta.url));
if (!existsSync(dirname(out))) mkdirSync(dirname(out), { recursive: true });
const doc = {
  benchmark: "false deaths under loss and stalls (bench/investigations/false_deaths.ts)",
  date: new Date().toISOString(),
  nodes: NODES,
  loss,
  stall: { probabilityPer100Ms: stallP, ms: `100 + U(0, ${stallMax})` },
  results,
};
writeFileSync(out, JSON.stringify(doc, null, 2) + "\n");
console.log("wrote bench/results/false_deaths.json");
