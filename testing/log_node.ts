/**
 * One replicated-log node in its own process, for the durability tests (real processes,
 * real SIGKILL). Runs with `deno run -A testing/log_node.ts <json>` on the sources and
 * `node build/testing/log_node.js <json>` on the Node build (see log_procs.ts).
 *
 * Argument: `{ name, dir, fsync }`: the node's name and the directory of its FileLogStore.
 * Speaks JSON lines: commands on stdin, replies and events on stdout.
 *
 * - `{ cmd: "peers", peers }` → `{ type: "peers" }`
 * - `{ cmd: "write", concurrency, dieAfter? }`: appends with ack quorum until `stop`; every
 *   other entry is a cache write. Each acknowledged append is reported as
 *   `{ type: "acked", seq }` the moment its quorum promise resolves; with `dieAfter` the
 *   process SIGKILLs itself right after reporting that many acknowledgements.
 * - `{ cmd: "stop" }` → `{ type: "stopped", head }` once in-flight appends settled.
 * - `{ cmd: "state" }` → `{ type: "state", heads, digest, connected }`
 * - `{ cmd: "verify", origin, seqs }` → `{ type: "verified", missing, corrupt, head }`
 * - `{ cmd: "close" }` → `{ type: "closed" }`, then exit.
 *
 * @module
 */
import process from "node:process";
import { createInterface } from "node:readline";
import { nodeNetwork } from "../transport/node.ts";
import { FileLogStore, type FsyncPolicy, type LogPeer, ReplicatedLog } from "../log/mod.ts";
import { testTuning } from "./log_cluster.ts";

interface Args {
  name: string;
  dir: string;
  fsync: FsyncPolicy;
}

const args = JSON.parse(process.argv[process.argv.length - 1]) as Args;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const valueOf = (name: string, seq: number): string => `${name}#${seq}`;

function reply(msg: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(msg) + "\n");
}

const store = await FileLogStore.open(args.dir, { fsync: args.fsync });
const log = await ReplicatedLog.create({
  name: args.name,
  environment: "local",
  network: nodeNetwork,
  bind: { host: "127.0.0.1", port: 0 },
  tuning: testTuning,
  store,
  quorumTimeoutMs: 5000,
});

let writing = false;
let acked = 0;
let dieAfter = 0;
let writers: Promise<void>[] = [];

/** One writer: appends until stopped; a quorum timeout (peers just died) is retried. */
async function writer(): Promise<void> {
  let n = 0;
  while (writing) {
    // let stdin and timers in even when acks come back without any I/O wait
    if (++n % 32 === 0) await new Promise((r) => setTimeout(r, 0));
    const seq = (log.heads().get(log.name) ?? 0) + 1; // a guess, only for the value's text
    try {
      const at = seq % 2 === 0
        ? await log.cache.set(`k${seq % 50}`, valueOf(log.name, seq), { ack: "quorum" })
        : await log.append(encoder.encode(valueOf(log.name, seq)), { ack: "quorum" });
      reply({ type: "acked", seq: at.seq });
      // kill -9 of the writer at the worst moment: right as an acknowledgement came back,
      // before anything else of this process runs
      if (++acked === dieAfter) process.kill(process.pid, "SIGKILL");
    } catch {
      // not acknowledged: nothing is promised about it
    }
  }
}

async function verify(origin: string, seqs: number[]): Promise<Record<string, unknown>> {
  const want = new Set(seqs);
  const held = new Set<number>();
  let corrupt = 0;
  let prev = 0;
  for await (const e of log.read({ origin })) {
    if (e.seq !== prev + 1) corrupt++; // no compaction here: a hole is a defect
    prev = e.seq;
    held.add(e.seq);
    const text = decoder.decode(e.value);
    if (!text.startsWith(`${origin}#`)) corrupt++;
  }
  const missing = [...want].filter((s) => !held.has(s));
  return { type: "verified", missing, corrupt, head: log.heads().get(origin) ?? 0 };
}

async function handle(cmd: Record<string, unknown>): Promise<void> {
  switch (cmd.cmd) {
    case "peers":
      log.setPeers(cmd.peers as LogPeer[]);
      return reply({ type: "peers" });
    case "write":
      writing = true;
      dieAfter = (cmd.dieAfter as number | undefined) ?? 0;
      writers = Array.from({ length: cmd.concurrency as number }, writer);
      return;
    case "stop":
      writing = false;
      await Promise.all(writers);
      return reply({ type: "stopped", head: log.heads().get(log.name) ?? 0 });
    case "state":
      return reply({
        type: "state",
        heads: Object.fromEntries(log.heads()),
        digest: log.cacheDigest(),
        connected: log.connectedPeers().length,
      });
    case "verify":
      return reply(await verify(cmd.origin as string, cmd.seqs as number[]));
    case "close":
      writing = false;
      await log.close();
      reply({ type: "closed" });
      process.exit(0);
  }
}

let queue: Promise<void> = Promise.resolve();
createInterface({ input: process.stdin }).on("line", (line) => {
  const cmd = JSON.parse(line) as Record<string, unknown>;
  // "write" starts background work; everything else runs in order
  queue = queue.then(() => handle(cmd)).catch((err) =>
    reply({ type: "error", message: String(err) })
  );
});
// the test's end of stdin going away means the test is gone: do not linger
process.stdin.on("end", () => process.exit(0));
reply({
  type: "ready",
  address: log.address,
  heads: Object.fromEntries(log.heads()),
  records: store.recovery.records,
});
