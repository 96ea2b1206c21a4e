/**
 * A real dnsmasq for tests: serves A/AAAA records from a hosts file of its own and SRV records
 * from its command line, on a free loopback port; the records change when the test rewrites
 * the hosts file ({@link Dnsmasq.setHosts}: rewrite, SIGHUP, wait until it answers anew).
 *
 * The binary comes from Debian (`apt-get install -y dnsmasq`, `/usr/sbin/dnsmasq`) or from
 * `$DNSMASQ`. {@link dnsmasqPath} returns undefined when there is none (tests skip with the
 * reason printed: scripts/test installs it).
 *
 * ```ts
 * const dns = await Dnsmasq.start({ hosts: "127.0.0.2 rc.test\n", srv: ["_rc._tcp.rc.test,n1.rc.test,4000"] });
 * dns.server; // "127.0.0.1:<port>": Resolver.setServers([dns.server])
 * await dns.setHosts("127.0.0.2 rc.test\n127.0.0.3 rc.test\n");
 * await dns.stop(); // in after(): always
 * ```
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { Resolver } from "node:dns/promises";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

/** Path of dnsmasq, or undefined when it is not installed. */
export function dnsmasqPath(): string | undefined {
  const fromEnv = process.env.DNSMASQ;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  for (const p of ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"]) if (existsSync(p)) return p;
  return undefined;
}

/** A UDP port on 127.0.0.1 that was free a moment ago. */
function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket("udp4");
    s.once("error", reject);
    s.bind(0, "127.0.0.1", () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A running dnsmasq serving one test's records. */
export class Dnsmasq {
  /** `127.0.0.1:<port>`, for `Resolver.setServers` and the `servers` option. */
  readonly server: string;
  readonly #dir: string;
  readonly #proc: ChildProcess;
  #output = "";
  #exited = false;

  private constructor(server: string, dir: string, proc: ChildProcess) {
    this.server = server;
    this.#dir = dir;
    this.#proc = proc;
    proc.stdout?.on("data", (d) => (this.#output += String(d)));
    proc.stderr?.on("data", (d) => (this.#output += String(d)));
    proc.once("exit", () => (this.#exited = true));
  }

  /**
   * Starts dnsmasq with these records and waits until it answers.
   * @param records `hosts`: a hosts file's text; `srv`: `--srv-host` values
   *   (`_service._tcp.name,target,port`)
   */
  static async start(records: { hosts: string; srv?: string[] }): Promise<Dnsmasq> {
    const bin = dnsmasqPath();
    if (!bin) throw new Error("dnsmasq is not installed: apt-get install -y dnsmasq");
    const dir = mkdtempSync(join(tmpdir(), "rc-dnsmasq-"));
    writeFileSync(join(dir, "hosts"), records.hosts);
    writeFileSync(join(dir, "dnsmasq.conf"), "# this test's own configuration\n");
    for (let attempt = 0;; attempt++) {
      const port = await freeUdpPort();
      const proc = spawn(bin, [
        "--no-daemon",
        `--conf-file=${join(dir, "dnsmasq.conf")}`,
        `--port=${port}`,
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        "--no-resolv",
        "--no-hosts",
        "--local=/test/", // names under .test are ours: NXDOMAIN, never forwarded
        `--addn-hosts=${join(dir, "hosts")}`,
        ...(records.srv ?? []).map((s) => `--srv-host=${s}`),
        "--pid-file=",
        "--user=root",
        "--log-facility=-",
        "--cache-size=0",
      ], { stdio: ["ignore", "pipe", "pipe"] });
      const d = new Dnsmasq(`127.0.0.1:${port}`, dir, proc);
      if (await d.#answers()) return d;
      await d.stop(false);
      if (attempt >= 2) {
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`dnsmasq did not start:\n${d.#output}`);
      }
    }
  }

  /** True once dnsmasq answers a query (any answer, NXDOMAIN included). */
  async #answers(timeoutMs = 5000): Promise<boolean> {
    const r = new Resolver({ timeout: 200, tries: 1 });
    r.setServers([this.server]);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !this.#exited) {
      try {
        await r.resolve4("probe.nonexistent.test");
        return true;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === "ENOTFOUND" || code === "ENODATA") return true;
      }
      await sleep(50);
    }
    return false;
  }

  /** Replaces the hosts file, makes dnsmasq re-read it (SIGHUP) and waits until it does. */
  async setHosts(text: string, expect?: { name: string; addresses: string[] }): Promise<void> {
    writeFileSync(join(this.#dir, "hosts"), text);
    this.#proc.kill("SIGHUP");
    if (!expect) return;
    const r = new Resolver({ timeout: 500, tries: 1 });
    r.setServers([this.server]);
    const want = [...expect.addresses].sort().join(",");
    const deadline = Date.now() + 10_000;
    for (;;) {
      const got = await r.resolve4(expect.name).then((a) => a.sort().join(","), () => "");
      if (got === want) return;
      if (Date.now() > deadline) {
        throw new Error(`dnsmasq still answers ${got} for ${expect.name}, not ${want}`);
      }
      await sleep(50);
    }
  }

  /** Stops dnsmasq and removes its files. */
  async stop(removeFiles = true): Promise<void> {
    if (!this.#exited) {
      const exited = new Promise((r) => this.#proc.once("exit", r));
      this.#proc.kill("SIGTERM");
      await Promise.race([exited, sleep(3000)]);
      if (!this.#exited) this.#proc.kill("SIGKILL");
    }
    if (removeFiles) rmSync(this.#dir, { recursive: true, force: true });
  }
}
