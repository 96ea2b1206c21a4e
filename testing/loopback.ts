/**
 * Small pieces the cluster() tests share: a loopback stanza on ephemeral ports, and a poll
 * until a condition holds (with a deadline that names what was awaited).
 *
 * ```ts
 * const a = await cluster(loopback(), { name: "a" });
 * await until("a sees itself", () => a.members().length === 1);
 * ```
 *
 * @module
 */
import type { Cluster, ClusterStanza } from "../mod.ts";

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 50 ms; throws "timed out waiting until <what>" after `timeoutMs`. */
export async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

/** A `local` stanza bound to 127.0.0.1 on ephemeral ports, plus `extra`. */
export const loopback = (extra: Partial<ClusterStanza> = {}): ClusterStanza => ({
  environment: "local",
  bind_address: "127.0.0.1",
  bind_port: 0,
  memberlist_bind_address: "127.0.0.1",
  memberlist_bind_port: 0,
  ...extra,
});

/** Members this node sees alive, itself included. */
export const aliveCount = (node: Cluster): number =>
  node.members().filter((m) => m.state === "alive").length;
