/**
 * The log benchmark's workload on NATS JetStream: a real 3-node nats-server cluster on
 * loopback (JetStream, memory storage, 3 replicas), started and stopped here.
 *
 * - throughput: 3 publishers (one per server) each publish `entries` messages with up to
 *   1,000 unacknowledged; rate of messages stored on every replica;
 * - async publishes: one publisher, 64 in flight (as the log's concurrent quorum appends);
 * - sync publishes: one at a time, each waiting for its ack (as sequential quorum appends);
 * - KV put → watcher on another server at a fixed rate (as append-to-visible latency).
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstream, jetstreamManager, StorageType } from "@nats-io/jetstream";
import { Kvm, KvWatchInclude } from "@nats-io/kv";
import { epochNow, sentAt } from "./log_bench_value.ts";
import type { BenchCerts } from "./log_bench_tls.ts";

/** KV put → watcher on another server, at a fixed rate. */
export interface KvLatency {
  rate: number;
  entries: number;
  received: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** What the JetStream run measured. */
export interface JetStreamResult {
  server: string;
  throughput: { entriesPerPublisher: number; storedPerSecPerReplica: number; ms: number };
  async64PerSec: number;
  sync: { perSec: number; p50Ms: number; p99Ms: number };
  kvWatch: KvLatency;
  kvWatchLow: KvLatency;
}

/** Options of {@link benchJetStream}. */
export interface JetStreamBenchOptions {
  entries: number;
  rate: number;
  lowRate: number;
  seconds: number;
  value: (i: number) => Uint8Array;
  /** Mutual TLS on client connections and cluster routes (verify: true on both). */
  tls?: BenchCerts;
}

const NATS_SERVER = process.env.NATS_SERVER ?? "/usr/sbin/nats-server";
const now = (): number => performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

const r = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function startCluster(
  dir: string,
  certs?: BenchCerts,
): Promise<{ procs: ChildProcess[]; urls: string[] }> {
  const tls = certs === undefined
    ? ""
    : `tls { cert_file: "${certs.cert}", key_file: "${certs.key}", ` +
      `ca_file: "${certs.ca}", verify: true }`;
  const client = await Promise.all([0, 1, 2].map(() => freePort()));
  const route = await Promise.all([0, 1, 2].map(() => freePort()));
  const procs = [0, 1, 2].map((i) => {
    const conf = join(dir, `n${i}.conf`);
    const routes = route.map((p) => `"nats-route://127.0.0.1:${p}"`).join(", ");
    writeFileSync(
      conf,
      `server_name: n${i}
listen: "127.0.0.1:${client[i]}"
${tls}
jetstream { store_dir: "${join(dir, `js${i}`)}", max_memory_store: 2G, max_file_store: 1G }
cluster { name: bench, listen: "127.0.0.1:${route[i]}", routes: [${routes}]${
        tls ? `, ${tls}` : ""
      } }
`,
    );
    return spawn(NATS_SERVER, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  });
  for (const p of procs) p.stderr!.on("data", () => {});
  return { procs, urls: client.map((p) => `nats://127.0.0.1:${p}`) };
}

async function retry<T>(what: string, fn: () => Promise<T>, ms = 30_000): Promise<T> {
  const end = now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (now() > end) throw new Error(`${what}: ${(err as Error).message}`);
      await sleep(200);
    }
  }
}

/** Runs the JetStream side of the benchmark; the cluster is always stopped afterwards. */
export async function benchJetStream(o: JetStreamBenchOptions): Promise<JetStreamResult> {
  const dir = mkdtempSync(join(tmpdir(), "log-bench-nats-"));
  const { procs, urls } = await startCluster(dir, o.tls);
  const tls = o.tls === undefined
    ? undefined
    : { caFile: o.tls.ca, certFile: o.tls.cert, keyFile: o.tls.key };
  const conns: NatsConnection[] = [];
  let phase = "cluster start";
  try {
    for (const url of urls) {
      conns.push(await retry("connect", () => connect({ servers: url, timeout: 2000, tls })));
    }
    const jsm = await retry("jetstream", () => jetstreamManager(conns[0], { timeout: 5000 }));
    // the meta leader needs a moment after the routes formed
    await retry("stream", () =>
      jsm.streams.add({
        name: "BENCH",
        subjects: ["bench.>"],
        storage: StorageType.Memory,
        num_replicas: 3,
      }));
    // generous ack deadline: under load a backlog of 1,000 in flight must not time out
    const js = conns.map((c) => jetstream(c, { timeout: 60_000 }));
    await retry("first publish", () => js[0].publish("bench.warm", o.value(0)));
    const server = conns[0].info?.version ?? "?";

    phase = "sync publishes";
    // sync: one at a time
    const lat: number[] = [];
    let t0 = now();
    while (now() - t0 < 2000) {
      const s = now();
      await js[0].publish("bench.sync", o.value(lat.length));
      lat.push(now() - s);
    }
    const syncPerSec = lat.length / ((now() - t0) / 1000);
    lat.sort((a, b) => a - b);

    phase = "async publishes";
    // async: 64 in flight
    t0 = now();
    let done = 0;
    const worker = async (): Promise<void> => {
      while (now() - t0 < 2000) {
        await js[0].publish("bench.async", o.value(done));
        done++;
      }
    };
    await Promise.all(Array.from({ length: 64 }, worker));
    const async64PerSec = done / ((now() - t0) / 1000);

    phase = "throughput";
    // throughput: 3 publishers, one per server, up to 1,000 unacknowledged each
    t0 = now();
    await Promise.all(js.map(async (j, n) => {
      let inflight: Promise<unknown>[] = [];
      for (let i = 0; i < o.entries; i++) {
        inflight.push(j.publish(`bench.tp.${n}`, o.value(i)));
        if (inflight.length >= 1000) {
          await Promise.all(inflight);
          inflight = [];
        }
      }
      await Promise.all(inflight);
    }));
    const tpMs = now() - t0;

    phase = "kv";
    // KV: put on server 0 at fixed rates, watch on server 1
    const kv = await retry(
      "kv",
      () => new Kvm(conns[0]).create("benchkv", { replicas: 3, storage: StorageType.Memory }),
    );
    const kvWatch = await new Kvm(conns[1]).open("benchkv");
    const kvLatency = async (rate: number): Promise<KvLatency> => {
      const count = rate * o.seconds;
      const seen: number[] = [];
      const watch = await kvWatch.watch({ include: KvWatchInclude.UpdatesOnly });
      const watching = (async () => {
        for await (const e of watch) {
          const t = sentAt(e.value);
          if (!Number.isNaN(t)) seen.push(epochNow() - t);
          if (seen.length >= count) break;
        }
      })();
      await sleep(200);
      const t0 = epochNow();
      let sent = 0;
      const puts: Promise<unknown>[] = [];
      while (sent < count) {
        const due = Math.min(count, Math.floor(((epochNow() - t0) / 1000) * rate) + 1);
        for (; sent < due; sent++) {
          puts.push(kv.put(`k${sent % 1000}`, o.value(sent)).catch(() => {}));
        }
        await sleep(1);
      }
      await Promise.all(puts);
      await Promise.race([watching, sleep(10_000)]);
      watch.stop();
      seen.sort((a, b) => a - b);
      return {
        rate,
        entries: count,
        received: seen.length,
        p50Ms: r(pct(seen, 50)),
        p99Ms: r(pct(seen, 99)),
        maxMs: r(seen[seen.length - 1] ?? NaN),
      };
    };
    const kvWatchAtRate = await kvLatency(o.rate);
    const kvWatchLow = await kvLatency(o.lowRate);
    return {
      server,
      throughput: {
        entriesPerPublisher: o.entries,
        storedPerSecPerReplica: Math.round((3 * o.entries) / (tpMs / 1000)),
        ms: r(tpMs, 1),
      },
      async64PerSec: Math.round(async64PerSec),
      sync: { perSec: Math.round(syncPerSec), p50Ms: r(pct(lat, 50)), p99Ms: r(pct(lat, 99)) },
      kvWatch: kvWatchAtRate,
      kvWatchLow,
    };
  } catch (err) {
    throw new Error(`JetStream ${phase}: ${err}`);
  } finally {
    await Promise.all(conns.map((c) => c.close().catch(() => {})));
    for (const p of procs) p.kill("SIGTERM");
    await Promise.all(
      procs.map((p) => p.exitCode !== null ? undefined : new Promise((r) => p.once("exit", r))),
    );
    rmSync(dir, { recursive: true, force: true });
  }
}
