/**
 * Namespace housekeeping shared by the testbed: the naming scheme, listing and deleting
 * namespaces, removing what killed runs left behind, and the "can we do this here" check.
 *
 * ```ts
 * const can = await canCreateNamespaces();
 * await cleanupStaleNamespaces({ prefix: "rcx" });
 * ```
 *
 * @module
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import process from "node:process";
import { run, runSync } from "./netns_exec.ts";
import { forwardChainScript, lossScript } from "./netns_rules.ts";

/** Default name prefix of everything a testbed creates. */
export const DEFAULT_PREFIX: string = "rcx";

/** Throws unless `prefix` keeps every interface name within 15 bytes. */
export function checkPrefix(prefix: string): void {
  if (!/^[a-z][a-z0-9]{0,7}$/.test(prefix)) {
    throw new Error(
      `netns: prefix must be 1-8 of [a-z0-9] starting with a letter, got ${JSON.stringify(prefix)}`,
    );
  }
}

function namePattern(prefix: string): RegExp {
  return new RegExp(`^${prefix}-([0-9a-f]{6})-(\\d+)-(br|h\\d+|chk)$`);
}

/** Every namespace name `ip netns list` shows. */
export function listNamespaces(): string[] {
  const r = runSync("ip", ["netns", "list"]);
  return r.stdout.split("\n").map((l) => l.trim().split(/\s+/)[0]).filter((n) =>
    n !== "" && n !== undefined
  );
}

/** Kills every process still inside `ns` (ours: only test programs run there), then deletes it. */
export function deleteNamespaceSync(ns: string): void {
  const pids = runSync("ip", ["netns", "pids", ns]).stdout.split(/\s+/).filter((p) =>
    /^\d+$/.test(p)
  );
  for (const pid of pids) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // already gone
    }
  }
  runSync("ip", ["netns", "del", ns]);
}

/**
 * Removes namespaces named with `prefix` whose owner process is gone (a run that was killed
 * before its cleanup ran). With `all`, removes them even when the owner still runs.
 * Returns the names removed.
 *
 * @example
 * ```ts
 * const removed = await cleanupStaleNamespaces({ prefix: "rcx" });
 * ```
 */
export function cleanupStaleNamespaces(
  options: { prefix?: string; all?: boolean } = {},
): Promise<string[]> {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  checkPrefix(prefix);
  const pattern = namePattern(prefix);
  const removed: string[] = [];
  for (const ns of listNamespaces()) {
    const m = pattern.exec(ns);
    if (m === null) continue;
    const owner = Number(m[2]);
    const ownerAlive = owner === process.pid || existsSync(`/proc/${owner}`);
    if (ownerAlive && options.all !== true) continue;
    deleteNamespaceSync(ns);
    removed.push(ns);
    // The root end of its probe veth would go with the bridge namespace, but only later (the
    // kernel tears namespaces down asynchronously); its name carries the subnet, which no live
    // run can hold while this interface exists.
    if (m[3] === "br") {
      runSync("ip", ["link", "del", `${prefix}p${parseInt(m[1].slice(0, 2), 16)}`]);
    }
  }
  return Promise.resolve(removed);
}

let canCreate: Promise<{ ok: boolean; reason?: string }> | undefined;

/**
 * Whether this process can build testbeds: Linux, root, `ip` and `nft` present, and a trial
 * namespace with a bridge, a veth pair and a `table bridge` rule with `numgen` really works.
 * The result is cached for the process.
 *
 * @example
 * ```ts
 * const can = await canCreateNamespaces();
 * const skip = can.ok ? false : `network namespaces unavailable: ${can.reason}`;
 * ```
 */
export function canCreateNamespaces(): Promise<{ ok: boolean; reason?: string }> {
  canCreate ??= checkNamespaces();
  return canCreate;
}

async function checkNamespaces(): Promise<{ ok: boolean; reason?: string }> {
  if (process.platform !== "linux") {
    return { ok: false, reason: `needs Linux, this is ${process.platform}` };
  }
  const uid = typeof process.getuid === "function" ? process.getuid() : -1;
  if (uid !== 0) {
    return { ok: false, reason: `needs root to create network namespaces (uid ${uid})` };
  }
  const ip = await run("ip", ["-V"]);
  if (ip.code !== 0) {
    return { ok: false, reason: `iproute2 \`ip\` is not usable: ${ip.error ?? ip.stderr.trim()}` };
  }
  const nft = await run("nft", ["--version"]);
  if (nft.code !== 0) {
    return {
      ok: false,
      reason: `nftables \`nft\` is not usable: ${nft.error ?? nft.stderr.trim()}`,
    };
  }
  const ns = `${DEFAULT_PREFIX}-${randomBytes(3).toString("hex")}-${process.pid}-chk`;
  const steps: [string, string[], string?][] = [
    ["ip", ["netns", "add", ns]],
    ["ip", ["-n", ns, "link", "add", "b0", "type", "bridge"]],
    ["ip", ["-n", ns, "link", "add", "v0", "type", "veth", "peer", "name", "v1"]],
    ["ip", ["netns", "exec", ns, "nft", "-f", "-"], forwardChainScript() + lossScript(1)],
  ];
  try {
    for (const [cmd, args, input] of steps) {
      const r = await run(cmd, args, { input });
      if (r.code !== 0) {
        return {
          ok: false,
          reason: `\`${cmd} ${args.join(" ")}\` failed: ${(r.error ?? r.stderr).trim()}`,
        };
      }
    }
    return { ok: true };
  } finally {
    await run("ip", ["netns", "del", ns]);
  }
}
