import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
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

  it("remove-member: an agent whose peer was killed refuses quorum appends until the operator removes it", async () => {
    const d = await mkdtemp(join(tmpdir(), "cli-quorum-"));
    const local = {
      environment: "local",
      bind_address: "127.0.0.1",
      bind_port: 0,
      memberlist_bind_address: "127.0.0.1",
      memberlist_bind_port: 0,
    };
    try {
      await writeFile(join(d, "a.json"), JSON.stringify({ cluster: local }));
      const a = startCli([
        "agent",
        "--config",
        join(d, "a.json"),
        "--name",
        "rm-a",
        "--control",
        "127.0.0.1:0",
      ]);
      agents.push(a);
      const readyA = await a.waitFor((e) => e.event === "ready");
      await writeFile(
        join(d, "b.json"),
        JSON.stringify({ cluster: { ...local, members: [readyA.memberlist] } }),
      );
      const b = startCli([
        "agent",
        "--config",
        join(d, "b.json"),
        "--name",
        "rm-b",
        "--control",
        "127.0.0.1:0",
      ]);
      agents.push(b);
      await b.waitFor((e) => e.event === "ready");
      await a.waitFor((e) => e.event === "member-join" && e.node === "rm-b");
      const control = String(readyA.control);
      const append = async (timeout: number) => {
        const res = await fetch(`http://${control}/append`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ value: "v", key: "k", ack: "quorum", timeout }),
        });
        return { status: res.status, body: await res.json() as { error?: string } };
      };
      await a.waitFor((e) => e.event === "quorum" && e.voters === 2 && e.hasQuorum === true);
      assert.equal((await append(5000)).status, 200);

      b.proc.kill("SIGKILL");
      await b.exited;
      const refused = await append(500);
      assert.equal(refused.status, 503);
      assert.match(String(refused.body.error), /held by 1, 2 needed \(2 voting members\)/);
      await a.waitFor((e) => e.event === "member-suspect" || e.event === "member-failed", 30_000);
      await a.waitFor((e) => e.event === "quorum" && e.hasQuorum === false);

      const self = await runCli(["remove-member", "rm-a", "--control", control]);
      assert.equal(self.code, 1);
      assert.match(self.stdout, /remove-member: rm-a is this node/);
      const removed = await runCli(["remove-member", "rm-b", "--control", control]);
      assert.equal(removed.code, 0, removed.stdout);
      assert.match(
        removed.stdout,
        /^removed rm-b \(told 0 members\); voters 1, reachable 1, needed 1: quorum$/m,
      );
      await a.waitFor((e) => e.event === "quorum" && e.voters === 1 && e.hasQuorum === true);
      assert.equal((await append(500)).status, 200);
      const q = await (await fetch(`http://${control}/quorum`)).json();
      assert.deepEqual(q, { hasQuorum: true, voters: ["rm-a"], reachable: 1, needed: 1 });
      a.proc.kill("SIGTERM");
      await a.exited;
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
});

/** Runs the CLI to its end; both streams apart. */
async function runCliFull(
  args: string[],
  timeoutMs = 60_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { cmd, args: pre } = cliCommand();
  const proc = spawn(cmd, [...pre, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (d) => (stdout += d));
  proc.stderr.on("data", (d) => (stderr += d));
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const code = await new Promise<number | null>((resolve) => proc.on("exit", (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** The CLI's own lines on stderr (Deno or Node may add none of theirs for a clean exit). */
const oneLine = (stderr: string) => {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line, got: ${stderr}`);
  assert.ok(!/TypeError|\n\s+at /.test(stderr), `no stack: ${stderr}`);
  return lines[0];
};

describe("CLI help and errors", () => {
  it("--help and help print the usage and exit 0", async () => {
    for (const args of [["--help"], ["-h"], ["help"]]) {
      const r = await runCliFull(args);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^usage: response-cluster <command>/);
      assert.match(r.stdout, /agent --config <file> +run one node/);
    }
  });

  it("<command> --help prints that command's usage and exits 0; demo --help runs no demo", async () => {
    const agent = await runCliFull(["agent", "--help"]);
    assert.equal(agent.code, 0, agent.stderr);
    assert.match(agent.stdout, /^usage: response-cluster agent --config/);
    assert.match(agent.stdout, /GET {2}\/readyz/);
    const members = await runCliFull(["members", "--help"]);
    assert.equal(members.code, 0);
    assert.match(members.stdout, /^usage: response-cluster members/);
    const started = Date.now();
    const demo = await runCliFull(["demo", "--help"]);
    assert.equal(demo.code, 0);
    assert.match(demo.stdout, /^usage: response-cluster demo/);
    assert.ok(!/joined:|summary:/.test(demo.stdout), "the demo did not run");
    assert.ok(Date.now() - started < 20_000, "returns at once, not after a demo");
    const topic = await runCliFull(["help", "agent"]);
    assert.match(topic.stdout, /^usage: response-cluster agent/);
  });

  it("members against no agent: one line that says to start one, exit 1", async () => {
    const { freePort } = await import("../testing/nats_server.ts");
    const port = await freePort();
    const r = await runCliFull(["members", "--control", `127.0.0.1:${port}`]);
    assert.equal(r.code, 1);
    assert.equal(
      oneLine(r.stderr),
      `response-cluster: no agent answers on 127.0.0.1:${port}: start one with \`response-cluster agent --config <file>\``,
    );
  });

  it("wrong usage is one line pointing at --help, exit 2", async () => {
    const cases: [string[], RegExp][] = [
      [
        ["agent"],
        /^response-cluster: agent: --config <file.json\|file.hcl> is required \(see `response-cluster agent --help`\)$/,
      ],
      [["agent", "--config"], /agent: --config needs a value/],
      [
        ["agent", "--config", "x.json", "--nmae", "a"],
        /agent: unknown option --nmae \(see `response-cluster agent --help`\)/,
      ],
      [["members", "extra"], /members: unexpected argument "extra"/],
      [
        ["frobnicate"],
        /^response-cluster: unknown command "frobnicate" \(see `response-cluster --help`\)$/,
      ],
    ];
    for (const [args, expected] of cases) {
      const r = await runCliFull(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(oneLine(r.stderr), expected);
    }
    const none = await runCliFull([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^usage: response-cluster/);
  });

  it("a config file that is not there: one line, exit 1", async () => {
    const r = await runCliFull(["agent", "--config", "/nonexistent/cluster.json"]);
    assert.equal(r.code, 1);
    assert.equal(
      oneLine(r.stderr),
      "response-cluster: cannot read the config file /nonexistent/cluster.json (ENOENT): check the path",
    );
  });

  it("the agent serves /metrics, /healthz and /readyz", async () => {
    const d = await mkdtemp(join(tmpdir(), "cli-health-"));
    await writeFile(
      join(d, "c.json"),
      JSON.stringify({
        cluster: {
          environment: "local",
          bind_address: "127.0.0.1",
          bind_port: 0,
          memberlist_bind_address: "127.0.0.1",
          memberlist_bind_port: 0,
        },
      }),
    );
    const agent = startCli(["agent", "--config", join(d, "c.json"), "--control", "127.0.0.1:0"]);
    try {
      const ready = await agent.waitFor((e) => e.event === "ready");
      const base = `http://${ready.control}`;
      const metrics = await fetch(`${base}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(metrics.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
      const text = await metrics.text();
      assert.match(text, /^# TYPE response_cluster_log_entries_appended_total counter$/m);
      assert.match(text, /^response_cluster_members\{state="alive"\} 1$/m);
      assert.match(text, /^response_cluster_ready 1$/m);
      const healthz = await fetch(`${base}/healthz`);
      assert.equal(healthz.status, 200);
      assert.deepEqual(await healthz.json(), { live: true, ready: true, reasons: [] });
      const readyz = await fetch(`${base}/readyz`);
      assert.equal(readyz.status, 200);
      await readyz.body?.cancel();
      agent.proc.kill("SIGTERM");
      const code = await agent.exited;
      assert.ok(code === 0 || (isDeno && code === null), `exit ${code}`);
      assert.ok(agent.events.some((e) => e.event === "stopped"), "left, then stopped");
    } finally {
      if (agent.proc.exitCode === null) agent.proc.kill("SIGKILL");
      await agent.exited;
      await rm(d, { recursive: true, force: true });
    }
  });

  it("an agent that must join answers 503 on /readyz until it has", async () => {
    const d = await mkdtemp(join(tmpdir(), "cli-ready-"));
    await writeFile(
      join(d, "c.json"),
      JSON.stringify({
        cluster: {
          environment: "local",
          bind_address: "127.0.0.1",
          bind_port: 0,
          memberlist_bind_address: "127.0.0.1",
          memberlist_bind_port: 0,
          members: ["127.0.0.1:1"],
        },
      }),
    );
    const agent = startCli(["agent", "--config", join(d, "c.json"), "--control", "127.0.0.1:0"]);
    try {
      const ready = await agent.waitFor((e) => e.event === "ready");
      const readyz = await fetch(`http://${ready.control}/readyz`);
      assert.equal(readyz.status, 503);
      const body = await readyz.json() as { ready: boolean; reasons: string[] };
      assert.equal(body.ready, false);
      assert.match(body.reasons[0], /not joined yet/);
      const healthz = await fetch(`http://${ready.control}/healthz`);
      assert.equal(healthz.status, 200, "live even when not ready");
      await healthz.body?.cancel();
    } finally {
      agent.proc.kill("SIGTERM");
      await agent.exited;
    }
    // a single replica told it needs only itself is ready at once
    const solo = startCli([
      "agent",
      "--config",
      join(d, "c.json"),
      "--control",
      "127.0.0.1:0",
      "--ready-members",
      "1",
    ]);
    try {
      const ready = await solo.waitFor((e) => e.event === "ready");
      const readyz = await fetch(`http://${ready.control}/readyz`);
      assert.equal(readyz.status, 200);
      await readyz.body?.cancel();
    } finally {
      solo.proc.kill("SIGTERM");
      await solo.exited;
      await rm(d, { recursive: true, force: true });
    }
  });
});
