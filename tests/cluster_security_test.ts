// The stanza's security keys end to end: encrypt / encrypt_file / tls validation, keyed
// gossip and log together, the open-ports warning, the migration switches, and a real Go
// memberlist peer holding the same key.
import { after, afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Cluster, cluster, clusterStanza, ConfigError, parseClusterConfig } from "../mod.ts";
import { type GoPeer, startGoPeer, stopAllPeers } from "../testing/go_peer.ts";
import { helloFrame, rawExchange } from "../testing/log_attacker.ts";
import { parseHostPort } from "../transport/mod.ts";
import { issueCert, makeCa } from "../testing/tls_certs.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

const b64 = (n = 32) => Buffer.from(randomBytes(n)).toString("base64");
const loopback = (extra: Record<string, unknown> = {}) => ({
  environment: "local",
  bind_address: "127.0.0.1",
  bind_port: 0,
  memberlist_bind_address: "127.0.0.1",
  memberlist_bind_port: 0,
  ...extra,
});
const names = (n: Cluster) => n.members().filter((m) => m.state === "alive").map((m) => m.name);
const issues = (stanza: Record<string, unknown>) => {
  try {
    parseClusterConfig(stanza);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  return [];
};

let nodes: Cluster[] = [];
const dir = mkdtempSync(join(tmpdir(), "cluster-sec-"));
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
});
after(async () => {
  await stopAllPeers();
  rmSync(dir, { recursive: true, force: true });
});

async function start(name: string, stanza: Record<string, unknown>, warnings?: string[]) {
  const node = await cluster(clusterStanza(stanza), {
    name,
    logger: {
      debug() {},
      info() {},
      warn: (m) => warnings?.push(m),
      error() {},
    },
  });
  nodes.push(node);
  return node;
}

/** b joins a; each writes a key; both see both. */
async function pairReplicates(a: Cluster, b: Cluster): Promise<void> {
  await until(
    `${a.name} and ${b.name} see each other`,
    () => names(a).includes(b.name) && names(b).includes(a.name),
  );
  await a.cache.set(`from-${a.name}`, "x");
  await b.cache.set(`from-${b.name}`, "y");
  await until(
    `${a.name} and ${b.name} replicate`,
    () => a.cache.getText(`from-${b.name}`) === "y" && b.cache.getText(`from-${a.name}`) === "x",
  );
}

describe("stanza security keys", () => {
  it("validates encrypt, encrypt_file and tls with errors naming the key", () => {
    assert.deepEqual(issues(loopback({ encrypt: "not base64!" })), [
      "cluster.encrypt: expected a base64 key",
    ]);
    assert.match(
      issues(loopback({ encrypt: b64(20) }))[0],
      /^cluster.encrypt: .*16, 24 or 32 bytes.*20/,
    );
    assert.match(
      issues(loopback({ encrypt_file: join(dir, "missing") }))[0],
      /^cluster.encrypt_file: cannot read/,
    );
    const bad = join(dir, "bad.keys");
    writeFileSync(bad, `${b64()}\nnope\n`);
    assert.match(issues(loopback({ encrypt_file: bad }))[0], /^cluster.encrypt_file: .*line 2/);
    assert.match(issues(loopback({ encrypt: b64(), encrypt_file: bad })).join("\n"), /both set/);
    assert.deepEqual(issues(loopback({ encrypt_verify_incoming: "no" })), [
      "cluster.encrypt_verify_incoming: expected true or false, got string",
    ]);
    assert.deepEqual(
      issues(loopback({ tls: { ca_file: join(dir, "nope.pem") } })).sort(),
      [
        `cluster.tls.ca_file: cannot read ${
          join(dir, "nope.pem")
        }: ENOENT: no such file or directory, open '${join(dir, "nope.pem")}'`,
        "cluster.tls.cert_file: required: a PEM file path",
        "cluster.tls.key_file: required: a PEM file path",
      ].sort(),
    );
    assert.match(issues(loopback({ encyrpt: b64() }))[0], /did you mean "encrypt"/);
  });

  it("encrypt keys gossip and the log; another key is kept out of both; stats show it", async () => {
    const key = b64();
    const warnings: string[] = [];
    const a = await start("a", loopback({ encrypt: key, bind_address: "0.0.0.0" }), warnings);
    const seed = a.addresses.memberlist!;
    const keys = join(dir, "b.keys");
    writeFileSync(keys, `# primary first\n${key}\n${b64()}\n`);
    const b = await start("b", loopback({ encrypt_file: keys, members: [seed] }));
    await pairReplicates(a, b);
    assert.deepEqual(a.stats().security, {
      gossip: "keyed",
      log: "keyed",
      verifyIncoming: true,
      verifyOutgoing: true,
    });
    assert.deepEqual(warnings, [], "a keyed node on 0.0.0.0 gives no warning");
    assert.equal(a.log.stats().rejectedPeers.unauthenticated, 0);

    const c = await start("0-c", loopback({ encrypt: b64(), members: [seed] }));
    await sleep(1500);
    assert.ok(!names(a).includes("0-c") && !names(c).includes("a"), "another key cannot join");
    assert.ok(a.stats().memberlist!.rejected > 0, "gossip with another key is counted");
    // the log: c learns nothing, and a plaintext Hello to a's log port gets nothing back
    assert.deepEqual([...c.log.heads().keys()], []);
    const plain = await rawExchange(parseHostPort(a.addresses.log!), helloFrame("a-twin"));
    assert.equal(plain.received.length, 0);
    assert.equal(a.log.stats().rejectedPeers.unauthenticated, 1);
  });

  it("an open node on a non-loopback address warns once and says so in stats()", async () => {
    const warnings: string[] = [];
    const open = await start("open", loopback({ bind_address: "0.0.0.0" }), warnings);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /^SECURITY: log port 0\.0\.0\.0:\d+ is OPEN to the network/);
    assert.match(warnings[0], /openssl rand -base64 32/);
    assert.deepEqual(open.stats().security, {
      gossip: "open",
      log: "open",
      verifyIncoming: true,
      verifyOutgoing: true,
    });
    const quiet: string[] = [];
    await start("loop", loopback(), quiet);
    assert.deepEqual(quiet, [], "loopback-only ports are not open to the network");
  });

  it("rolling migration open → keyed: each step works with the one before, the last refuses open", async () => {
    const key = b64();
    const steps = [
      {},
      { encrypt: key, encrypt_verify_incoming: false, encrypt_verify_outgoing: false },
      { encrypt: key, encrypt_verify_incoming: false },
      { encrypt: key },
    ];
    for (let i = 1; i < steps.length; i++) {
      const before = await start(`s${i - 1}`, loopback(steps[i - 1]));
      const next = await start(
        `s${i}`,
        loopback({ ...steps[i], members: [before.addresses.memberlist!] }),
      );
      await pairReplicates(before, next);
      await Promise.all(nodes.map((n) => n.close()));
      nodes = [];
    }
    const open = await start("open", loopback(steps[0]));
    const done = await start(
      "done",
      loopback({ ...steps[3], members: [open.addresses.memberlist!] }),
    );
    await sleep(1500);
    assert.ok(!names(done).includes("open") && !names(open).includes("done"));
    assert.ok(done.stats().memberlist!.rejected > 0);
  });
});

describe("stanza tls block", () => {
  it("two nodes with certificates of one CA replicate over mutual TLS; stats say tls", async () => {
    makeCa(dir, "ca");
    const tls = (n: string) => issueCert(dir, "ca", n);
    const key = b64();
    const a = await start("a", loopback({ encrypt: key, tls: tls("a") }));
    const b = await start(
      "b",
      loopback({ encrypt: key, tls: tls("b"), members: [a.addresses.memberlist!] }),
    );
    await pairReplicates(a, b);
    assert.equal(a.stats().security.log, "tls");
    assert.equal(a.stats().security.gossip, "keyed");
    // a keyed (not TLS) dial is refused by the TLS port
    const plain = await rawExchange(parseHostPort(a.addresses.log!), helloFrame("x"));
    assert.equal(plain.closed, true);
    await until("counted", () => a.log.stats().rejectedPeers.tls >= 1);
  });
});

describe("a real Go memberlist peer with the stanza's key", () => {
  let go: GoPeer | undefined;
  afterEach(async () => {
    await go?.stop();
    go = undefined;
  });

  it("joins gossip with the same key; a Go peer with another key does not", async () => {
    const key = randomBytes(32);
    const node = await start("ts", loopback({ encrypt: Buffer.from(key).toString("base64") }));
    go = await startGoPeer({
      name: "go-same",
      key: new Uint8Array(key),
      join: [node.addresses.memberlist!],
    });
    await until("go peer is a member", () => names(node).includes("go-same"));
    await go.waitForMembers((m) => m.some((x) => x.name === "ts" && x.state === "alive"), 20_000);
    await go.stop();
    const rejected = node.stats().memberlist!.rejected;
    go = await startGoPeer({ name: "go-other", key: new Uint8Array(randomBytes(32)) });
    const joined = await go.join(node.addresses.memberlist!);
    assert.equal(joined.count, 0);
    assert.ok(!names(node).includes("go-other"));
    assert.ok(node.stats().memberlist!.rejected > rejected);
  });
});
