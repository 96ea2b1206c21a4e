/**
 * One node of the multi-process log benchmark (started by bench/log_bench.ts with
 * `--procs`). Speaks JSON lines: commands on stdin, replies on stdout.
 *
 *   <runtime> log_bench_node.ts <name> <lan|wan> [open|keyed|tls]
 *
 * `keyed` protects the log port with the bench key, `tls` with the PEM files named by
 * LOG_BENCH_TLS_CA, LOG_BENCH_TLS_CERT and LOG_BENCH_TLS_KEY (bench/log_bench_tls.ts).
 *
 * Values carry their send time (log_bench_value.ts), so receivers measure append-to-visible
 * latency without any coordination.
 *
 * @module
 */
import { createInterface } from "node:readline";
import { nodeNetwork } from "../transport/node.ts";
import { presets } from "../presets/mod.ts";
import { type LogSecurity, ReplicatedLog } from "../log/mod.ts";
import { readFileSync } from "node:fs";
import { BENCH_KEY } from "./log_bench_tls.ts";
import { epochNow, sentAt, timedValue } from "./log_bench_value.ts";

const args = (globalThis as { Deno?: { args: string[] } }).Deno?.args ?? process.argv.slice(2);
const [name, env, mode = "open"] = args as [string, "lan" | "wan", string?];
function security(): LogSecurity | undefined {
  if (mode === "keyed") {
    return { mode: "keyed", keys: { primaryKey: () => BENCH_KEY, keys: () => [BENCH_KEY] } };
  }
  if (mode !== "tls") return undefined;
  const pem = (v: string) => readFileSync(process.env[`LOG_BENCH_TLS_${v}`] ?? "", "utf8");
  return { mode: "tls", ca: pem("CA"), cert: pem("CERT"), key: pem("KEY") };
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function value(i: number): Uint8Array {
  return timedValue(name, i);
}

function reply(msg: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(msg) + "\n");
}

function pct(sorted: number[], p: number): number {
  return sorted.length === 0
    ? NaN
    : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const log = await ReplicatedLog.create({
  name,
  environment: env,
  network: nodeNetwork,
  bind: { host: "127.0.0.1", port: 0 },
  tuning: presets[env].log,
  security: security(),
});
let latencies: number[] = [];
let collecting = false;
log.subscribe((e) => {
  if (!collecting || e.origin === name) return;
  const t = sentAt(e.value);
  if (!Number.isNaN(t)) latencies.push(epochNow() - t);
});
const total = (): number => [...log.heads().values()].reduce((a, b) => a + b, 0);

async function handle(cmd: Record<string, unknown>): Promise<void> {
  switch (cmd.cmd) {
    case "peers": {
      log.setPeers(cmd.peers as { name: string; address: { host: string; port: number } }[]);
      while (log.connectedPeers().length < (cmd.peers as unknown[]).length) await sleep(2);
      return reply({ type: "connected" });
    }
    case "write": {
      const n = cmd.n as number;
      const t0 = epochNow();
      let inflight: Promise<unknown>[] = [];
      for (let i = 0; i < n; i++) {
        inflight.push(log.append(value(i)));
        if (inflight.length >= 1000) {
          await Promise.all(inflight);
          inflight = [];
        }
      }
      await Promise.all(inflight);
      return reply({ type: "written", ms: epochNow() - t0 });
    }
    case "waitTotal": {
      while (total() < (cmd.total as number)) await sleep(1);
      return reply({ type: "reached", at: epochNow() });
    }
    case "collect":
      latencies = [];
      collecting = true;
      return reply({ type: "collecting" });
    case "rate": {
      const rate = cmd.rate as number;
      const count = cmd.count as number;
      const t0 = epochNow();
      let sent = 0;
      while (sent < count) {
        const due = Math.min(count, Math.floor(((epochNow() - t0) / 1000) * rate) + 1);
        for (; sent < due; sent++) void log.append(value(sent), { ack: "none" });
        await sleep(1);
      }
      return reply({ type: "sent" });
    }
    case "latencies": {
      while (latencies.length < (cmd.count as number)) await sleep(5);
      collecting = false;
      const l = latencies.sort((a, b) => a - b);
      return reply({
        type: "latencies",
        p50: pct(l, 50),
        p99: pct(l, 99),
        max: l[l.length - 1],
        n: l.length,
      });
    }
    case "quorum": {
      const lat: number[] = [];
      let t0 = epochNow();
      let n = 0;
      while (n < 5000 && epochNow() - t0 < 2000) {
        const s = epochNow();
        await log.append(value(n++), { ack: "quorum" });
        lat.push(epochNow() - s);
      }
      const sequentialPerSec = n / ((epochNow() - t0) / 1000);
      lat.sort((a, b) => a - b);
      t0 = epochNow();
      let done = 0;
      const worker = async (): Promise<void> => {
        while (epochNow() - t0 < 2000) {
          await log.append(value(done), { ack: "quorum" });
          done++;
        }
      };
      await Promise.all(Array.from({ length: 64 }, worker));
      return reply({
        type: "quorum",
        sequentialPerSec,
        sequentialP50Ms: pct(lat, 50),
        sequentialP99Ms: pct(lat, 99),
        concurrent64PerSec: done / ((epochNow() - t0) / 1000),
      });
    }
    case "stats":
      return reply({ type: "stats", stats: log.stats(), total: total() });
    case "close":
      await log.close();
      reply({ type: "closed" });
      process.exit(0);
  }
}

const rl = createInterface({ input: process.stdin });
let queue: Promise<void> = Promise.resolve();
rl.on("line", (line) => {
  const cmd = JSON.parse(line) as Record<string, unknown>;
  queue = queue.then(() => handle(cmd)).catch((err) =>
    reply({ type: "error", message: String(err) })
  );
});
reply({ type: "ready", address: log.address });
