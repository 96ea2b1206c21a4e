/**
 * Operating a node: advertised addresses, logging and name conflicts, runtime metadata,
 * health, and metrics (Prometheus text and OpenTelemetry), on real loopback sockets.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { metrics } from "@opentelemetry/api";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import {
  type Cluster,
  cluster,
  type ClusterMember,
  type Logger,
  NameConflictError,
} from "../mod.ts";
import { aliveCount, loopback, until } from "../testing/loopback.ts";

interface Line {
  level: keyof Logger;
  message: string;
  fields: Record<string, unknown>;
}

/** A logger that keeps every line (message first, then fields, as the Logger shape says). */
function recorder(): Logger & { lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: keyof Logger) => (message: string, fields?: Record<string, unknown>) => {
    lines.push({ level, message, fields: fields ?? {} });
  };
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

describe("advertised addresses", () => {
  const nodes: Cluster[] = [];
  after(async () => {
    await Promise.all(nodes.map((n) => n.close()));
  });

  it("a node bound to 0.0.0.0 advertising 127.0.0.1 is reached by peers there", async () => {
    const a = await cluster({
      environment: "local",
      bind_address: "0.0.0.0",
      bind_port: 0,
      memberlist_bind_address: "0.0.0.0",
      memberlist_bind_port: 0,
      advertise_address: "127.0.0.1",
    }, { name: "adv-a", meterProvider: false });
    nodes.push(a);
    const bound = a.addresses.bound;
    assert.match(bound.memberlist!, /^0\.0\.0\.0:\d+$/);
    assert.match(bound.log!, /^0\.0\.0\.0:\d+$/);
    const mlPort = bound.memberlist!.split(":")[1];
    const logPort = bound.log!.split(":")[1];
    assert.equal(a.addresses.memberlist, `127.0.0.1:${mlPort}`);
    assert.equal(a.addresses.log, `127.0.0.1:${logPort}`);

    const b = await cluster(loopback({ members: [a.addresses.memberlist!] }), {
      name: "adv-b",
      meterProvider: false,
    });
    nodes.push(b);
    await until("both see two alive", () => aliveCount(a) === 2 && aliveCount(b) === 2);
    const seen = b.members().find((m) => m.name === "adv-a")!;
    assert.equal(seen.address, `127.0.0.1:${mlPort}`, "gossip carries the advertised address");
    assert.equal(seen.logAddress, `127.0.0.1:${logPort}`);
    // the log replicates through the advertised log address
    await a.cache.set("k", new TextEncoder().encode("v"));
    await until("b has the key", () => b.cache.get("k") !== undefined);
  });

  it("advertise_port and advertise_log_port are what members see (port mapping)", async () => {
    const a = await cluster(loopback({ advertise_port: 40001, advertise_log_port: 40002 }), {
      name: "adv-mapped",
      meterProvider: false,
    });
    nodes.push(a);
    assert.equal(a.addresses.memberlist, "127.0.0.1:40001");
    assert.equal(a.addresses.log, "127.0.0.1:40002");
    assert.notEqual(a.addresses.bound.memberlist, "127.0.0.1:40001");
    const self = a.members().find((m) => m.name === "adv-mapped")!;
    assert.equal(self.address, "127.0.0.1:40001");
    assert.equal(self.logAddress, "127.0.0.1:40002");
  });
});

describe("logging and name conflicts", () => {
  const nodes: Cluster[] = [];
  after(async () => {
    await Promise.all(nodes.map((n) => n.close()));
  });

  it("two nodes named web: an error event and an error log line on both", async () => {
    const logs = [recorder(), recorder()];
    const errors: Error[][] = [[], []];
    const first = await cluster(loopback(), { name: "web", logger: logs[0], meterProvider: false });
    nodes.push(first);
    first.on("error", (e) => errors[0].push(e));
    const second = await cluster(loopback({ members: [first.addresses.memberlist!] }), {
      name: "web",
      logger: logs[1],
      meterProvider: false,
    });
    nodes.push(second);
    second.on("error", (e) => errors[1].push(e));
    await until("both saw the conflict", () => errors[0].length > 0 && errors[1].length > 0);
    for (const [i, node] of [first, second].entries()) {
      const err = errors[i][0];
      assert.ok(err instanceof NameConflictError, String(err));
      assert.equal(err.node, "web");
      assert.match(err.message, /give every node a unique name/);
      assert.equal(err.mine, node.addresses.memberlist);
      const other = i === 0 ? second : first;
      assert.equal(err.theirs, other.addresses.memberlist);
      const line = logs[i].lines.find((l) => l.level === "error" && l.fields.node === "web");
      assert.ok(line, `an error line on ${i === 0 ? "first" : "second"}`);
      assert.equal(line.fields.layer, "cluster");
      assert.equal(line.fields.theirs, other.addresses.memberlist);
      const ml = logs[i].lines.find((l) => l.fields.layer === "memberlist" && l.level === "warn");
      assert.ok(ml, "memberlist's own warning reaches the logger with layer: memberlist");
      assert.match(ml.message, /^memberlist: /);
    }
    assert.equal(aliveCount(first), 1, "the impostor is not admitted");
    assert.equal(errors[0].length, 1, "one error per conflicting address, not one per gossip");
  });

  it("the log layer writes refused peers with structured fields", async () => {
    const log = recorder();
    const node = await cluster(loopback(), { name: "logged", logger: log, meterProvider: false });
    nodes.push(node);
    const [host, port] = [
      node.addresses.log!.split(":")[0],
      Number(node.addresses.log!.split(":")[1]),
    ];
    // a length prefix of 4 GiB: the node refuses the connection and closes it
    await new Promise<void>((resolve) => {
      const s = connect(port, host, () => s.write(new Uint8Array(64).fill(0xff)));
      s.on("error", () => {});
      s.resume(); // read to the end, or "close" never comes
      s.on("close", () => resolve());
    });
    await until("a log-layer warning", () => log.lines.some((l) => l.fields.layer === "log"));
    const line = log.lines.find((l) => l.fields.layer === "log")!;
    assert.equal(line.level, "warn");
    assert.match(line.message, /^log: refused a replication peer/);
    assert.equal(typeof line.fields.reason, "string");
  });

  it("discovery writes through the same logger (layer: discovery)", async () => {
    const log = recorder();
    const node = await cluster(loopback({ members: ["127.0.0.1:1"] }), {
      name: "lonely",
      logger: log,
      meterProvider: false,
    });
    nodes.push(node);
    await until("a discovery line", () => log.lines.some((l) => l.fields.layer === "discovery"));
    const line = log.lines.find((l) => l.fields.layer === "discovery")!;
    assert.match(line.message, /^discovery: /);
  });
});

describe("setMeta", () => {
  const nodes: Cluster[] = [];
  after(async () => {
    await Promise.all(nodes.map((n) => n.close()));
  });

  it("gossips new metadata: member-update on every other node of three", async () => {
    const a = await cluster(loopback(), { name: "m-a", meta: { v: "1" }, meterProvider: false });
    nodes.push(a);
    const seed = [a.addresses.memberlist!];
    for (const name of ["m-b", "m-c"]) {
      nodes.push(await cluster(loopback({ members: seed }), { name, meterProvider: false }));
    }
    await until("three alive everywhere", () => nodes.every((n) => aliveCount(n) === 3));
    const updates = new Map<string, ClusterMember[]>();
    for (const n of nodes) {
      updates.set(n.name, []);
      n.on("member-update", (m) => updates.get(n.name)!.push(m));
    }
    const before = a.members().find((m) => m.name === "m-a")!.incarnation;
    await a.setMeta({ v: "2", zone: "b" });
    const self = a.members().find((m) => m.name === "m-a")!;
    assert.deepEqual(self.meta, { v: "2", zone: "b" });
    assert.ok(self.incarnation > before, "a metadata update bumps the incarnation");
    for (const n of nodes.slice(1)) {
      await until(`${n.name} saw the update`, () => updates.get(n.name)!.length > 0);
      const m = updates.get(n.name)![0];
      assert.equal(m.name, "m-a");
      assert.deepEqual(m.meta, { v: "2", zone: "b" });
      assert.deepEqual(n.members().find((x) => x.name === "m-a")!.meta, { v: "2", zone: "b" });
      assert.equal(m.logAddress, a.addresses.log, "the log address survives the update");
    }
    assert.equal(updates.get("m-a")!.length, 0, "events tell about the others");
    await assert.rejects(a.setMeta({ big: "x".repeat(600) }), RangeError);
    await assert.rejects(a.setMeta({ n: 1 as unknown as string }), TypeError);
  });
});

describe("health", () => {
  const nodes: Cluster[] = [];
  after(async () => {
    await Promise.all(nodes.map((n) => n.close()));
  });

  it("not ready until joined; ready once joined; stays ready; not live once closed", async () => {
    const a = await cluster(loopback(), { name: "h-a", meterProvider: false });
    nodes.push(a);
    assert.deepEqual(a.health(), { live: true, ready: true, reasons: [] }, "a seed node");
    // b names a peer that does not answer yet: it must join someone first
    const pending = await cluster(loopback({ members: ["127.0.0.1:1"] }), {
      name: "h-pending",
      meterProvider: false,
    });
    nodes.push(pending);
    const h = pending.health();
    assert.equal(h.live, true);
    assert.equal(h.ready, false);
    assert.match(h.reasons.join(";"), /not joined yet: sees 1 alive member\(s\), needs 2/);

    const b = await cluster(loopback({ members: [a.addresses.memberlist!] }), {
      name: "h-b",
      meterProvider: false,
      readiness: { quorum: true },
    });
    nodes.push(b);
    await until("b is ready", () => b.health().ready);
    await a.close();
    await until("b sees a gone", () => aliveCount(b) === 1);
    const after = b.health();
    assert.equal(after.ready, false, "quorum was asked for: 1 of 2 is no majority");
    assert.deepEqual(after.reasons, ["no quorum: 1 of 2 voters reachable, 2 needed"]);
    await b.close();
    assert.deepEqual(b.health(), { live: false, ready: false, reasons: ["the node is closed"] });
  });

  it("a leaving node is not ready", async () => {
    const a = await cluster(loopback(), { name: "h-leave", meterProvider: false });
    nodes.push(a);
    const leaving = a.leave();
    assert.equal(a.health().ready, false);
    await leaving;
  });
});

/** Parses Prometheus text format 0.0.4 strictly enough to catch malformed output. */
function parsePrometheus(text: string) {
  const families = new Map<
    string,
    { help?: string; type?: string; samples: { labels: Record<string, string>; value: number }[] }
  >();
  const get = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, f = { samples: [] });
    return f;
  };
  assert.ok(text.endsWith("\n"), "ends with a newline");
  for (const line of text.slice(0, -1).split("\n")) {
    let m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      get(m[1]).help = m[2];
      continue;
    }
    m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m) {
      assert.equal(get(m[1]).samples.length, 0, `TYPE of ${m[1]} before its samples`);
      get(m[1]).type = m[2];
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+]+|NaN)$/.exec(line);
    assert.ok(m, `a valid sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;
      let at = 0;
      while (at < m[2].length) {
        re.lastIndex = at;
        const l = re.exec(m[2]);
        assert.ok(l, `valid labels: ${m[2]}`);
        labels[l[1]] = l[2];
        at = re.lastIndex;
      }
    }
    const f = families.get(m[1]);
    assert.ok(f?.type, `sample ${m[1]} has a TYPE line before it`);
    f.samples.push({ labels, value: Number(m[3]) });
  }
  return families;
}

describe("metrics", () => {
  const nodes: Cluster[] = [];
  after(async () => {
    await Promise.all(nodes.map((n) => n.close()));
    metrics.disable();
  });

  it("Prometheus text carries every counter of stats()", async () => {
    const a = await cluster(loopback(), { name: "p-a", meterProvider: false });
    nodes.push(a);
    const b = await cluster(loopback({ members: [a.addresses.memberlist!] }), {
      name: "p-b",
      meterProvider: false,
    });
    nodes.push(b);
    await until("joined", () => aliveCount(a) === 2);
    await a.log.append(new TextEncoder().encode("x"), { ack: "quorum" });
    assert.ok((a.stats().memberlist!.streamsIn.pushPull ?? 0) > 0, "b's join was a push/pull");
    const parsed = parsePrometheus(a.metrics());
    const stats = a.stats();
    const value = (name: string, labels: Record<string, string> = {}) =>
      parsed.get(name)?.samples.find((s) =>
        Object.entries(labels).every(([k, v]) => s.labels[k] === v)
      )?.value;
    // every scalar counter of both layers appears under its snake_case name
    for (
      const [layer, counters] of [["memberlist", stats.memberlist!], ["log", stats.log]] as const
    ) {
      for (const [key, v] of Object.entries(counters)) {
        const base = `response_cluster_${layer}_${
          key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
        }`;
        const name = parsed.has(`${base}_total`) ? `${base}_total` : base;
        assert.ok(parsed.has(name), `${layer}.${key} is exported as ${base}[_total]`);
        assert.ok(parsed.get(name)!.help, `${name} has help`);
        if (typeof v === "number") {
          assert.ok(value(name)! >= v, `${name} (${value(name)}) ≥ stats ${v}`);
        } else {
          // per-kind counters: every kind is a labelled series (type, reason or kind)
          const label = /^messages/.test(key)
            ? "type"
            : key === "rejectedPeers"
            ? "reason"
            : "kind";
          for (const [kind, n] of Object.entries(v as Record<string, number>)) {
            assert.ok(value(name, { [label]: kind })! >= n, `${name}{${label}="${kind}"}`);
          }
        }
      }
    }
    assert.equal(parsed.get("response_cluster_log_entries_appended_total")!.type, "counter");
    assert.equal(value("response_cluster_log_entries_appended_total"), 1);
    assert.equal(parsed.get("response_cluster_log_connections")!.type, "gauge");
    assert.equal(value("response_cluster_members", { state: "alive" }), 2);
    assert.equal(value("response_cluster_ready"), 1);
    assert.equal(
      value("response_cluster_log_rejected_peers_total", { reason: "garbage" }),
      0,
      "rejected peers by reason",
    );
  });

  it("OpenTelemetry: the global meter provider (a real SDK) collects the same counters", async () => {
    class Reader extends MetricReader {
      protected onForceFlush(): Promise<void> {
        return Promise.resolve();
      }
      protected onShutdown(): Promise<void> {
        return Promise.resolve();
      }
    }
    const reader = new Reader();
    const provider = new MeterProvider({ readers: [reader] });
    assert.ok(metrics.setGlobalMeterProvider(provider));
    const a = await cluster(loopback(), { name: "o-a" }); // no option: the global provider
    nodes.push(a);
    await a.log.append(new TextEncoder().encode("x"));
    await a.log.append(new TextEncoder().encode("y"));
    const { resourceMetrics, errors } = await reader.collect();
    assert.deepEqual(errors, []);
    const scope = resourceMetrics.scopeMetrics.find((s) => s.scope.name === "@response/cluster");
    assert.ok(scope, "a meter named @response/cluster");
    const find = (name: string) => scope.metrics.find((m) => m.descriptor.name === name);
    const appended = find("response_cluster.log.entries_appended");
    assert.ok(appended);
    assert.equal(appended.dataPoints[0].value, 2);
    const members = find("response_cluster.members")!;
    const alive = members.dataPoints.find((p) => p.attributes.state === "alive");
    assert.equal(alive?.value, 1);
    assert.ok(find("response_cluster.memberlist.probes_sent"), "memberlist counters too");
    await a.close();
    await provider.shutdown();
  });
});
