// Keyed replication and mutual TLS on the log port, attacked with raw sockets: refusals are
// counted, real peers keep being served, nothing is lost.
import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LogKeys, type LogSecurity, QuorumError, type ReplicatedLog } from "../log/mod.ts";
import { FrameType } from "../log/frames.ts";
import { HandshakeError } from "../log/secure_handshake.ts";
import { Keyring } from "../memberlist/mod.ts";
import { addr, closeAll, converged, startLog, waitFor, wire } from "../testing/log_cluster.ts";
import {
  ackFrame,
  helloFrame,
  keyedExchange,
  rawExchange,
  TamperProxy,
} from "../testing/log_attacker.ts";
import { issueCert, makeCa } from "../testing/tls_certs.ts";

let logs: ReplicatedLog[] = [];
let extras: { close(): Promise<void> }[] = [];

afterEach(async () => {
  await closeAll(logs);
  logs = [];
  await Promise.all(extras.map((t) => t.close()));
  extras = [];
});

const k1 = new Uint8Array(32).fill(1);
const k2 = new Uint8Array(32).fill(2);
const fixed = (...keys: Uint8Array[]): LogKeys => ({
  primaryKey: () => keys[0],
  keys: () => keys,
});
const keyed = (keys: LogKeys): LogSecurity => ({ mode: "keyed", keys });

async function start(
  names: string[],
  security: (name: string) => LogSecurity | undefined,
): Promise<ReplicatedLog[]> {
  const started = await Promise.all(names.map((n) => startLog(n, { security: security(n) })));
  logs.push(...started);
  return started;
}

async function writeSome(log: ReplicatedLog, n: number, tag = ""): Promise<void> {
  const pending: Promise<unknown>[] = [];
  for (let i = 1; i <= n; i++) {
    if (i % 3 === 0) pending.push(log.cache.set(`k${i % 7}`, `${log.name}${tag}-${i}`));
    else pending.push(log.appendText(`${log.name}${tag} ${i}`));
  }
  await Promise.all(pending);
}

const totalOpened = (l: ReplicatedLog[]) => l.reduce((n, x) => n + x.stats().connectionsOpened, 0);

describe("keyed replication", () => {
  it("refuses plaintext, a wrong key, a keyed non-member and a second session of a live member; counts each; peers go on", async () => {
    const [a, b, c] = await start(["a", "b", "c"], () => keyed(fixed(k1)));
    wire([a, b, c]);
    await waitFor(() => [a, b, c].every((l) => l.connectedPeers().length === 2), "connections");
    const writes = writeSome(a, 150);

    // a plaintext Hello (even with an Entries-like tail) gets no byte back
    const plain = await rawExchange(addr(a), helloFrame("mallory"));
    assert.equal(plain.closed, true);
    assert.equal(plain.received.length, 0, "a plaintext peer must not get a Hello or a digest");
    assert.equal(a.stats().rejectedPeers.unauthenticated, 1);

    // the right handshake with the wrong key: refused before anything is sealed
    const wrong = keyedExchange(addr(a), fixed(k2), "mallory", "a", [helloFrame("mallory")]);
    await assert.rejects(wrong, (err) => err instanceof HandshakeError && err.code === "closed");
    await waitFor(() => a.stats().rejectedPeers.key === 1, "key refusal counted");

    // the right key under a name that is not a member: refused after Hello, no digest, no entries
    const outsider = await keyedExchange(addr(a), fixed(k1), "mallory", "a", [
      helloFrame("mallory"),
    ]);
    extras.push(outsider.transport);
    assert.equal(outsider.closed, true);
    assert.deepEqual(outsider.frames.map((f) => f.type), [FrameType.Hello]);
    assert.equal(a.stats().rejectedPeers["not-member"], 1);

    // the right key, proving one name and saying another in its Hello: refused as "name"
    const liar = await keyedExchange(addr(a), fixed(k1), "mallory", "a", [helloFrame("b")]);
    extras.push(liar.transport);
    assert.equal(liar.closed, true);
    assert.deepEqual(liar.frames.map((f) => f.type), [FrameType.Hello]);
    assert.equal(a.stats().rejectedPeers.name, 1);

    // the right key under a live member's name: the live session stays, the new one is refused
    // (c accepted b's session, so both are inbound at c and only liveness decides)
    const opened = c.stats().connectionsOpened;
    const twin = await keyedExchange(addr(c), fixed(k1), "b", "c", [
      helloFrame("b"),
      ackFrame("c", 1_000_000),
    ]);
    extras.push(twin.transport);
    assert.equal(twin.closed, true);
    assert.deepEqual(twin.frames.map((f) => f.type), [FrameType.Hello]);
    assert.equal(c.stats().rejectedPeers.duplicate, 1);
    assert.equal(c.stats().connectionsOpened, opened, "the live session was not replaced");

    await writes;
    await Promise.all([writeSome(b, 40), writeSome(c, 40)]);
    await waitFor(() => converged([a, b, c], { a: 150, b: 40, c: 40 }), "convergence");
    assert.deepEqual(a.connectedPeers().sort(), ["b", "c"]);
  });

  it("a dialer that becomes a member here a moment later is admitted, not refused", async () => {
    const [a, b] = await start(["a", "b"], () => keyed(fixed(k1)));
    a.setPeers([{ name: "b", address: addr(b) }]);
    await new Promise((r) => setTimeout(r, 300)); // a's handshake is done, b does not list a yet
    b.setPeers([{ name: "a", address: addr(a) }]);
    await waitFor(() => b.connectedPeers().length === 1, "b admits a");
    await writeSome(a, 10);
    await waitFor(() => converged([a, b], { a: 10 }), "replication");
    assert.equal(b.stats().rejectedPeers["not-member"], 0);
    assert.equal(b.stats().connectionsOpened, 1);
  });

  it("a forged ack over plaintext never counts towards a quorum", async () => {
    const [a] = await start(["a"], () => keyed(fixed(k1)));
    // b and c are members that do not run: only a forger could ack
    a.setPeers([
      { name: "b", address: { host: "127.0.0.1", port: 1 } },
      { name: "c", address: { host: "127.0.0.1", port: 1 } },
    ]);
    const append = a.appendText("needs a quorum", { ack: "quorum", timeout: 1500 });
    const forged = await rawExchange(
      addr(a),
      Uint8Array.from([
        ...helloFrame("b"),
        ...ackFrame("a", 1),
      ]),
    );
    assert.equal(forged.received.length, 0);
    await assert.rejects(append, QuorumError);
    assert.equal(a.stats().rejectedPeers.unauthenticated, 1);
  });

  it("large entries (records above 2 KiB, several per write) replicate intact; a modified one is caught", async () => {
    const [a, b] = await start(["a", "b"], () => keyed(fixed(k1)));
    const proxy = await TamperProxy.start(addr(b), ["modify-large"]);
    extras.push(proxy);
    a.setPeers([{ name: "b", address: proxy.address }]);
    b.setPeers([{ name: "a", address: addr(a) }]);
    const big = (i: number) => new Uint8Array(200_000).map((_, j) => (i * 31 + j) & 0xff);
    for (let i = 0; i < 4; i++) await a.append(big(i));
    await waitFor(() => b.stats().rejectedPeers.tampered === 1, "modified large record detected");
    await waitFor(() => converged([a, b], { a: 4 }), "convergence after redial");
    let i = 0;
    for await (const e of b.read({ origin: a.origin })) assert.deepEqual(e.value, big(i++));
    assert.equal(i, 4);
  });

  for (const tamper of ["modify", "replay", "reorder"] as const) {
    it(`a record that is ${tamper === "modify" ? "modified" : tamper + "ed"} drops the connection, is counted, and replication recovers`, async () => {
      const [a, b] = await start(["a", "b"], () => keyed(fixed(k1)));
      const proxy = await TamperProxy.start(addr(b), [tamper]);
      extras.push(proxy);
      // a (the smaller name) dials b through the proxy
      a.setPeers([{ name: "b", address: proxy.address }]);
      b.setPeers([{ name: "a", address: addr(a) }]);
      await writeSome(a, 60);
      await waitFor(() => b.stats().rejectedPeers.tampered === 1, `${tamper} detected`);
      await writeSome(a, 40, "-later");
      await writeSome(b, 30);
      await waitFor(() => converged([a, b], { a: 100, b: 30 }), "convergence after redial");
      assert.ok(proxy.connections >= 2, "a redialed");
      assert.equal(b.stats().rejectedPeers.tampered, 1);
    });
  }

  it("key rotation (add, use, remove) keeps live connections and replication; old-key-only peers are refused after", async () => {
    const rings = new Map<string, Keyring>();
    for (const n of ["a", "b", "c"]) rings.set(n, await Keyring.create([k1]));
    const [a, b, c] = await start(["a", "b", "c"], (n) => keyed(rings.get(n)!));
    wire([a, b, c]);
    await Promise.all([writeSome(a, 30), writeSome(b, 30), writeSome(c, 30)]);
    await waitFor(() => converged([a, b, c], { a: 30, b: 30, c: 30 }), "before rotation");
    const opened = totalOpened([a, b, c]);

    for (const r of rings.values()) await r.addKey(k2);
    for (const r of rings.values()) r.useKey(k2);
    await writeSome(a, 20, "-mid");
    for (const r of rings.values()) r.removeKey(k1);
    await Promise.all([writeSome(a, 20, "-new"), writeSome(c, 20, "-new")]);
    await waitFor(() => converged([a, b, c], { a: 70, b: 30, c: 50 }), "after rotation");
    assert.equal(totalOpened([a, b, c]), opened, "no connection was dropped by the rotation");

    // a new node with only the new key joins; one with only the old key is refused
    const [d] = await start(["d"], () => keyed(fixed(k2)));
    const [old] = await start(["0-old"], () => keyed(fixed(k1)));
    wire([a, b, c, d, old]);
    await writeSome(d, 10);
    await waitFor(() => converged([a, b, c, d], { a: 70, b: 30, c: 50, d: 10 }), "d joins");
    await waitFor(
      () => [a, b, c, d].every((l) => l.stats().rejectedPeers.key >= 1),
      "old-key node refused everywhere",
    );
    assert.deepEqual([...old.heads().keys()], []);
  });

  it("rolling migration open → keyed with verifyIncoming/verifyOutgoing: adjacent steps replicate both ways", async () => {
    const step = (n: 0 | 1 | 2 | 3): LogSecurity | undefined =>
      n === 0 ? undefined : {
        mode: "keyed",
        keys: fixed(k1),
        verifyIncoming: n === 3,
        verifyOutgoing: n >= 2,
      };
    for (const [x, y] of [[0, 1], [1, 2], [2, 3]] as const) {
      // each pair twice, so each step both dials and accepts
      for (const [lo, hi] of [[x, y], [y, x]]) {
        const [p, q] = await start([`a${lo}`, `b${hi}`], (n) => step(n === `a${lo}` ? lo : hi));
        wire([p, q]);
        await Promise.all([writeSome(p, 20), writeSome(q, 20)]);
        await waitFor(
          () => converged([p, q], { [p.name]: 20, [q.name]: 20 }),
          `steps ${lo} (dials) and ${hi}`,
        );
        await closeAll([p, q]);
      }
    }
    // the end state refuses the open start state
    const [open, done] = await start(["a-open", "b-keyed"], (n) => step(n === "a-open" ? 0 : 3));
    wire([open, done]);
    await waitFor(() => done.stats().rejectedPeers.unauthenticated >= 1, "open node refused");
    assert.equal(done.stats().plaintextAccepted, 0);
    assert.deepEqual(done.connectedPeers(), []);
  });
});

describe("mutual TLS", () => {
  let dir = "";
  const pem = (f: string) => readFileSync(join(dir, f), "utf8");
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "log-tls-"));
    for (const ca of ["ca", "rogue-ca"]) makeCa(dir, ca);
    for (const n of ["a", "b"]) issueCert(dir, "ca", n);
    issueCert(dir, "rogue-ca", "m");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const tls = (name: string, ca = "ca"): LogSecurity => ({
    mode: "tls",
    ca: pem(`${ca}.pem`),
    cert: pem(`${name}.pem`),
    key: pem(`${name}.key`),
  });

  it("trusted certificates replicate; an untrusted CA and plaintext are refused and counted", async () => {
    const [a, b] = await start(["a", "b"], (n) => tls(n));
    wire([a, b]);
    const writes = Promise.all([writeSome(a, 80), writeSome(b, 80)]);

    // a certificate of another CA (that trusts our CA, so only our side can refuse)
    const [m] = await start(["0-m"], () => tls("m", "ca"));
    m.setPeers([{ name: "a", address: addr(a) }]);
    a.setPeers([{ name: "b", address: addr(b) }, { name: "0-m", address: addr(m) }]);
    await waitFor(() => a.stats().rejectedPeers.tls >= 1, "untrusted certificate refused");

    const plain = await rawExchange(addr(b), helloFrame("mallory"));
    assert.equal(plain.closed, true);
    await waitFor(() => b.stats().rejectedPeers.tls >= 1, "plaintext refused");

    await writes;
    await waitFor(() => converged([a, b], { a: 80, b: 80 }), "convergence over TLS");
    assert.deepEqual([...m.heads().keys()], [], "the untrusted node got nothing");
    assert.deepEqual(a.connectedPeers(), ["b"]);
  });
});
