/**
 * `autojoin "dns"`: option validation, and real clusters that find each other through a real
 * dnsmasq (A records on 127.0.0.x, SRV records with ports) whose records change mid-test.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type AutojoinStanza, type Cluster, cluster, clusterStanza, ConfigError } from "../mod.ts";
import { parseDnsOptions } from "../discovery/mod.ts";
import { Dnsmasq, dnsmasqPath } from "../testing/dnsmasq.ts";
import { freePort } from "../testing/nats_server.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

const alive = (n: Cluster) =>
  n.members().filter((m) => m.state === "alive").map((m) => m.name).sort();

describe("autojoin dns options", () => {
  const path = "cluster.autojoin.dns";
  it("applies defaults", () => {
    assert.deepEqual(parseDnsOptions({ name: "rc.default.svc.cluster.local" }, path), {
      name: "rc.default.svc.cluster.local",
      type: "a",
      port: 3322,
      intervalMs: 10_000,
    });
    assert.deepEqual(
      parseDnsOptions({
        name: "_gossip._tcp.rc.default.svc.cluster.local",
        type: "srv",
        interval: "2s",
        servers: ["10.96.0.10", "[fd00::a]:5353"],
      }, path),
      {
        name: "_gossip._tcp.rc.default.svc.cluster.local",
        type: "srv",
        port: 3322,
        intervalMs: 2000,
        servers: ["10.96.0.10:53", "[fd00::a]:5353"],
      },
    );
    assert.equal(parseDnsOptions({ name: "x.test", interval: 250 }, path).intervalMs, 250);
    assert.equal(parseDnsOptions({ name: "x.test", interval: "1m" }, path).intervalMs, 60_000);
  });

  it("names every wrong option", async () => {
    const issues = (o: unknown) => {
      try {
        parseDnsOptions(o, path);
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        return err.issues.map((i) => `${i.path}: ${i.message}`);
      }
      return [];
    };
    assert.deepEqual(
      issues({ type: "mx", port: 0, interval: "soon", servers: ["dns.example"], ttl: 3 }),
      [
        'cluster.autojoin.dns.ttl: unknown option "ttl" (allowed: name, type, port, interval, servers)',
        'cluster.autojoin.dns.interval: expected a duration of at least 100 ms ("10s", "500ms", "2m" or milliseconds), got "soon"',
        'cluster.autojoin.dns.servers[0]: expected "ip" or "ip:port", got "dns.example"',
        "cluster.autojoin.dns.name: required: the DNS name to resolve (e.g. a headless Service)",
        'cluster.autojoin.dns.type: expected one of "a", "aaaa", "srv", got "mx"',
        "cluster.autojoin.dns.port: expected an integer 1-65535, got 0",
      ],
    );
    assert.deepEqual(issues({ name: "bad name!" }), [
      'cluster.autojoin.dns.name: expected a DNS name, got "bad name!"',
    ]);
    assert.deepEqual(issues({ name: "_rc._tcp.x.test", type: "srv", port: 1 }), [
      'cluster.autojoin.dns.port: not used with type "srv": SRV records carry the port',
    ]);
    // through the stanza, with the registered plugin
    await assert.rejects(
      (async () => await cluster(clusterStanza({ environment: "local", autojoin: { dns: {} } })))(),
      /cluster\.autojoin\.dns\.name: required/,
    );
  });
});

const missing = dnsmasqPath() === undefined
  ? "dnsmasq is not installed (apt-get install -y dnsmasq); skipping the real-DNS tests"
  : undefined;
if (missing) console.log(`SKIP: ${missing}`);

describe("autojoin dns against a real dnsmasq", { skip: missing }, () => {
  const nodes: Cluster[] = [];
  const servers: Dnsmasq[] = [];
  let port = 0;
  before(async () => {
    port = await freePort();
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.close()));
    await Promise.all(servers.map((s) => s.stop()));
  });

  const node = (ip: string, name: string, autojoin?: AutojoinStanza["dns"]) =>
    cluster({
      environment: "local",
      bind_address: ip,
      bind_port: 0,
      memberlist_bind_address: ip,
      memberlist_bind_port: port,
      ...(autojoin ? { autojoin: { dns: autojoin } } : {}),
    }, { name, meterProvider: false });

  it("A records: nodes join what the name resolves to, and the member added later", async () => {
    const dns = await Dnsmasq.start({ hosts: "127.0.0.2 rc.test\n127.0.0.3 rc.test\n" });
    servers.push(dns);
    const options = { name: "rc.test", port, interval: "200ms", servers: [dns.server] };
    const a = await node("127.0.0.2", "dns-a", options);
    const b = await node("127.0.0.3", "dns-b", options);
    nodes.push(a, b);
    await until("a and b see each other", () => alive(a).length === 2 && alive(b).length === 2);
    // c runs without any discovery: only a DNS change can bring it in
    const c = await node("127.0.0.4", "dns-c");
    nodes.push(c);
    await sleep(600); // three re-resolutions: the record set does not have c yet
    assert.deepEqual(alive(c), ["dns-c"], "nobody joins c before DNS names it");
    await dns.setHosts("127.0.0.2 rc.test\n127.0.0.3 rc.test\n127.0.0.4 rc.test\n", {
      name: "rc.test",
      addresses: ["127.0.0.2", "127.0.0.3", "127.0.0.4"],
    });
    await until("everyone sees three", () => nodes.every((n) => alive(n).length === 3));
    assert.deepEqual(alive(c), ["dns-a", "dns-b", "dns-c"]);
  });

  it("SRV records: targets and ports from the records", async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const dns = await Dnsmasq.start({
      hosts: "127.0.0.1 n1.rc.test\n127.0.0.1 n2.rc.test\n",
      srv: [`_gossip._tcp.rc.test,n1.rc.test,${p1}`, `_gossip._tcp.rc.test,n2.rc.test,${p2}`],
    });
    servers.push(dns);
    const autojoin = {
      dns: { name: "_gossip._tcp.rc.test", type: "srv", interval: "200ms", servers: [dns.server] },
    } as const;
    const mk = (name: string, p: number) =>
      cluster({
        environment: "local",
        bind_address: "127.0.0.1",
        bind_port: 0,
        memberlist_bind_address: "127.0.0.1",
        memberlist_bind_port: p,
        autojoin,
      }, { name, meterProvider: false });
    const s1 = await mk("srv-1", p1);
    nodes.push(s1);
    const s2 = await mk("srv-2", p2);
    nodes.push(s2);
    await until("both see each other", () => alive(s1).length === 2 && alive(s2).length === 2);
    assert.equal(
      s1.members().find((m) => m.name === "srv-2")!.address,
      `127.0.0.1:${p2}`,
      "the SRV record's port",
    );
  });
});
