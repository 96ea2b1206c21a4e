/**
 * The live demo: three nodes in one process on loopback, environment `local`.
 *
 * It appends on one node and reads on the others, writes the cache, kills a node and shows
 * its detection, brings it back (same name, same ports, its file-backed log) and shows it
 * catch up, then prints a summary. With a terminal it redraws a live view in place; otherwise
 * it prints plain lines.
 *
 * @module
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Cluster, cluster } from "../cluster/mod.ts";
import { FileLogStore } from "../log/mod.ts";

/** Where the demo writes. */
export interface DemoOptions {
  /** Output stream (process.stdout). */
  out: { write(text: string): unknown };
  /** Redraw a live view in place (a terminal); plain lines otherwise. */
  live: boolean;
}

const text = new TextEncoder();
const untext = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** In the live view, a moment after each step so a person can follow along. */
async function pauseToWatch(draw: () => void): Promise<void> {
  for (let i = 0; i < 15; i++) {
    draw();
    await sleep(100);
  }
}

async function until(
  what: string,
  check: () => boolean,
  timeoutMs: number,
  tick: () => void,
): Promise<number> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`demo: timed out waiting until ${what}`);
    tick();
    await sleep(100);
  }
  return Date.now() - start;
}

/**
 * Runs the demo; resolves with the process exit code (0 when every node saw every entry).
 *
 * @example
 * ```ts
 * const code = await runDemo({ out: process.stdout, live: process.stdout.isTTY === true });
 * ```
 * @param options where to write and how
 */
export async function runDemo(options: DemoOptions): Promise<number> {
  const { out, live } = options;
  const dir = await mkdtemp(join(tmpdir(), "response-cluster-demo-"));
  const nodes = new Map<string, Cluster>();
  const story: string[] = [];
  const say = async (line: string) => {
    story.push(line);
    if (!live) out.write(line + "\n");
    else await pauseToWatch(draw);
  };
  const draw = () => {
    if (!live) return;
    const lines = ["@response/cluster demo — 3 nodes on loopback (environment local)", ""];
    for (const [name, node] of nodes) {
      const view = node.members().map((m) => `${m.name}:${m.state}`).sort().join(" ");
      const heads = [...node.log.heads()].map(([o, s]) => `${o}@${s}`).sort().join(" ");
      const keys = node.cache.entries().map(([k]) => k).sort().join(",");
      lines.push(
        `${name.padEnd(7)} sees [${view}]`,
        `        log heads [${heads}]  cache {${keys}}`,
      );
    }
    lines.push("", ...story.slice(-8));
    out.write("\x1b[H\x1b[2J" + lines.join("\n") + "\n");
  };
  const start = async (name: string, ports: { log: number; ml: number }, seed?: string) => {
    const node = await cluster(
      {
        environment: "local",
        bind_address: "127.0.0.1",
        bind_port: ports.log,
        memberlist_bind_address: "127.0.0.1",
        memberlist_bind_port: ports.ml,
        ...(seed ? { members: [seed] } : {}),
      },
      { name, store: await FileLogStore.open(join(dir, name), { fsync: "never" }) },
    );
    nodes.set(name, node);
    return node;
  };

  try {
    const a = await start("node-a", { log: 0, ml: 0 });
    const seed = a.addresses.memberlist!;
    await start("node-b", { log: 0, ml: 0 }, seed);
    const c = await start("node-c", { log: 0, ml: 0 }, seed);
    const cPorts = {
      log: Number(c.addresses.log!.split(":").pop()),
      ml: Number(c.addresses.memberlist!.split(":").pop()),
    };
    const allAlive = (n = 3) =>
      [...nodes.values()].every((x) => x.members().filter((m) => m.state === "alive").length === n);
    const t1 = await until("all three see three alive", () => allAlive(), 15_000, draw);
    await say(`joined: every node sees 3 alive members (${t1} ms)`);

    const expected: string[] = [];
    for (let i = 1; i <= 5; i++) {
      const value = `position update ${i}`;
      await a.log.append(text.encode(value), { ack: "quorum" });
      expected.push(value);
    }
    await nodes.get("node-b")!.cache.set("map:center", text.encode("59.33,18.06"));
    const seesAll = (x: Cluster, count: number) =>
      [...x.log.heads().values()].reduce((s, v) => s + v, 0) >= count;
    const t2 = await until(
      "every node has the 6 entries",
      () => [...nodes.values()].every((x) => seesAll(x, 6)),
      10_000,
      draw,
    );
    await say(
      `replicated: 5 appends on node-a (quorum-acknowledged) and a cache write on node-b visible everywhere (${t2} ms)`,
    );
    await say(
      `node-c reads cache map:center = ${
        untext.decode(c.cache.get("map:center") ?? new Uint8Array())
      }`,
    );

    await c.close();
    nodes.delete("node-c");
    await say("killed node-c (closed without leaving)");
    const failedOn = (x: Cluster) =>
      x.members().some((m) => m.name === "node-c" && m.state === "dead");
    const t3 = await until(
      "node-a and node-b declare node-c failed",
      () => [...nodes.values()].every(failedOn),
      60_000,
      draw,
    );
    await say(`detected: node-a and node-b declared node-c failed after ${t3} ms`);

    for (let i = 6; i <= 8; i++) {
      const value = `position update ${i}`;
      await a.log.append(text.encode(value), { ack: "quorum" });
      expected.push(value);
    }
    await say("appended 3 more entries on node-a while node-c was down");

    const c2 = await start("node-c", cPorts, seed);
    const t4 = await until(
      "node-c is back and has caught up",
      () => allAlive() && [...nodes.values()].every((x) => seesAll(x, 9)),
      60_000,
      draw,
    );
    await say(
      `recovered: node-c rejoined on its old ports with its file log and caught up (${t4} ms)`,
    );

    const ok: string[] = [];
    for (const [name, node] of nodes) {
      const got: string[] = [];
      for await (const e of node.log.read({ origin: a.log.origin })) {
        got.push(untext.decode(e.value));
      }
      if (JSON.stringify(got) === JSON.stringify(expected)) ok.push(name);
      else await say(`MISMATCH on ${name}: ${got.length} of ${expected.length} entries`);
    }
    draw();
    const all = ok.length === 3 && c2.cache.get("map:center") !== undefined;
    out.write(
      `summary: ${ok.length}/3 nodes saw every entry (${expected.length} log entries, 1 cache key); ` +
        `failure detected in ${t3} ms; node-c caught up in ${t4} ms — ${
          all ? "all three nodes saw every entry" : "FAILED"
        }\n`,
    );
    return all ? 0 : 1;
  } finally {
    await Promise.all([...nodes.values()].map((n) => n.close()));
    await rm(dir, { recursive: true, force: true });
  }
}
