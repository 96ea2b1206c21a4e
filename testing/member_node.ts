/**
 * One memberlist node in its own process, on real loopback sockets wrapped by
 * `faultyNetwork`, for the multi-process fault tests (memberlist_faults_test.ts drives it). Runs with
 * `deno run -A testing/member_node.ts <json>` on the sources and
 * `node build/testing/member_node.js <json>` on the Node build.
 *
 * Argument: `{ name, seed }`: the node's name and the seed of its fault randomness.
 * Speaks JSON lines: commands on stdin, replies and events on stdout.
 *
 * - first line: `{ type: "ready", address }`
 * - every membership event: `{ type: "event", ev, who }` (ev: join, update, suspect, dead, left)
 * - `{ cmd: "join", peers }` → `{ type: "joined", joined }`
 * - `{ cmd: "faults", loss?, delayMs?, jitterMs? }` → `{ type: "faults" }`
 * - `{ cmd: "pause", ms }` → `{ type: "paused" }` (the pause starts at once and runs on)
 * - `{ cmd: "members" }` → `{ type: "members", members: [{ name, state }] }`
 * - `{ cmd: "stats" }` → `{ type: "stats", stats }` (the FaultStats counters)
 * - `{ cmd: "close" }` → `{ type: "closed" }`, then exit.
 *
 * @module
 */
import process from "node:process";
import { createInterface } from "node:readline";
import { Memberlist } from "../memberlist/mod.ts";
import { faultyNetwork } from "../transport/sim/fault.ts";
import { nodeNetwork } from "../transport/node.ts";
import { seededRandom } from "../transport/sim/random.ts";
import { FAST_TUNING } from "./fast_tuning.ts";

interface Args {
  name: string;
  seed: number;
}

const args = JSON.parse(process.argv[process.argv.length - 1]) as Args;
const network = faultyNetwork(nodeNetwork, { random: seededRandom(args.seed) });

function reply(msg: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(msg) + "\n");
}

const list = await Memberlist.create({
  name: args.name,
  network,
  bind: { host: "127.0.0.1", port: 0 },
  tuning: FAST_TUNING,
});
for (const ev of ["join", "update", "suspect", "dead", "left"] as const) {
  list.on(ev, (m) => reply({ type: "event", ev, who: m.name }));
}
reply({ type: "ready", address: list.address });

createInterface({ input: process.stdin }).on("line", async (line) => {
  const msg = JSON.parse(line) as Record<string, unknown>;
  switch (msg.cmd) {
    case "join": {
      const result = await list.join(msg.peers as string[]);
      reply({ type: "joined", joined: result.joined });
      break;
    }
    case "faults":
      network.set({
        loss: msg.loss as number | undefined,
        delayMs: msg.delayMs as number | undefined,
        jitterMs: msg.jitterMs as number | undefined,
      });
      reply({ type: "faults" });
      break;
    case "pause":
      network.pause(msg.ms as number);
      reply({ type: "paused" });
      break;
    case "members":
      reply({
        type: "members",
        members: list.members().map((m) => ({ name: m.name, state: m.state })),
      });
      break;
    case "stats":
      reply({ type: "stats", stats: { ...network.stats } });
      break;
    case "close":
      await list.shutdown();
      reply({ type: "closed" });
      process.exit(0);
  }
});
