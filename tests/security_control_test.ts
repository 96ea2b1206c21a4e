// The agent's control endpoint (issue 18) with real HTTP requests: Host (DNS rebinding),
// Origin / Sec-Fetch-Site (a web page's cross-origin POST, text/plain without preflight), the
// bearer token, and the agent's refusal to listen beyond loopback without one.
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, request } from "node:http";
import { spawn, spawnSync } from "node:child_process";
import { hostname } from "node:os";
import process from "node:process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Cluster, cluster } from "../cluster/cluster.ts";
import { ControlConfigError, type ControlServer, startControl } from "../cli/control.ts";
import { cliCommand } from "../testing/runtime.ts";

let nodes: Cluster[] = [];
let servers: ControlServer[] = [];

afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
});

async function setup(host = "127.0.0.1", token?: string) {
  const node = await cluster(undefined, { name: "ctl" });
  nodes.push(node);
  const server = await startControl(node, { host, port: 0, token });
  servers.push(server);
  const port = Number(server.address.slice(server.address.lastIndexOf(":") + 1));
  return { node, server, port };
}

interface Answer {
  status: number;
  body: string;
  headers: Record<string, unknown>;
}

/** One HTTP request to 127.0.0.1:`port` with exactly the headers given (Host included). */
function http(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, method, path, headers, agent: false, setHost: false },
      (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (d: string) => (text += d));
        res.on(
          "end",
          () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const ownHeads = (n: Cluster) => n.log.heads().get(n.log.origin) ?? 0;

describe("security: control endpoint", { timeout: 60_000 }, () => {
  it("Host must name the bound address or localhost (DNS rebinding is refused)", async () => {
    const { server, port } = await setup();
    const ok = await http(port, "GET", "/members", { host: `127.0.0.1:${port}` });
    assert.equal(ok.status, 200);
    assert.equal((await http(port, "GET", "/members", { host: `localhost:${port}` })).status, 200);
    const rebound = await http(port, "GET", "/members", { host: `attacker.example:${port}` });
    assert.equal(rebound.status, 421);
    assert.equal((await http(port, "GET", "/heads", { host: "127.0.0.1:1" })).status, 421);
    assert.equal(server.refused.host, 2);
    // no Host at all: refused (Deno's HTTP server answers 400 before the handler runs)
    const none = (await http(port, "GET", "/heads", {})).status;
    assert.ok(none === 421 || none === 400, `no Host: ${none}`);
  });

  it("a browser's cross-origin POST (text/plain, no preflight) is refused and appends nothing", async () => {
    const { node, server, port } = await setup();
    const host = `127.0.0.1:${port}`;
    const before = ownHeads(node);
    const page = await http(port, "POST", "/append", {
      host,
      origin: "https://attacker.example",
      "content-type": "text/plain",
    }, JSON.stringify({ value: "from a web page" }));
    assert.equal(page.status, 403);
    // a browser that leaves Origin out still tells where the request comes from
    const fetchMeta = await http(port, "POST", "/append", {
      host,
      "sec-fetch-site": "cross-site",
      "content-type": "text/plain",
    }, JSON.stringify({ value: "from a web page" }));
    assert.equal(fetchMeta.status, 403);
    // and a form-like body is never taken as JSON
    const plain = await http(port, "POST", "/append", { host, "content-type": "text/plain" }, "{}");
    assert.equal(plain.status, 415);
    assert.deepEqual(server.refused, { host: 0, origin: 2, token: 0, "media-type": 1 });
    assert.equal(ownHeads(node), before, "nothing was appended");
    const good = await http(port, "POST", "/append", {
      host,
      "content-type": "application/json",
    }, JSON.stringify({ value: "from the CLI" }));
    assert.equal(good.status, 200, good.body);
    assert.equal(ownHeads(node), before + 1);
  });

  it("a real browser (chromium) on another origin cannot append through the endpoint", async (t) => {
    if (spawnSync("chromium", ["--version"]).error) {
      t.skip("chromium is not installed (Debian package chromium)");
      return;
    }
    const { node, server, port } = await setup();
    const before = ownHeads(node);
    // the attacker's page: a "simple" cross-origin POST, no preflight, response unreadable
    const page = createServer((_req, res) => {
      res.setHeader("content-type", "text/html");
      res.end(`<html><body><div id="r">pending</div><script>
fetch("http://127.0.0.1:${port}/append", { method: "POST", mode: "no-cors",
  headers: { "content-type": "text/plain" }, body: JSON.stringify({ value: "from a web page" }) })
  .then(() => { document.getElementById("r").textContent = "sent"; },
        (e) => { document.getElementById("r").textContent = "failed " + e; });
</script></body></html>`);
    });
    await new Promise<void>((r) => page.listen(0, "127.0.0.1", () => r()));
    try {
      const pagePort = (page.address() as { port: number }).port;
      const dom = await new Promise<string>((resolve) => {
        const p = spawn("chromium", [
          "--headless=new",
          "--no-sandbox",
          "--disable-gpu",
          "--virtual-time-budget=5000",
          "--dump-dom",
          `http://127.0.0.1:${pagePort}/`,
        ], { stdio: ["ignore", "pipe", "ignore"] });
        let out = "";
        const kill = setTimeout(() => p.kill("SIGKILL"), 45_000);
        p.stdout.on("data", (d) => (out += d));
        p.on("exit", () => {
          clearTimeout(kill);
          resolve(out);
        });
      });
      assert.match(dom, /<div id="r">sent/, "the page ran its request");
      assert.equal(
        server.refused.origin,
        1,
        "the browser's request reached the endpoint and was refused",
      );
      assert.equal(ownHeads(node), before, "nothing was appended");
    } finally {
      await new Promise<void>((r) => page.close(() => r()));
    }
  });

  it("with a token, requests without the right bearer token are refused (401)", async () => {
    const { server, port } = await setup("127.0.0.1", "s3cret-token");
    const host = `127.0.0.1:${port}`;
    const none = await http(port, "GET", "/members", { host });
    assert.equal(none.status, 401);
    assert.match(String(none.headers["www-authenticate"]), /^Bearer/);
    const wrong = await http(port, "GET", "/members", {
      host,
      authorization: "Bearer s3cret-tokem",
    });
    assert.equal(wrong.status, 401);
    const right = await http(port, "GET", "/members", {
      host,
      authorization: "Bearer s3cret-token",
    });
    assert.equal(right.status, 200);
    assert.equal(server.refused.token, 2);
  });

  it("a non-loopback address needs a token; with one, Host names of this machine pass, others not", async () => {
    const node = await cluster(undefined, { name: "ctl" });
    nodes.push(node);
    await assert.rejects(startControl(node, { host: "0.0.0.0", port: 0 }), ControlConfigError);
    const { server, port } = await setup("0.0.0.0", "t0ken");
    const auth = { authorization: "Bearer t0ken" };
    const mine = await http(port, "GET", "/members", { ...auth, host: `${hostname()}:${port}` });
    assert.equal(mine.status, 200);
    const other = await http(port, "GET", "/members", {
      ...auth,
      host: `attacker.example:${port}`,
    });
    assert.equal(other.status, 421);
    assert.equal(server.refused.host, 1);
  });

  it("the agent refuses a non-loopback control address without a token; members sends the token", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sec-ctl-"));
    try {
      const config = join(dir, "a.json");
      await writeFile(
        config,
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
      const { cmd, args } = cliCommand();
      const env = { ...process.env };
      delete env.CLUSTER_HTTP_TOKEN;
      const run = (extra: string[], e = env, untilReady = false) =>
        new Promise<{ code: number | null; out: string; err: string; control?: string }>(
          (resolve) => {
            const p = spawn(cmd, [...args, ...extra], {
              env: e,
              stdio: ["ignore", "pipe", "pipe"],
            });
            let out = "";
            let err = "";
            p.stdout.on("data", (d) => {
              out += d;
              const m = /"event":"ready".*"control":"([^"]+)"/.exec(out);
              if (untilReady && m) resolve({ code: null, out, err, control: m[1] });
            });
            p.stderr.on("data", (d) => (err += d));
            p.on("exit", (code) => resolve({ code, out, err }));
            if (untilReady) {
              const gone = new Promise<void>((r) => p.on("exit", () => r()));
              stop = () => {
                p.kill("SIGTERM");
                return gone;
              };
            }
          },
        );
      let stop = (): Promise<void> => Promise.resolve();
      const refused = await run([
        "agent",
        "--config",
        config,
        "--name",
        "x",
        "--control",
        "0.0.0.0:0",
      ]);
      assert.equal(refused.code, 2);
      assert.match(refused.err, /not loopback.*token/);

      const agent = await run(
        ["agent", "--config", config, "--name", "x", "--control", "127.0.0.1:0"],
        { ...env, CLUSTER_HTTP_TOKEN: "agent-token" },
        true,
      );
      assert.ok(agent.control, `agent did not start: ${agent.err}`);
      try {
        const without = await run(["members", "--control", agent.control!, "--json"]);
        assert.equal(without.code, 1);
        assert.match(without.err, /401/);
        const withToken = await run([
          "members",
          "--control",
          agent.control!,
          "--json",
          "--token",
          "agent-token",
        ]);
        assert.equal(withToken.code, 0, withToken.err);
        assert.equal(JSON.parse(withToken.out).name, "x");
        const viaEnv = await run(["members", "--control", agent.control!, "--json"], {
          ...env,
          CLUSTER_HTTP_TOKEN: "agent-token",
        });
        assert.equal(viaEnv.code, 0, viaEnv.err);
      } finally {
        await stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
