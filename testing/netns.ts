/**
 * A throwaway multi-host network on one machine, for chaos tests: one bridge namespace with a
 * Linux bridge, `hosts` namespaces each joined to it by a veth pair, and a "probe" veth from
 * the root namespace into the bridge so the test process itself can reach every host.
 *
 * The kernel here has no netem, so faults come from nftables in the bridge namespace (a
 * `table bridge` forward chain): random loss per frame and partitions between host ports.
 * Frames from/to the probe port are never dropped, so the test keeps seeing every host.
 * Delay and jitter are not a kernel feature here: inject them in the transport instead.
 *
 * Names carry the prefix, a run id and the owner's pid (`rcx-1a2b3c-4242-h0`), so concurrent
 * runs never clash and namespaces left by a killed run are recognised and removed by
 * {@link cleanupStaleNamespaces} (called by every {@link createTestbed}).
 *
 * ```ts
 * const can = await canCreateNamespaces();
 * if (!can.ok) console.log(`skipped: ${can.reason}`);
 * const bed = await createTestbed({ hosts: 3 });
 * bed.address(0);                               // "10.200.<k>.1"
 * const child = bed.spawn(0, "node", ["server.mjs"]);
 * await bed.setLoss(50);                        // 5% of IPv4 frames between hosts dropped
 * await bed.partition([[0], [1, 2]]);
 * await bed.heal();
 * await bed.destroy();                          // also runs on exit/SIGINT/SIGTERM
 * ```
 *
 * @module
 */
import { type ChildProcess, spawn, type SpawnOptions, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import process from "node:process";
import {
  checkPrefix,
  cleanupStaleNamespaces,
  DEFAULT_PREFIX,
  deleteNamespaceSync,
  listNamespaces,
} from "./netns_admin.ts";
import { installExitCleanup, run, type RunResult, runSync } from "./netns_exec.ts";
import { forwardChainScript, lossScript, partitionScript } from "./netns_rules.ts";

export { canCreateNamespaces, cleanupStaleNamespaces, DEFAULT_PREFIX } from "./netns_admin.ts";
export type { RunResult } from "./netns_exec.ts";

/** Which namespace: a host index (0-based) or the bridge's own namespace. */
export type HostRef = number | "bridge";

/** Options of {@link createTestbed}. */
export interface TestbedOptions {
  /** Number of host namespaces (1-200). */
  hosts: number;
  /** Name prefix: 1-8 lowercase letters/digits, starting with a letter. Default "rcx". */
  prefix?: string;
}

const IFNAMSIZ = 15; // Linux interface names: at most 15 bytes

/** The running testbed made by {@link createTestbed}. */
export class Testbed {
  /** Unique id of this run (6 hex digits; the first two are the subnet's third octet). */
  readonly runId: string;
  /** Third octet k of the testbed's subnet 10.200.k.0/24. */
  readonly subnet: number;
  /** Number of hosts. */
  readonly hosts: number;
  /** Namespace holding the bridge and the nftables rules. */
  readonly bridgeNamespace: string;
  /** Host namespaces, by host index. */
  readonly hostNamespaces: readonly string[];
  /** Root-namespace end of the probe veth. */
  readonly probeInterface: string;
  /** Address of the root namespace on the testbed's subnet (10.200.k.254). */
  readonly probeAddress: string;
  #children = new Set<ChildProcess>();
  #destroyed = false;

  /** @internal use {@link createTestbed} */
  constructor(prefix: string, runId: string, subnet: number, hosts: number) {
    this.runId = runId;
    this.subnet = subnet;
    this.hosts = hosts;
    const base = `${prefix}-${runId}-${process.pid}`;
    this.bridgeNamespace = `${base}-br`;
    this.hostNamespaces = Array.from({ length: hosts }, (_, i) => `${base}-h${i}`);
    this.probeInterface = `${prefix}p${subnet}`;
    this.probeAddress = `10.200.${subnet}.254`;
    if (this.probeInterface.length > IFNAMSIZ) {
      throw new Error(`netns: ${this.probeInterface} is too long`);
    }
  }

  /** Whether {@link destroy} ran. */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** IPv4 address of host `i` (0-based): 10.200.k.(i+1). */
  address(host: number): string {
    this.#checkHost(host);
    return `10.200.${this.subnet}.${host + 1}`;
  }

  /** Namespace name of a host (or of the bridge). */
  namespace(host: HostRef): string {
    if (host === "bridge") return this.bridgeNamespace;
    this.#checkHost(host);
    return this.hostNamespaces[host];
  }

  /** Runs a command inside a namespace to completion. */
  exec(
    host: HostRef,
    cmd: string,
    args: string[] = [],
    options: { input?: string; timeoutMs?: number } = {},
  ): Promise<RunResult> {
    return run("ip", ["netns", "exec", this.namespace(host), cmd, ...args], options);
  }

  /** Starts a long-running process inside a namespace; {@link destroy} kills it. */
  spawn(host: HostRef, cmd: string, args: string[] = [], options: SpawnOptions = {}): ChildProcess {
    if (this.#destroyed) throw new Error("netns: testbed destroyed");
    // `ip netns exec` execs the command itself, so the child's pid is the program's pid.
    const child = spawn("ip", ["netns", "exec", this.namespace(host), cmd, ...args], options);
    this.#children.add(child);
    child.once("exit", () => this.#children.delete(child));
    child.once("error", () => this.#children.delete(child));
    return child;
  }

  /** Drops `perMille`/1000 of the IPv4 frames between any two hosts, each direction on its own. 0 removes the loss. */
  async setLoss(perMille: number): Promise<void> {
    if (!Number.isInteger(perMille) || perMille < 0 || perMille > 1000) {
      throw new RangeError(`netns: loss must be an integer 0-1000 per mille, got ${perMille}`);
    }
    await this.#nft(lossScript(perMille));
  }

  /**
   * Blocks every frame between hosts of different groups (hosts in no group keep talking to
   * everyone). Replaces the previous partition; the loss setting stays.
   */
  async partition(groups: number[][]): Promise<void> {
    const seen = new Set<number>();
    for (const g of groups) {
      for (const h of g) {
        this.#checkHost(h);
        if (seen.has(h)) throw new Error(`netns: host ${h} is in two partition groups`);
        seen.add(h);
      }
    }
    await this.#nft(partitionScript(groups));
  }

  /** Removes partitions and loss: every host reaches every other again. */
  async heal(): Promise<void> {
    await this.#nft(partitionScript([]) + lossScript(0));
  }

  /** The bridge namespace's nftables ruleset (with counters), for diagnostics. */
  async rules(): Promise<string> {
    return (await this.exec("bridge", "nft", ["list", "ruleset"])).stdout;
  }

  /**
   * Kills the spawned processes and anything else left in the namespaces, deletes every
   * namespace and the probe interface. Idempotent.
   */
  async destroy(): Promise<void> {
    const children = [...this.#children];
    this.destroySync();
    await Promise.all(
      children.map((c) =>
        c.exitCode !== null || c.signalCode !== null ? undefined : new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 5000);
          c.once("exit", () => {
            clearTimeout(timer);
            resolve();
          });
        })
      ),
    );
  }

  /** Synchronous {@link destroy} (without waiting for exit events), for process exit hooks. */
  destroySync(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const child of this.#children) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
    for (const ns of [...this.hostNamespaces, this.bridgeNamespace]) deleteNamespaceSync(ns);
    // Namespace teardown is asynchronous in the kernel: remove the root end of the probe now.
    runSync("ip", ["link", "del", this.probeInterface]);
    live.delete(this);
  }

  async #nft(script: string): Promise<void> {
    if (this.#destroyed) throw new Error("netns: testbed destroyed");
    const r = await this.exec("bridge", "nft", ["-f", "-"], { input: script });
    if (r.code !== 0) throw new Error(`netns: nft failed: ${r.stderr.trim()}\n${script}`);
  }

  #checkHost(host: number): void {
    if (!Number.isInteger(host) || host < 0 || host >= this.hosts) {
      throw new RangeError(`netns: no host ${host} (hosts 0-${this.hosts - 1})`);
    }
  }
}

const live = new Set<Testbed>();

function destroyAllLive(): void {
  for (const bed of [...live]) bed.destroySync();
}

/** Third octets already on a root-namespace address or route (another testbed's probe). */
function subnetsInUse(): Set<number> {
  const used = new Set<number>();
  const text = runSync("ip", ["-4", "-o", "addr", "show"]).stdout +
    runSync("ip", ["-4", "route", "show"]).stdout;
  for (const m of text.matchAll(/\b10\.200\.(\d+)\./g)) used.add(Number(m[1]));
  return used;
}

async function must(cmd: string, args: string[], input?: string): Promise<void> {
  const r = await run(cmd, args, { input });
  if (r.code !== 0) {
    throw new Error(`netns: \`${cmd} ${args.join(" ")}\` failed: ${(r.error ?? r.stderr).trim()}`);
  }
}

/**
 * Builds a testbed: bridge namespace, `hosts` host namespaces (address 10.200.k.(i+1)/24 on
 * `eth0`, loopback up), the probe veth (10.200.k.254/24 in the root namespace) and an empty
 * nftables forward chain. k is picked at random among the subnets not in use and reserved by
 * creating the probe interface, whose name carries k.
 *
 * @example
 * ```ts
 * const bed = await createTestbed({ hosts: 5 });
 * try { ... } finally { await bed.destroy(); }
 * ```
 */
export async function createTestbed(options: TestbedOptions): Promise<Testbed> {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  checkPrefix(prefix);
  if (!Number.isInteger(options.hosts) || options.hosts < 1 || options.hosts > 200) {
    throw new RangeError(`netns: hosts must be 1-200, got ${options.hosts}`);
  }
  await cleanupStaleNamespaces({ prefix });
  installExitCleanup(destroyAllLive);
  const used = subnetsInUse();
  for (let attempt = 0; attempt < 30; attempt++) {
    const k = 1 + (randomBytes(1)[0] % 253);
    if (used.has(k)) continue;
    const runId = k.toString(16).padStart(2, "0") + randomBytes(2).toString("hex");
    const bed = new Testbed(prefix, runId, k, options.hosts);
    live.add(bed); // from here on, exit hooks clean up a half-built testbed too
    try {
      const br = bed.bridgeNamespace;
      await must("ip", ["netns", "add", br]);
      const probe = await run("ip", [
        "link",
        "add",
        bed.probeInterface,
        "type",
        "veth",
        "peer",
        "name",
        "probe",
        "netns",
        br,
      ]);
      if (probe.code !== 0) {
        // Taken by a concurrent run (the interface name is the reservation of k): try another k.
        used.add(k);
        bed.destroySync();
        continue;
      }
      await must("ip", ["-n", br, "link", "set", "lo", "up"]);
      await must("ip", ["-n", br, "link", "add", "br0", "type", "bridge"]);
      await must("ip", ["-n", br, "link", "set", "br0", "up"]);
      await must("ip", ["-n", br, "link", "set", "probe", "master", "br0", "up"]);
      await must("ip", ["addr", "add", `${bed.probeAddress}/24`, "dev", bed.probeInterface]);
      await must("ip", ["link", "set", bed.probeInterface, "up"]);
      for (let i = 0; i < bed.hosts; i++) {
        const ns = bed.hostNamespaces[i];
        await must("ip", ["netns", "add", ns]);
        await must("ip", [
          "-n",
          br,
          "link",
          "add",
          `h${i}`,
          "type",
          "veth",
          "peer",
          "name",
          "eth0",
          "netns",
          ns,
        ]);
        await must("ip", ["-n", br, "link", "set", `h${i}`, "master", "br0", "up"]);
        await must("ip", ["-n", ns, "link", "set", "lo", "up"]);
        await must("ip", ["-n", ns, "addr", "add", `${bed.address(i)}/24`, "dev", "eth0"]);
        await must("ip", ["-n", ns, "link", "set", "eth0", "up"]);
      }
      await must("ip", ["netns", "exec", br, "nft", "-f", "-"], forwardChainScript());
      return bed;
    } catch (err) {
      bed.destroySync();
      throw err;
    }
  }
  throw new Error("netns: found no free 10.200.k.0/24 subnet after 30 attempts");
}

/** Names of the namespaces that exist now, for assertions in tests. */
export function existingNamespaces(): string[] {
  return listNamespaces();
}

/** Whether an interface of this name exists in the root namespace. */
export function rootInterfaceExists(name: string): boolean {
  return spawnSync("ip", ["link", "show", name], { stdio: "ignore" }).status === 0;
}
