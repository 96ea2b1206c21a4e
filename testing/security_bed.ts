/**
 * Shared by the security tests (tests/security_*_test.ts): a 2-node cluster of replicated logs
 * that keeps writing quorum appends during an attack and checks afterwards that nothing
 * acknowledged was lost, raw node:net attacker connections, and short deadlines.
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { rmSync } from "node:fs";
import { nodeNetwork } from "../transport/node.ts";
import type { Clock } from "../transport/types.ts";
import {
  type Entry,
  type LogStore,
  type LogTuning,
  type RefusedInputError,
  ReplicatedLog,
} from "../log/mod.ts";
import { encodeFrame, FrameType } from "../log/frames.ts";
import { encodeHello, PROTOCOL_VERSION } from "../log/messages.ts";
import { addr, closeAll, headsOf, testTuning, waitFor } from "./log_cluster.ts";

export const MiB = 1024 * 1024;
const enc = new TextEncoder();

/** Loopback tuning with short deadlines, so every bound trips within a second or two. */
export const tight: LogTuning = {
  ...testTuning,
  maxClockOffsetMs: 300,
  maxConnections: 64,
  maxConnectionsPerAddress: 8,
  frameTimeoutMs: 600,
  idleTimeoutMs: 1_000,
  maxBufferedBytes: 8 * MiB,
  maxReplyBytes: 256 * 1024,
  maxSeqAhead: 2 ** 32,
};

/** What the tests opened; {@link cleanup} closes it. */
export const opened: { logs: ReplicatedLog[]; sockets: Socket[]; dirs: string[] } = {
  logs: [],
  sockets: [],
  dirs: [],
};

/** Closes every socket, log and directory the last test opened (call it in afterEach). */
export async function cleanup(): Promise<void> {
  for (const s of opened.sockets) s.destroy();
  opened.sockets = [];
  await closeAll(opened.logs);
  opened.logs = [];
  for (const d of opened.dirs) rmSync(d, { recursive: true, force: true });
  opened.dirs = [];
}

/** A log of the bed and the refusals it reported. */
export interface Node {
  log: ReplicatedLog;
  errors: RefusedInputError[];
}

/** Starts a log on 127.0.0.1:0 that records its refusal reports. */
export async function node(
  name: string,
  tuning: LogTuning,
  o: { clock?: Clock; store?: LogStore } = {},
): Promise<Node> {
  const errors: RefusedInputError[] = [];
  const log = await ReplicatedLog.create({
    name,
    environment: "local",
    network: nodeNetwork,
    bind: { host: "127.0.0.1", port: 0 },
    tuning,
    clock: o.clock,
    store: o.store,
    quorumTimeoutMs: 5000,
    onError: (err) => errors.push(err),
  });
  opened.logs.push(log);
  return { log, errors };
}

/** A port where nothing listens: the nodes' dials of the real "m" fail. */
export const DOWN = { host: "127.0.0.1", port: 1 };

/**
 * The real cluster: a and b replicate; both list "m" (down) as a peer, so quorum is 2 of 3.
 * `writer` appends on both with ack "quorum" until stopped and records what was acknowledged.
 */
export async function bed(tuning: LogTuning = tight) {
  const a = await node("a", tuning);
  const b = await node("b", tuning);
  a.log.setPeers([{ name: "b", address: addr(b.log) }, { name: "m", address: DOWN }]);
  b.log.setPeers([{ name: "a", address: addr(a.log) }, { name: "m", address: DOWN }]);
  await waitFor(() => a.log.connectedPeers().includes("b"), "a and b connected");
  const acked: { origin: string; seq: number; text: string }[] = [];
  let stop = false;
  const loop = async (n: Node) => {
    for (let i = 1; !stop; i++) {
      const text = `${n.log.name}-${i}`;
      const at = await n.log.cache.set(`k${i % 5}`, text, { ack: "quorum" });
      acked.push({ ...at, text });
      await new Promise((r) => setTimeout(r, 15));
    }
  };
  const running = Promise.all([loop(a), loop(b)]);
  return {
    a,
    b,
    /** Stops the writers; asserts both kept being acknowledged, converge and hold every ack. */
    async finish(minAcksEach = 5): Promise<void> {
      const before = acked.length;
      const count = (o: string) => acked.filter((x) => x.origin === o).length;
      await waitFor(
        () => acked.length >= before + 4 && count("a") >= minAcksEach && count("b") >= minAcksEach,
        "quorum appends on both nodes go on after the attack",
      );
      stop = true;
      await running;
      await waitFor(
        () =>
          JSON.stringify(headsOf(a.log)) === JSON.stringify(headsOf(b.log)) &&
          a.log.cacheDigest() === b.log.cacheDigest(),
        "a and b converge",
      );
      for (const n of [a.log, b.log]) {
        for (const x of acked) {
          const e = await mustHold(n, x.origin, x.seq);
          assert.equal(e?.seq, x.seq, `${n.name} lost acknowledged ${x.origin}/${x.seq}`);
          assert.equal(new TextDecoder().decode(e.value), x.text);
        }
      }
    },
  };
}

/** A raw TCP connection to a log listener. */
export class Raw {
  readonly sock: Socket;
  bytes = 0;
  readonly closed: Promise<void>;
  constructor(port: number, localAddress = "127.0.0.2") {
    this.sock = connect({ host: "127.0.0.1", port, localAddress });
    opened.sockets.push(this.sock);
    this.sock.on("data", (d: Uint8Array) => (this.bytes += d.length));
    this.sock.on("error", () => {});
    this.closed = new Promise((resolve) => this.sock.on("close", () => resolve()));
  }
  get isClosed(): boolean {
    return this.sock.destroyed || this.sock.readyState === "closed";
  }
  ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.sock.readyState === "open") resolve();
      this.sock.once("connect", () => resolve());
      this.sock.once("error", reject);
    });
  }
  send(type: number, payload: Uint8Array): void {
    this.sock.write(encodeFrame(type, payload));
  }
  /** Handshakes as `name` (the node sends its own Hello and digest meanwhile). */
  hello(name = "m"): void {
    this.send(
      FrameType.Hello,
      encodeHello({ version: PROTOCOL_VERSION, environment: "local", name }),
    );
  }
}

/** An entry of `origin` at `seq`, timestamped now (fields overridable). */
export function entry(origin: string, seq: number, o: Partial<Entry> = {}): Entry {
  return {
    origin,
    seq,
    ts: { wall: Date.now(), logical: 0 },
    value: enc.encode(`forged ${origin}/${seq}`),
    tombstone: false,
    ...o,
  };
}

/** The entry of `origin` at `seq`, or undefined. */
export async function entryAt(
  log: ReplicatedLog,
  origin: string,
  seq: number,
): Promise<Entry | undefined> {
  for await (const e of log.read({ origin, from: seq, limit: 1 })) {
    return e.seq === seq ? e : undefined;
  }
  return undefined;
}

/** The entry of `origin` at `seq`; fails the test when it is missing. */
export async function mustHold(log: ReplicatedLog, origin: string, seq: number): Promise<Entry> {
  const e = await entryAt(log, origin, seq);
  assert.ok(e, `${log.name} lacks ${origin}/${seq}`);
  return e;
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
