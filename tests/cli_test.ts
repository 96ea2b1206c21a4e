import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { cliCommand, isDeno } from "../testing/runtime.ts";

interface Agent {
  proc: ChildProcess;
  events: Record<string, unknown>[];
  waitFor(
    pred: (e: Record<string, unknown>) => boolean,
    ms?: number,
  ): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

function startCli(args: string[]): Agent {
  const { cmd, args: pre } = cliCommand();
  const proc = spawn(cmd, [...pre, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const events: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: proc.stdout! }).on("line", (line) => {
    try {
      events.push(JSON.parse(line));
    } catch {
      events.push({ event: "text", line });
    }
    for (const w of waiters.splice(0)) w();
  });
  let stderr = "";
  proc.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  return {
    proc,
    events,
    exited,
    async waitFor(pred, ms = 20_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const hit = events.find(pred);
        if (hit) return hit;
        if (Date.now() > deadline || proc.exitCode !== null) {
          throw new Error(`no matching event; got ${JSON.stringify(events)}; stderr: ${stderr}`);
        }
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 200);
        });
      }
    },
  };
}

async function runCli(
  args: string[],
  timeoutMs = 60_000,
): Promise<{ code: number | null; stdout: string }> {
  const { cmd, args: pre } = cliCommand();
  const proc = spawn(cmd, [...pre, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (d) => (stdout += d));
  proc.stderr.on("data", (d) => (stderr += d));
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const code = await new Promise<number | null>((resolve) => proc.on("exit", (c) => resolve(c)));
  clearTimeout(timer);
  if (code !== 0) stdout += `\n[stderr] ${stderr}`;
  return { code, stdout };
}

describe("CLI", () => {
  let dir = "";
  const agents: Agent[] = [];
  after(async () => {
    for (const a of agents) if (a.proc.exitCode === null) a.proc.kill("SIGKILL");
    await Promise.all(agents.map((a) => a.exited));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("agent (JSON config) and agent (HCL config) form a cluster; members prints it; SIGTERM leaves", async () => {
    dir = await mkdtemp(join(tmpdir(), "cli-test-"));
    const local = {
      environment: "local",
      bind_address: "127.0.0.1",
      bind_port: 0,
      memberlist_bind_address: "127.0.0.1",
      memberlist_bind_port: 0,
    };
    await writeFile(join(dir, "a.json"), JSON.stringify({ cluster: local }));
    const a = startCli([
      "agent",
      "--config",
      join(dir, "a.json"),
      "--name",
      "cli-a",
      "--control",
      "127.0.0.1:0",
    ]);
    agents.push(a);
    const readyA = await a.waitFor((e) => e.event === "ready");
    assert.equal(readyA.name, "cli-a");
    assert.match(String(readyA.memberlist), /^127\.0\.0\.1:\d+$/);
    assert.match(String(readyA.log), /^127\.0\.0\.1:\d+$/);

    await writeFile(
      join(dir, "b.hcl"),
      `cluster {
  environment             = "local"
  bind_address            = "127.0.0.1"
  bind_port               = 0
  memberlist_bind_address = "127.0.0.1"
  memberlist_bind_port    = 0
  members                 = ["${readyA.memberlist}"]
}
`,
    );
    const b = startCli([
      "agent",
      "--config",
      join(dir, "b.hcl"),
      "--name",
      "cli-b",
      "--control",
      "127.0.0.1:0",
    ]);
    agents.push(b);
    const readyB = await b.waitFor((e) => e.event === "ready");
    await a.waitFor((e) => e.event === "member-join" && e.node === "cli-b");
    await b.waitFor((e) => e.event === "member-join" && e.node === "cli-a");

    const json = await runCli(["members", "--control", String(readyB.control), "--json"]);
    assert.equal(json.code, 0, json.stdout);
    const body = JSON.parse(json.stdout) as { members: { name: string; state: string }[] };
    assert.deepEqual(body.members.map((m) => `${m.name}:${m.state}`).sort(), [
      "cli-a:alive",
      "cli-b:alive",
    ]);
    const table = await runCli(["members", "--control", String(readyA.control)]);
    assert.equal(table.code, 0, table.stdout);
    assert.match(table.stdout, /^NAME\s+ADDRESS\s+STATE\s+INCARNATION$/m);
    assert.match(table.stdout, /^cli-b\s+127\.0\.0\.1:\d+\s+alive\s+\d+$/m);

    // Deno's child_process reports a child that handled SIGTERM and exited 0 as killed by the
    // signal (code null), so there the "stopped" line is the proof of a clean exit.
    const cleanExit = (code: number | null) => code === 0 || (isDeno && code === null);
    b.proc.kill("SIGTERM");
    assert.ok(cleanExit(await b.exited));
    assert.ok(
      b.events.some((e) => e.event === "stopped"),
      "the agent says it stopped after leaving",
    );
    await a.waitFor((e) => e.event === "member-leave" && e.node === "cli-b");
    a.proc.kill("SIGINT");
    assert.ok(cleanExit(await a.exited));
    assert.ok(a.events.some((e) => e.event === "stopped"));
  });

  it("agents read encrypt from HCL and from --encrypt: keyed gossip and log; another key stays out", async () => {
    const d = await mkdtemp(join(tmpdir(), "cli-key-"));
    try {
      const key = Buffer.from(randomBytes(32)).toString("base64");
      const stanza = (extra: string) =>
        `cluster {
  environment             = "local"
  bind_address            = "127.0.0.1"
  bind_port               = 0
  memberlist_bind_address = "127.0.0.1"
  memberlist_bind_port    = 0
${extra}}
`;
      await writeFile(join(d, "a.hcl"), stanza(`  encrypt = "${key}"\n`));
      const a = startCli([
        "agent",
        "--config",
        join(d, "a.hcl"),
        "--name",
        "key-a",
        "--control",
        "127.0.0.1:0",
      ]);
      agents.push(a);
      const readyA = await a.waitFor((e) => e.event === "ready");
      assert.deepEqual(readyA.security, {
        gossip: "keyed",
        log: "keyed",
        verifyIncoming: true,
        verifyOutgoing: true,
      });
      await writeFile(join(d, "b.hcl"), stanza(`  members = ["${readyA.memberlist}"]\n`));
      const b = startCli(
        [
          "agent",
          "--config",
          join(d, "b.hcl"),
          "--name",
          "key-b",
          "--control",
          "127.0.0.1:0",
          "--encrypt",
          key,
        ],
      );
      agents.push(b);
      await a.waitFor((e) => e.event === "member-join" && e.node === "key-b");
      const other = Buffer.from(randomBytes(32)).toString("base64");
      const c = startCli(
        [
          "agent",
          "--config",
          join(d, "b.hcl"),
          "--name",
          "key-c",
          "--control",
          "127.0.0.1:0",
          "--encrypt",
          other,
        ],
      );
      agents.push(c);
      await c.waitFor((e) => e.event === "ready");
      await new Promise((r) => setTimeout(r, 1500));
      assert.ok(!a.events.some((e) => e.event === "member-join" && e.node === "key-c"));
      for (const x of [a, b, c]) x.proc.kill("SIGKILL");
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });

  it("agent with an invalid config exits 1 and names the problem", async () => {
    const d = await mkdtemp(join(tmpdir(), "cli-bad-"));
    try {
      await writeFile(
        join(d, "bad.json"),
        JSON.stringify({ cluster: { environment: "lan", bind_prot: 1 } }),
      );
      const r = await runCli(["agent", "--config", join(d, "bad.json")]);
      assert.equal(r.code, 1);
      assert.match(
        r.stdout,
        /cluster\.bind_prot: unknown key "bind_prot" \(did you mean "bind_port"\?\)/,
      );
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });

  it("demo, with stdout not a terminal, exits 0 and says all three nodes saw every entry", async () => {
    const r = await runCli(["demo"], 120_000);
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /^joined: every node sees 3 alive members/m);
    assert.match(r.stdout, /^detected: node-a and node-b declared node-c failed/m);
    assert.match(
      r.stdout,
      /^summary: 3\/3 nodes saw every entry .* all three nodes saw every entry$/m,
    );
    assert.ok(!r.stdout.includes("\u001b["), "no terminal escapes when not a terminal");
  });
});
