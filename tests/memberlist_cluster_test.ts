/**
 * Five memberlist nodes on real loopback sockets (nodeNetwork + systemClock).
 *
 * Test tuning (shortened local preset so the file runs in seconds):
 * probeInterval 200 ms, probeTimeout 100 ms, indirectChecks 1, gossip 50 ms × 3 nodes,
 * suspicionMult 3 (min 600 ms, max 3.6 s at n = 5), suspicionMaxTimeoutMult 6,
 * retransmitMult 2, gossipToTheDead 2 s, pushPull 2 s, tcpTimeout 1 s, awareness max 8,
 * UDP budget 1400, TCP pings on, no dead-node reclaim. The cluster is encrypted (AES-128).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { JoinError, Keyring, Memberlist, type MemberlistTuning } from "../memberlist/mod.ts";
import { encodeMessage } from "../memberlist/wire/messages.ts";
import { sealPacket } from "../memberlist/wire/packet.ts";
import { nodeNetwork } from "../transport/node.ts";
import { FAST_TUNING } from "../testing/fast_tuning.ts";
import type { Transport } from "../transport/types.ts";

const tuning: MemberlistTuning = FAST_TUNING;

const keyA = new Uint8Array(16).map((_, i) => i + 1);
const keyB = new Uint8Array(16).map((_, i) => 100 + i);

async function waitFor(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function stateOf(list: Memberlist, name: string): string | undefined {
  return list.members().find((m) => m.name === name)?.state;
}

describe("memberlist cluster on loopback", () => {
  const nodes: Memberlist[] = [];
  const extra: Memberlist[] = [];
  let raw: Transport;
  let ring: Keyring;
  const events: { node: string; ev: string; who: string }[] = [];
  const sec = () => ({
    keyring: ring,
    label: "",
    verifyIncoming: true,
    verifyOutgoing: true,
    encryptionVersion: 1 as const,
  });

  before(async () => {
    ring = await Keyring.create([keyA]);
    for (let i = 0; i < 5; i++) {
      const list = await Memberlist.create({
        name: `n${i}`,
        network: nodeNetwork,
        bind: { host: "127.0.0.1", port: 0 },
        tuning,
        keyring: ring,
      });
      for (const ev of ["join", "update", "suspect", "dead", "left"] as const) {
        list.on(ev, (m) => events.push({ node: list.name, ev, who: m.name }));
      }
      nodes.push(list);
    }
    raw = await nodeNetwork.bind({ host: "127.0.0.1", port: 0, packets: true });
  });

  after(async () => {
    for (const n of [...nodes, ...extra]) await n.shutdown();
    await raw?.close();
  });

  it("all nodes join and converge", async () => {
    const seed = nodes[0];
    const results = await Promise.all(
      nodes.slice(1).map((n) => n.join([`${seed.address.host}:${seed.address.port}`])),
    );
    for (const r of results) assert.equal(r.joined, 1);
    await waitFor("5 alive everywhere", () => nodes.every((n) => n.aliveMembers().length === 5));
    // Joining a known member again is cheap and succeeds.
    const again = await nodes[1].join([nodes[2].address]);
    assert.equal(again.joined, 1);
    assert.equal(again.errors.length, 0);
  });

  it("a metadata update reaches everyone", async () => {
    const meta = new TextEncoder().encode("role=cache");
    const before = nodes[1].localMember().incarnation;
    await nodes[1].updateMeta(meta);
    assert.ok(nodes[1].localMember().incarnation > before);
    await waitFor(
      "meta everywhere",
      () =>
        nodes.every((n) =>
          new TextDecoder().decode(n.members().find((m) => m.name === "n1")?.meta) === "role=cache"
        ),
    );
    await waitFor(
      "update events",
      () =>
        [0, 2, 3, 4].every((i) =>
          events.some((e) => e.node === `n${i}` && e.ev === "update" && e.who === "n1")
        ),
    );
    await assert.rejects(nodes[1].updateMeta(new Uint8Array(513)), RangeError);
  });

  it("a falsely suspected node refutes and stays alive", async () => {
    const target = nodes[2];
    const inc = target.localMember().incarnation;
    // On a loaded machine n2 may already have refuted a real suspicion: count from here.
    const refutedBefore = target.counters().refutations;
    const suspect = encodeMessage({
      type: "suspect",
      body: { incarnation: inc, node: "n2", from: "n0" },
    });
    const packet = await sealPacket(suspect, { compress: false, crc: false, ...sec() });
    raw.sendPacket(target.address, packet);
    raw.sendPacket(nodes[3].address, packet);
    await waitFor("refutation", () => target.counters().refutations > refutedBefore);
    assert.ok(target.localMember().incarnation > inc);
    assert.ok(target.healthScore() >= 0);
    await waitFor("new incarnation everywhere", () =>
      nodes.every((n) => {
        const m = n.members().find((x) => x.name === "n2");
        return m !== undefined && m.incarnation > inc && m.state === "alive";
      }));
    assert.ok(!events.some((e) => e.ev === "dead" && e.who === "n2"));
  });

  it("malformed packets are counted and nothing breaks", async () => {
    const target = nodes[0];
    const before = target.counters().malformed;
    // Decrypts fine, but the message inside is garbage.
    const bad1 = await sealPacket(Uint8Array.of(0, 0xff, 0xff, 0x12), {
      compress: false,
      crc: false,
      ...sec(),
    });
    // A compound with a lying length table.
    const bad2 = await sealPacket(Uint8Array.of(7, 2, 0, 50, 0, 50, 1, 2, 3), {
      compress: false,
      crc: false,
      ...sec(),
    });
    // An unknown message type.
    const bad3 = await sealPacket(Uint8Array.of(200, 1, 2), {
      compress: false,
      crc: false,
      ...sec(),
    });
    for (const p of [bad1, bad2, bad3]) raw.sendPacket(target.address, p);
    await waitFor("malformed counted", () => target.counters().malformed >= before + 3);
    // Garbage without encryption is rejected (cannot be decrypted).
    const rejected = target.counters().rejected;
    raw.sendPacket(target.address, new Uint8Array(64).fill(0xab));
    raw.sendPacket(target.address, new Uint8Array(0));
    await waitFor("rejected counted", () => target.counters().rejected >= rejected + 1);
    // Still healthy: every node still sees everyone alive, and n0 still answers probes.
    const probes = target.counters().messagesIn.ack ?? 0;
    await waitFor("acks keep flowing", () => (target.counters().messagesIn.ack ?? 0) > probes + 2);
    // A loaded machine may leave a node briefly suspect; what matters is that all are alive
    // again and nobody was declared dead.
    await waitFor("5 alive everywhere", () => nodes.every((n) => n.aliveMembers().length === 5));
    assert.ok(!events.some((e) => e.ev === "dead"));
  });

  it("a wrong-key node does not join and its packets are rejected", async () => {
    const wrong = await Memberlist.create({
      name: "intruder",
      network: nodeNetwork,
      bind: { host: "127.0.0.1", port: 0 },
      tuning,
      keyring: await Keyring.create([keyB]),
    });
    extra.push(wrong);
    const target = nodes[0];
    const before = target.counters().rejected;
    await assert.rejects(wrong.join([target.address]), (e: unknown) => {
      assert.ok(e instanceof JoinError);
      assert.equal(e.errors.length, 1);
      return true;
    });
    // Its gossip-encrypted packets are refused too.
    const ping = encodeMessage({ type: "ping", body: { seqNo: 1, node: "n0" } });
    const foreign = await sealPacket(ping, {
      compress: false,
      crc: false,
      ...sec(),
      keyring: await Keyring.create([keyB]),
    });
    raw.sendPacket(target.address, foreign);
    await waitFor("rejections", () => target.counters().rejected >= before + 2);
    assert.ok(nodes.every((n) => !n.members().some((m) => m.name === "intruder")));
    assert.ok(!wrong.members().some((m) => m.name === "n0"));
  });

  it("a node that stops without leaving is declared dead by all others", async () => {
    const victim = nodes[4];
    await victim.shutdown();
    const others = nodes.slice(0, 4);
    // Suspicion at n = 5: min 600 ms, max 3.6 s; plus probe rounds and gossip. With
    // gossip-to-the-dead at 2 s a node may already have reaped n4 when the last one declares
    // it dead, so each node's own "dead" event is the evidence, not a simultaneous state.
    const declaredDead = (n: Memberlist) =>
      events.some((e) => e.node === n.name && e.ev === "dead" && e.who === "n4");
    await waitFor("n4 declared dead by every other node", () => others.every(declaredDead), 20_000);
    for (const n of others) {
      assert.ok(stateOf(n, "n4") !== "alive", `${n.name} must not see n4 alive again`);
      assert.ok(n.counters().probesSent > 0);
    }
    assert.ok(others.some((n) => n.counters().probesFailed > 0));
  });

  it("a node that leaves is seen as left", async () => {
    const leaver = nodes[3];
    await leaver.leave(2000);
    assert.equal(leaver.localMember().state, "left");
    const others = nodes.slice(0, 3);
    await waitFor("n3 left everywhere", () => others.every((n) => stateOf(n, "n3") === "left"));
    for (const n of others) {
      assert.ok(events.some((e) => e.node === n.name && e.ev === "left" && e.who === "n3"));
    }
    await leaver.shutdown();
    // Nobody thinks n0..n2 failed along the way.
    assert.ok(!events.some((e) => e.ev === "dead" && ["n0", "n1", "n2"].includes(e.who)));
  });

  it("shutdown is idempotent and counters were kept", async () => {
    await nodes[3].shutdown();
    const c = nodes[0].counters();
    assert.ok((c.packetsOut.ping ?? 0) + (c.packetsOut.compound ?? 0) > 0);
    assert.ok((c.bytesIn.ack ?? 0) + (c.bytesIn.compound ?? 0) > 0);
    assert.ok(c.pushPullsIn + c.pushPullsOut > 0);
  });
});
