/**
 * One full node (`cluster()`: memberlist, replicated log and the wiring between them) in its
 * own process, speaking the subset of testing/go_peer.ts's line protocol the detection bench
 * needs, so the bench can put a whole node of ours beside a Go memberlist node.
 *
 *   npx deno run -A testing/cluster_peer.ts -name a -preset lan [-bind 127.0.0.1] [-join host:port]
 *
 * Events: ready (addr = the memberlist address), join, suspect, leave (kind dead|left), exit.
 * Commands: members | quit (EOF on stdin stops the node too).
 *
 * @module
 */
import process from "node:process";
import { createInterface } from "node:readline";
import { cluster, clusterStanza } from "../cluster/mod.ts";
import type { ClusterMember } from "../cluster/types.ts";

function emit(fields: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ ...fields, t_ms: Date.now() }) + "\n");
}

const flags = new Map<string, string>();
const argv = process.argv.slice(2);
for (let i = 0; i + 1 < argv.length; i += 2) flags.set(argv[i].replace(/^--/, "-"), argv[i + 1]);

const name = flags.get("-name");
const preset = flags.get("-preset") ?? "lan";
if (name === undefined) {
  emit({ event: "fatal", error: "-name is required" });
  process.exit(2);
}
const host = flags.get("-bind") ?? "127.0.0.1";
const join = flags.get("-join");
const node = await cluster(
  clusterStanza({
    environment: preset,
    bind_address: host,
    bind_port: 0,
    memberlist_bind_address: host,
    memberlist_bind_port: Number(flags.get("-port") ?? "0"),
    ...(join ? { members: join.split(",") } : {}),
  }),
  { name },
).catch((err: unknown) => {
  emit({ event: "fatal", error: err instanceof Error ? err.message : String(err) });
  process.exit(2);
});

const fields = (m: ClusterMember) => ({ node: m.name, addr: m.address, state: m.state });
node.on("member-join", (m) => emit({ event: "join", ...fields(m) }));
node.on("member-suspect", (m) => emit({ event: "suspect", ...fields(m) }));
node.on("member-failed", (m) => emit({ event: "leave", kind: "dead", ...fields(m) }));
node.on("member-leave", (m) => emit({ event: "leave", kind: "left", ...fields(m) }));
emit({ event: "ready", name, addr: node.addresses.memberlist });

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await node.close();
  emit({ event: "exit" });
  process.exit(0);
};
process.on("SIGTERM", () => void stop());

const rl = createInterface({ input: process.stdin });
rl.on("line", (raw) => {
  const line = raw.trim();
  if (line === "quit") return void stop();
  if (line === "members") {
    const members = node.members().filter((m) => m.state === "alive" || m.state === "suspect")
      .map((m) => ({ name: m.name, addr: m.address, state: m.state, meta: "" }));
    emit({ event: "members", members });
    emit({ event: "result", cmd: "members", ok: true });
  } else if (line !== "") {
    emit({ event: "result", cmd: line.split(" ")[0], ok: false, error: "unknown command" });
  }
});
rl.on("close", () => void stop());
