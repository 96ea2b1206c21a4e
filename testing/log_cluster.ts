// Shared by the log tests: clusters of replicated logs on real loopback sockets.
import { systemClock } from "../transport/clock.ts";
import { nodeNetwork } from "../transport/node.ts";
import type { Clock, HostPort } from "../transport/types.ts";
import { type LogSecurity, type LogStore, type LogTuning, ReplicatedLog } from "../log/mod.ts";

/** Loopback tuning: immediate pushes, a quick sync so repairs are fast in tests. */
export const testTuning: LogTuning = {
  pushMode: "immediate",
  batchWindowMs: 0,
  compress: false,
  syncIntervalMs: 150,
  maxBatchEntries: 64,
  maxBatchBytes: 32 * 1024,
  maxFrameBytes: 1 << 20,
  connectTimeoutMs: 1000,
};

/** WAN-like: batched and compressed. */
export const wanTuning: LogTuning = {
  ...testTuning,
  pushMode: "batched",
  batchWindowMs: 10,
  compress: true,
};

/** A clock whose `now()` can be moved forward (timers stay real). */
export function offsetClock(): Clock & { offset: number } {
  const c = {
    offset: 0,
    now: (): number => systemClock.now() + c.offset,
    setTimeout: systemClock.setTimeout,
    clearTimeout: systemClock.clearTimeout,
  };
  return c;
}

export interface NodeOptions {
  tuning?: LogTuning;
  environment?: string;
  clock?: Clock;
  store?: LogStore;
  origin?: string;
  /** Keyed or TLS protection of the log port. */
  security?: LogSecurity;
}

/** Starts one log on 127.0.0.1:0. */
export function startLog(name: string, o: NodeOptions = {}): Promise<ReplicatedLog> {
  return ReplicatedLog.create({
    name,
    origin: o.origin,
    environment: o.environment ?? "local",
    network: nodeNetwork,
    clock: o.clock,
    bind: { host: "127.0.0.1", port: 0 },
    tuning: o.tuning ?? testTuning,
    store: o.store,
    quorumTimeoutMs: 3000,
    security: o.security,
  });
}

/** The listener address of a replicating log. */
export function addr(log: ReplicatedLog): HostPort {
  const a = log.address;
  if (a === undefined) throw new Error(`${log.name} is isolated`);
  return a;
}

/** Tells every log about every other one. */
export function wire(logs: readonly ReplicatedLog[]): void {
  for (const l of logs) {
    l.setPeers(logs.filter((o) => o !== l).map((o) => ({ name: o.name, address: addr(o) })));
  }
}

/** Polls `cond` until true; throws after `ms` with `what`. */
export async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Heads as a plain object with sorted keys. */
export function headsOf(log: ReplicatedLog): Record<string, number> {
  return Object.fromEntries([...log.heads()].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
}

/** True when every log has `expected` heads and all cache digests agree. */
export function converged(
  logs: readonly ReplicatedLog[],
  expected: Record<string, number>,
): boolean {
  const want = JSON.stringify(expected);
  if (!logs.every((l) => JSON.stringify(headsOf(l)) === want)) return false;
  const d = logs[0].cacheDigest();
  return logs.every((l) => l.cacheDigest() === d);
}

/** Closes every log, ignoring errors. */
export async function closeAll(logs: readonly ReplicatedLog[]): Promise<void> {
  await Promise.all(logs.map((l) => l.close().catch(() => {})));
}
