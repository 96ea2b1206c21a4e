/**
 * Discovery registry and config validation, with a third-party plugin defined here (not in
 * the package) and found through `autojoin: { <its name>: {...} }`.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as v from "valibot";
import {
  ConfigError,
  createDiscovery,
  type Discovery,
  type DiscoveryContext,
  getDiscovery,
  parseAutojoin,
  registerDiscovery,
  registeredDiscoveryNames,
  unregisterDiscovery,
} from "../discovery/mod.ts";
import { decodeAnnouncement, encodeAnnouncement } from "../discovery/nats_messages.ts";
import { parseHostPort } from "../transport/address.ts";
import { FakeCluster, waitFor, withDeadline } from "../testing/fake_cluster.ts";
import { cluster, type ClusterStanza } from "../mod.ts";

/** Messages of a ConfigError thrown by `fn`, as `path: message` lines. */
function configIssues(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    assert.equal(err.message, err.issues.map((i) => `${i.path}: ${i.message}`).join("\n"));
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail("expected a ConfigError");
}

// ---- a third-party plugin: a service directory polled at an interval --------------------
const directories: Map<string, string[]> = new Map();

const DirectoryOptions = v.strictObject({
  directory: v.pipe(v.string(), v.minLength(1, "must not be empty")),
  interval_ms: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 20),
});
type DirectoryOptions = v.InferOutput<typeof DirectoryOptions>;

class DirectoryDiscovery implements Discovery {
  readonly name = "test-directory";
  readonly #options: DirectoryOptions;
  #timer: unknown;
  #ctx: DiscoveryContext | undefined;
  constructor(options: DirectoryOptions) {
    this.#options = options;
  }
  start(ctx: DiscoveryContext): Promise<void> {
    this.#ctx = ctx;
    const poll = (): void => {
      const self = `${ctx.self.host}:${ctx.self.port}`;
      const known = new Set(ctx.knownMembers().map((a) => `${a.host}:${a.port}`));
      const fresh = (directories.get(this.#options.directory) ?? []).filter((a) =>
        a !== self && !known.has(a)
      );
      if (fresh.length > 0) void ctx.join(fresh.map((a) => parseHostPort(a)));
      this.#timer = ctx.clock.setTimeout(poll, this.#options.interval_ms);
    };
    poll();
    return Promise.resolve();
  }
  close(): Promise<void> {
    this.#ctx?.clock.clearTimeout(this.#timer);
    return Promise.resolve();
  }
}

registerDiscovery<DirectoryOptions>("test-directory", {
  parse(options, path) {
    const r = v.safeParse(DirectoryOptions, options);
    if (r.success) return r.output;
    throw new ConfigError(r.issues.map((i) => ({
      path: v.getDotPath(i) === null ? path : `${path}.${v.getDotPath(i)}`,
      message: i.message,
    })));
  },
  create: (options) => new DirectoryDiscovery(options),
});

describe("discovery registry", () => {
  after(() => {
    unregisterDiscovery("test-directory");
  });

  it("lists the built-ins and the third-party plugin", () => {
    assert.deepEqual(registeredDiscoveryNames(), ["dns", "nats", "static", "test-directory"]);
    assert.ok(getDiscovery("nats") !== undefined);
    assert.equal(getDiscovery("nope"), undefined);
  });

  it("finds a third-party plugin by name and runs it", async () => {
    const parsed = parseAutojoin({ "test-directory": { directory: "prod" } });
    assert.deepEqual(parsed, {
      name: "test-directory",
      options: { directory: "prod", interval_ms: 20 },
    });
    const cluster = new FakeCluster();
    const nodes = [cluster.add("a"), cluster.add("b"), cluster.add("c")];
    const stop = new AbortController();
    const running = nodes.map((n) => {
      const d = createDiscovery(parsed);
      return { d, started: d.start(n.context(stop.signal)) };
    });
    await Promise.all(running.map((r) => r.started));
    // nodes register in the directory one by one, later than the discoveries started
    for (const n of nodes) {
      directories.set("prod", [
        ...(directories.get("prod") ?? []),
        `${n.self.host}:${n.self.port}`,
      ]);
      await new Promise((r) => setTimeout(r, 30));
    }
    await waitFor("one cluster through the plugin", () => cluster.sameGroup(nodes));
    stop.abort();
    await Promise.all(running.map((r) => withDeadline(r.d.close(), 5000, "close")));
  });

  it("reports the plugin's own validation errors with full paths", () => {
    assert.deepEqual(
      configIssues(() => parseAutojoin({ "test-directory": { directory: "", extra: 1 } })),
      [
        "cluster.autojoin.test-directory.directory: must not be empty",
        'cluster.autojoin.test-directory.extra: Invalid key: Expected never but received "extra"',
      ],
    );
  });

  it("rejects an unknown plugin, listing the registered names", () => {
    assert.deepEqual(configIssues(() => parseAutojoin({ consul: { url: "x" } })), [
      'cluster.autojoin.consul: unknown discovery plugin "consul" (registered: dns, nats, static, test-directory)',
    ]);
  });

  it("requires exactly one plugin key in an object", () => {
    assert.match(
      configIssues(() => parseAutojoin({}))[0],
      /^cluster\.autojoin: expected exactly one .* got none/,
    );
    assert.match(
      configIssues(() =>
        parseAutojoin({ nats: { url: "nats://a:1" }, static: { members: ["a:1"] } })
      )[0],
      /got 2: "nats", "static"/,
    );
    for (const bad of [null, "nats", ["nats"], 3]) {
      assert.match(
        configIssues(() => parseAutojoin(bad))[0],
        /^cluster\.autojoin: expected an object/,
      );
    }
    assert.match(configIssues(() => parseAutojoin(null, "x.autojoin"))[0], /^x\.autojoin: /);
  });

  it("refuses duplicate and malformed plugin names", () => {
    const factory = {
      parse: (o: unknown) => o,
      create: () => new DirectoryDiscovery({ directory: "x", interval_ms: 1 }),
    };
    assert.throws(() => registerDiscovery("nats", factory), /already registered/);
    registerDiscovery("nats", getDiscovery("nats")!); // the same factory again: a no-op
    assert.throws(() => registerDiscovery("", factory), /invalid discovery plugin name/);
    assert.throws(() => registerDiscovery("a b", factory), /invalid discovery plugin name/);
  });

  it("keeps one node's own plugins with that node", async () => {
    let created = 0;
    const factory = {
      parse: (o: unknown) => o,
      create: () => {
        created++;
        return new DirectoryDiscovery({ directory: "node-local", interval_ms: 20 });
      },
    };
    const stanza: ClusterStanza = {
      environment: "local",
      bind_address: "127.0.0.1",
      bind_port: 0,
      memberlist_bind_address: "127.0.0.1",
      memberlist_bind_port: 0,
      autojoin: { "node-only": {} },
    };
    const node = await cluster(stanza, {
      name: "local-plugin",
      discovery: { "node-only": factory },
    });
    try {
      assert.equal(created, 1);
      // the plugin was not registered module-wide: the next node without it is refused
      assert.deepEqual(registeredDiscoveryNames(), ["dns", "nats", "static", "test-directory"]);
      await assert.rejects(cluster(stanza, { name: "next" }), (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, /unknown discovery plugin "node-only"/);
        return true;
      });
    } finally {
      await node.close();
    }
  });

  it("wraps a plugin's non-ConfigError failure into a ConfigError at the plugin path", () => {
    registerDiscovery("test-throws", {
      parse: () => {
        throw new Error("boom");
      },
      create: () => new DirectoryDiscovery({ directory: "x", interval_ms: 1 }),
    });
    try {
      assert.deepEqual(configIssues(() => parseAutojoin({ "test-throws": {} })), [
        "cluster.autojoin.test-throws: boom",
      ]);
    } finally {
      unregisterDiscovery("test-throws");
    }
  });
});

describe("nats options", () => {
  const nats = (options: unknown): string[] => configIssues(() => parseAutojoin({ nats: options }));

  it("accepts a URL or a list, and defaults the subject", () => {
    assert.deepEqual(parseAutojoin({ nats: { url: "nats://127.0.0.1:4222" } }), {
      name: "nats",
      options: { url: ["nats://127.0.0.1:4222"], subject: "response-cluster" },
    });
    const urls = ["tls://a:4222", "nats://b:4222"];
    assert.deepEqual(parseAutojoin({ nats: { url: urls, subject: "prod.eu-1" } }).options, {
      url: urls,
      subject: "prod.eu-1",
    });
    assert.deepEqual(parseAutojoin({ nats: { url: ["ws://a:8080", "wss://b"] } }).options, {
      url: ["ws://a:8080", "wss://b"],
      subject: "response-cluster",
    });
  });

  it("names a bad URL exactly", () => {
    assert.deepEqual(nats({ url: "localhost" }), [
      'cluster.autojoin.nats.url: expected a nats://, tls://, ws:// or wss:// URL, got "localhost"',
    ]);
    assert.deepEqual(nats({ url: ["nats://a:1", "http://b", 7] }), [
      'cluster.autojoin.nats.url[1]: expected a nats://, tls://, ws:// or wss:// URL, got "http://b"',
      "cluster.autojoin.nats.url[2]: expected a nats://, tls://, ws:// or wss:// URL, got 7",
    ]);
    assert.deepEqual(nats({ url: [] }), ["cluster.autojoin.nats.url: expected at least one URL"]);
    assert.match(nats({})[0], /^cluster\.autojoin\.nats\.url: required/);
    assert.match(nats({ url: ["nats://a:1", "ws://b:2"] })[0], /cannot mix/);
    assert.match(nats(null)[0], /^cluster\.autojoin\.nats: expected an object/);
  });

  it("rejects subjects with spaces, wildcards or empty tokens", () => {
    for (const subject of ["a b", "a.*", "a.>", ">", "a..b", ".a", "a.", "", 3]) {
      const issues = nats({ url: "nats://a:1", subject });
      assert.equal(issues.length, 1, `subject ${JSON.stringify(subject)}`);
      assert.match(issues[0], /^cluster\.autojoin\.nats\.subject: expected /);
    }
  });

  it("names every unknown option key", () => {
    assert.deepEqual(nats({ url: "nats://a:1", servers: "x", subjet: "y" }), [
      'cluster.autojoin.nats.servers: unknown option "servers" (allowed: url, subject)',
      'cluster.autojoin.nats.subjet: unknown option "subjet" (allowed: url, subject)',
    ]);
  });

  it("validates static members", () => {
    assert.deepEqual(
      parseAutojoin({ static: { members: ["10.0.0.1:3322", "[::1]:7946"] } }).options,
      {
        members: ["10.0.0.1:3322", "[::1]:7946"],
      },
    );
    const issues = configIssues(() =>
      parseAutojoin({ static: { members: ["a:1", "b", 5], x: 1 } })
    );
    assert.deepEqual(issues.map((i) => i.slice(0, i.indexOf(": "))), [
      "cluster.autojoin.static.x",
      "cluster.autojoin.static.members[1]",
      "cluster.autojoin.static.members[2]",
    ]);
  });
});

describe("nats announcement codec", () => {
  it("round-trips and never throws on arbitrary bytes", () => {
    const a = { name: "node-a", address: { host: "::1", port: 7946 } };
    assert.deepEqual(decodeAnnouncement(encodeAnnouncement(a)), a);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), (bytes) => {
        decodeAnnouncement(bytes); // must not throw
      }),
    );
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const r = decodeAnnouncement(new TextEncoder().encode(JSON.stringify(value)));
        assert.ok(r === undefined || (typeof r.name === "string" && r.address.port > 0));
      }),
    );
  });
});
