/**
 * One node of the soak benchmark (bench/soak.ts) in its own process: a replicated log on the
 * default memory store (origin `name@run`, as the cluster names it) with the `local` preset,
 * running its share of a live-map workload. Speaks JSON lines on stdin/stdout:
 *
 * - ready: `{ type: "ready", address }` once listening;
 * - `{ cmd: "peers", peers }` → `{ type: "peers" }`;
 * - `{ cmd: "run", writesPerSec, keys, sessions, sessionTtlMs }` → `{ type: "running" }`:
 *   sets random keys of `keys` at `writesPerSec`, and keeps `sessions` sessions alive: each
 *   is replaced by a new session id (TTL `sessionTtlMs`) every TTL/2, so old ones expire;
 * - `{ cmd: "sample" }` → `{ type: "sample", heapMB, rssMB, writes, stats }` (after a GC when
 *   the runtime exposes one, so the heap is what is live);
 * - `{ cmd: "close" }` → `{ type: "closed" }`, then exit.
 *
 * Argument: `{ name }`.
 *
 * @module
 */
import process from "node:process";
import { createInterface } from "node:readline";
import { nodeNetwork } from "../transport/node.ts";
import { type LogPeer, ReplicatedLog } from "../log/mod.ts";
import { presets } from "../presets/mod.ts";

const { name } = JSON.parse(process.argv[process.argv.length - 1]) as { name: string };

function reply(msg: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(msg) + "\n");
}

const log = await ReplicatedLog.create({
  name,
  origin: `${name}@${Date.now().toString(36)}`,
  environment: "local",
  network: nodeNetwork,
  bind: { host: "127.0.0.1", port: 0 },
  tuning: presets.local.log,
});

let writes = 0;
const timers: ReturnType<typeof setInterval>[] = [];

// event-loop stalls of any cause (load, GC, compaction): a 5 ms timer's lateness
let lagMaxMs = 0;
let lagsOver10ms = 0;
let lastTick = performance.now();
timers.push(setInterval(() => {
  const now = performance.now();
  const lag = now - lastTick - 5;
  lastTick = now;
  if (lag > lagMaxMs) lagMaxMs = lag;
  if (lag > 10) lagsOver10ms++;
}, 5));

function run(cfg: { writesPerSec: number; keys: number; sessions: number; sessionTtlMs: number }) {
  // position updates: one tick every 10 ms carries writesPerSec / 100 writes
  const perTick = cfg.writesPerSec / 100;
  let carry = 0;
  timers.push(setInterval(() => {
    carry += perTick;
    for (; carry >= 1; carry--) {
      const k = Math.floor(Math.random() * cfg.keys);
      const pos = { x: Math.random() * 1000, y: Math.random() * 1000, t: Date.now() };
      log.cache.setJSON(`pos:${k}`, pos, { ack: "none" }).catch(() => {});
      writes++;
    }
  }, 10));
  // sessions: each slot gets a fresh session id every TTL/2; the old id expires
  const ids = new Array<number>(cfg.sessions).fill(0);
  let next = 0;
  const period = cfg.sessionTtlMs / 2;
  const perTickSessions = cfg.sessions / (period / 100);
  let carryS = 0;
  let slot = 0;
  timers.push(setInterval(() => {
    carryS += perTickSessions;
    for (; carryS >= 1; carryS--) {
      ids[slot] = ++next;
      log.cache.set(`session:${name}:${ids[slot]}`, `user-${slot}`, {
        ttl: cfg.sessionTtlMs,
        ack: "none",
      }).catch(() => {});
      writes++;
      slot = (slot + 1) % cfg.sessions;
    }
  }, 100));
}

const gc = (globalThis as { gc?: () => void }).gc;

createInterface({ input: process.stdin }).on("line", async (line) => {
  const msg = JSON.parse(line) as Record<string, unknown>;
  switch (msg.cmd) {
    case "peers":
      log.setPeers(msg.peers as LogPeer[]);
      reply({ type: "peers" });
      break;
    case "run":
      run(msg as unknown as Parameters<typeof run>[0]);
      reply({ type: "running" });
      break;
    case "sample": {
      gc?.();
      const m = process.memoryUsage();
      reply({
        type: "sample",
        heapMB: m.heapUsed / 1048576,
        rssMB: m.rss / 1048576,
        heapTotalMB: m.heapTotal / 1048576,
        externalMB: m.external / 1048576,
        writes,
        lagMaxMs,
        lagsOver10ms,
        stats: log.stats(),
      });
      break;
    }
    case "close":
      for (const t of timers) clearInterval(t);
      await log.close();
      reply({ type: "closed" });
      process.exit(0);
  }
});

reply({ type: "ready", address: log.address });
