import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, parseClusterConfig } from "../cluster/config.ts";
import { presets } from "../presets/mod.ts";

function issuesOf(input: unknown): { path: string; message: string }[] {
  try {
    parseClusterConfig(input);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    return err.issues;
  }
  assert.fail("expected a ConfigError");
}

describe("parseClusterConfig", () => {
  it("no stanza means isolated mode", () => {
    assert.equal(parseClusterConfig(undefined), undefined);
  });

  it("applies every default", () => {
    assert.deepEqual(parseClusterConfig({ environment: "lan" }), {
      environment: "lan",
      bind_address: "0.0.0.0",
      bind_port: 3320,
      memberlist_bind_address: "0.0.0.0",
      memberlist_bind_port: 3322,
      min_quorum: 1,
      encrypt_verify_incoming: true,
      encrypt_verify_outgoing: true,
    });
  });

  it("min_quorum: an integer 1-1000; forget_after: a duration of at least 1s", () => {
    const ok = parseClusterConfig({ environment: "lan", min_quorum: 3, forget_after: "1h30m" });
    assert.equal(ok?.min_quorum, 3);
    assert.equal(ok?.forget_after, 5_400_000);
    assert.equal(
      parseClusterConfig({ environment: "lan", forget_after: "90s" })?.forget_after,
      90_000,
    );
    for (const bad of [0, -1, 2.5, "3"]) {
      const issues = issuesOf({ environment: "lan", min_quorum: bad });
      assert.equal(issues.length, 1, String(bad));
      assert.equal(issues[0].path, "cluster.min_quorum");
    }
    for (const bad of ["24", "soon", "500ms", 3600, ""]) {
      const issues = issuesOf({ environment: "lan", forget_after: bad });
      assert.equal(issues.length, 1, String(bad));
      assert.equal(issues[0].path, "cluster.forget_after");
      assert.match(issues[0].message, /duration/);
    }
    assert.match(issuesOf({ environment: "lan", min_quorom: 2 })[0].message, /min_quorum/);
  });

  it("accepts the three environments and requires one", () => {
    for (const environment of ["local", "lan", "wan"]) {
      assert.equal(parseClusterConfig({ environment })?.environment, environment);
    }
    const missing = issuesOf({});
    assert.equal(missing.length, 1);
    assert.equal(missing[0].path, "cluster.environment");
    assert.match(missing[0].message, /"local", "lan", "wan"/);
    const wrong = issuesOf({ environment: "cloud" });
    assert.match(wrong[0].message, /one of "local", "lan", "wan", got "cloud"/);
  });

  it("accepts IPv4, IPv6 and host names as bind addresses", () => {
    const c = parseClusterConfig({
      environment: "lan",
      bind_address: "::1",
      memberlist_bind_address: "node-1.example.com",
    });
    assert.equal(c?.bind_address, "::1");
    assert.equal(c?.memberlist_bind_address, "node-1.example.com");
    assert.equal(
      parseClusterConfig({ environment: "lan", bind_address: "10.1.2.3" })?.bind_address,
      "10.1.2.3",
    );
    const bad = issuesOf({
      environment: "lan",
      bind_address: "not an address",
      memberlist_bind_address: 7,
    });
    assert.deepEqual(bad.map((i) => i.path).sort(), [
      "cluster.bind_address",
      "cluster.memberlist_bind_address",
    ]);
    assert.match(
      bad.find((i) => i.path === "cluster.bind_address")!.message,
      /host name, got "not an address"/,
    );
  });

  it("checks ports: integers 0-65535, 0 allowed", () => {
    assert.equal(
      parseClusterConfig({ environment: "lan", bind_port: 0, memberlist_bind_port: 0 })?.bind_port,
      0,
    );
    assert.equal(parseClusterConfig({ environment: "lan", bind_port: 65535 })?.bind_port, 65535);
    for (const bad of [-1, 65536, 1.5, "3320"]) {
      const issues = issuesOf({ environment: "lan", bind_port: bad });
      assert.equal(issues[0].path, "cluster.bind_port");
      assert.match(issues[0].message, /integer 0-65535/);
    }
  });

  it("refuses the same port for both listeners on the same address", () => {
    const issues = issuesOf({ environment: "lan", bind_port: 4000, memberlist_bind_port: 4000 });
    assert.equal(issues[0].path, "cluster.memberlist_bind_port");
    assert.match(issues[0].message, /must differ from bind_port \(4000\)/);
    // a wildcard overlaps any address
    assert.equal(
      issuesOf({
        environment: "lan",
        bind_port: 4000,
        memberlist_bind_port: 4000,
        bind_address: "127.0.0.1",
      }).length,
      1,
    );
    // distinct concrete addresses may share a port
    const ok = parseClusterConfig({
      environment: "lan",
      bind_address: "127.0.0.1",
      memberlist_bind_address: "127.0.0.2",
      bind_port: 4000,
      memberlist_bind_port: 4000,
    });
    assert.equal(ok?.bind_port, 4000);
  });

  it("parses members: host:port, [v6]:port and bare host (port 3322)", () => {
    const c = parseClusterConfig({
      environment: "lan",
      members: ["10.0.0.1:4000", "[fe80::1]:5000", "node-b", "::1"],
    });
    assert.deepEqual(c?.members, [
      { host: "10.0.0.1", port: 4000 },
      { host: "fe80::1", port: 5000 },
      { host: "node-b", port: 3322 },
      { host: "::1", port: 3322 },
    ]);
  });

  it("reports bad and duplicate members with their index", () => {
    const issues = issuesOf({
      environment: "lan",
      members: ["a:1", "a:1", "b:99999", "bad host", 5, "node-c:3322", "node-c"],
    });
    const byPath = Object.fromEntries(issues.map((i) => [i.path, i.message]));
    assert.match(byPath["cluster.members[1]"], /duplicate of members\[0\]/);
    assert.match(byPath["cluster.members[2]"], /port must be 0-65535/);
    assert.ok(byPath["cluster.members[3]"]);
    assert.ok(byPath["cluster.members[4]"]);
    assert.match(byPath["cluster.members[6]"], /duplicate of members\[5\]/);
  });

  it("autojoin nats: defaults the subject, checks the URL", () => {
    const c = parseClusterConfig({
      environment: "lan",
      autojoin: { nats: { url: "nats://127.0.0.1:4222" } },
    });
    assert.equal(c?.autojoin?.name, "nats");
    const options = c?.autojoin?.options as { subject: string };
    assert.equal(options.subject, "response-cluster");
    const issues = issuesOf({ environment: "lan", autojoin: { nats: { url: "localhost" } } });
    assert.equal(
      new ConfigError(issues).message,
      `cluster.autojoin.nats.url: expected a nats://, tls://, ws:// or wss:// URL, got "localhost"`,
    );
  });

  it("autojoin: an unknown plugin lists the registered ones", () => {
    const issues = issuesOf({ environment: "lan", autojoin: { consul: {} } });
    assert.match(issues[0].message, /nats/);
    assert.match(issues[0].path, /^cluster\.autojoin/);
  });

  it("members and autojoin together: choose one", () => {
    const issues = issuesOf({
      environment: "lan",
      members: ["a:1"],
      autojoin: { nats: { url: "nats://x:4222" } },
    });
    assert.ok(issues.some((i) => /choose one/.test(i.message)));
  });

  it("unknown keys name the closest known key", () => {
    const issues = issuesOf({ environment: "lan", bind_prot: 3320, zzz: 1 });
    assert.equal(issues.length, 2);
    assert.equal(issues[0].path, "cluster.bind_prot");
    assert.match(issues[0].message, /did you mean "bind_port"\?/);
    assert.doesNotMatch(issues[1].message, /did you mean/);
  });

  it("reports every problem at once, one line each", () => {
    try {
      parseClusterConfig({
        environment: "moon",
        bind_port: -5,
        memberlist_bind_adress: "x",
        members: ["a:1", "a:1"],
      });
      assert.fail("expected ConfigError");
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.issues.length, 4);
      assert.equal(err.message.split("\n").length, 4);
      assert.match(
        err.message,
        /^cluster\.memberlist_bind_adress: unknown key .*did you mean "memberlist_bind_address"/m,
      );
      assert.match(err.message, /^cluster\.environment: /m);
      assert.match(err.message, /^cluster\.bind_port: /m);
      assert.match(err.message, /^cluster\.members\[1\]: duplicate/m);
    }
  });

  it("rejects a stanza that is not an object", () => {
    for (const bad of [null, 5, "lan", []]) {
      assert.equal(issuesOf(bad)[0].path, "cluster");
    }
  });
});

describe("presets", () => {
  it("memberlist parts equal hashicorp's DefaultLocal/LAN/WANConfig", () => {
    const expect = {
      lan: [1000, 500, 3, 200, 3, 30000, 4, 6, 4, 30000, 10000, 8, 1400],
      wan: [5000, 3000, 3, 500, 4, 60000, 6, 6, 4, 60000, 30000, 8, 1400],
      local: [1000, 200, 1, 100, 3, 15000, 3, 6, 2, 15000, 1000, 8, 1400],
    };
    for (const env of ["local", "lan", "wan"] as const) {
      const m = presets[env].memberlist;
      assert.deepEqual(
        [
          m.probeIntervalMs,
          m.probeTimeoutMs,
          m.indirectChecks,
          m.gossipIntervalMs,
          m.gossipNodes,
          m.gossipToTheDeadMs,
          m.suspicionMult,
          m.suspicionMaxTimeoutMult,
          m.retransmitMult,
          m.pushPullIntervalMs,
          m.tcpTimeoutMs,
          m.awarenessMaxMultiplier,
          m.udpBufferSize,
        ],
        expect[env],
        env,
      );
      assert.equal(presets[env].environment, env);
    }
  });

  it("log parts: local/lan push at once, wan batches and compresses", () => {
    assert.equal(presets.local.log.pushMode, "immediate");
    assert.equal(presets.lan.log.pushMode, "immediate");
    assert.equal(presets.wan.log.pushMode, "batched");
    assert.ok(presets.wan.log.batchWindowMs > 0);
    assert.equal(presets.wan.log.compress, true);
  });

  it("is frozen", () => {
    assert.ok(Object.isFrozen(presets));
    assert.ok(Object.isFrozen(presets.lan.memberlist));
    assert.throws(() => {
      (presets.lan.memberlist as { probeIntervalMs: number }).probeIntervalMs = 1;
    });
  });
});

describe("advertise keys", () => {
  const issues = (stanza: Record<string, unknown>) => {
    try {
      parseClusterConfig({ environment: "lan", ...stanza });
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.issues.map((i) => `${i.path}: ${i.message}`);
    }
    return [];
  };

  it("accepts IP literals and ports, and keeps them", () => {
    const c = parseClusterConfig({
      environment: "lan",
      advertise_address: "203.0.113.7",
      advertise_port: 13322,
      advertise_log_address: "node-1.example.internal",
      advertise_log_port: 13320,
    })!;
    assert.equal(c.advertise_address, "203.0.113.7");
    assert.equal(c.advertise_port, 13322);
    assert.equal(c.advertise_log_address, "node-1.example.internal");
    assert.equal(c.advertise_log_port, 13320);
    assert.equal(
      parseClusterConfig({ environment: "lan", advertise_address: "fd00::5" })!
        .advertise_address,
      "fd00::5",
    );
    assert.equal(parseClusterConfig({ environment: "lan" })!.advertise_address, undefined);
  });

  it("names each wrong key, all at once", () => {
    assert.deepEqual(
      issues({
        advertise_address: "node-1.example.internal",
        advertise_port: 0,
        advertise_log_address: "0.0.0.0",
        advertise_log_port: 70000,
      }),
      [
        'cluster.advertise_address: expected an IPv4/IPv6 literal (gossip carries addresses as IPs), got "node-1.example.internal"',
        "cluster.advertise_port: expected an integer 1-65535, got 0",
        "cluster.advertise_log_address: expected the address peers dial, not a wildcard",
        "cluster.advertise_log_port: expected an integer 1-65535, got 70000",
      ],
    );
    assert.deepEqual(issues({ advertise_address: "::" }), [
      "cluster.advertise_address: expected the address peers dial, not a wildcard",
    ]);
    assert.deepEqual(issues({ advertise_adress: "10.0.0.1" }), [
      'cluster.advertise_adress: unknown key "advertise_adress" (did you mean "advertise_address"?)',
    ]);
  });
});
