/**
 * A live node under a fuzzed flood: a real Memberlist on loopback receives mutated and
 * random UDP packets and TCP streams from raw sockets while a second, normal Memberlist
 * keeps probing it. Reports what the prober saw, what the target counted, and heap growth.
 *
 * Used by tests/fuzz_test.ts (a few thousand inputs) and bench/fuzz.ts (more).
 *
 * @module
 */
import { createSocket, type Socket } from "node:dgram";
import { connect } from "node:net";
import process from "node:process";
import fc from "fast-check";
import { Memberlist, type MemberlistTuning } from "../memberlist/mod.ts";
import { openPlain } from "../memberlist/wire/packet.ts";
import { nodeNetwork } from "../transport/node.ts";
import { fuzzInput, plainPacketArb, plainStreamArb } from "./fuzz_arbitraries.ts";
import { FAST_TUNING } from "./fast_tuning.ts";

/** What a flood did and what the nodes saw. */
export interface FloodReport {
  /** Datagrams sent to the target. */
  packets: number;
  /** Of those, the ones a decoder refuses in whole or in part (computed locally). */
  expectedMalformed: number;
  /** Streams opened to the target. */
  streams: number;
  /** Increase of the target's `malformed` + `rejected` counters. */
  countedBad: number;
  /** Times the prober reported the target suspect. */
  suspected: number;
  /** Times the prober reported the target dead. */
  dead: number;
  /** The prober's view of the target at the end. */
  finalState: string;
  /**
   * Probes the prober sent during the flood, and how many failed. These count probes of any
   * member: fuzzed alive messages announce members that do not exist (at 127.0.0.x), the
   * target gossips them on, and probes of those fail. `suspected`/`dead` are about the target.
   */
  probesSent: number;
  probesFailed: number;
  /** Members the target knows at the end (the two real ones plus announced phantoms). */
  targetKnows: number;
  /** heapUsed after minus before, bytes. */
  heapGrowth: number;
  /** Flood duration, ms. */
  ms: number;
}

/** Short timings, so a few seconds of flood span many probe rounds. */
export const FLOOD_TUNING: MemberlistTuning = FAST_TUNING;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Process-level guards: every uncaught exception or unhandled rejection is recorded. */
export function installGuards(): { fired: string[]; remove(): void } {
  const fired: string[] = [];
  const onError = (e: unknown): void => {
    fired.push(`uncaughtException: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  };
  const onRejection = (e: unknown): void => {
    fired.push(`unhandledRejection: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  };
  const onWebRejection = (ev: Event): void => {
    ev.preventDefault();
    onRejection((ev as Event & { reason?: unknown }).reason);
  };
  process.on("uncaughtException", onError);
  process.on("unhandledRejection", onRejection);
  const hasWeb = typeof globalThis.addEventListener === "function" &&
    (globalThis as { Deno?: unknown }).Deno !== undefined;
  if (hasWeb) globalThis.addEventListener("unhandledrejection", onWebRejection);
  return {
    fired,
    remove(): void {
      process.off("uncaughtException", onError);
      process.off("unhandledRejection", onRejection);
      if (hasWeb) globalThis.removeEventListener("unhandledrejection", onWebRejection);
    },
  };
}

function sendStream(port: number, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    const sock = connect({ host: "127.0.0.1", port });
    const done = (): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve();
    };
    const timer = setTimeout(done, 3000);
    sock.on("error", done);
    sock.on("close", done);
    sock.on("data", () => {}); // the target may answer with an error reply
    sock.on("connect", () => sock.end(bytes));
  });
}

/** Options of {@link floodNode}. */
export interface FloodOptions {
  /** Fuzzed datagrams to send. */
  packets: number;
  /** Fuzzed streams to open. */
  streams: number;
  /** Seed of the inputs. */
  seed: number;
  /** Datagrams per event-loop turn (pacing). */
  burst?: number;
}

/** Runs one flood against a fresh two-node cluster, closing everything afterwards. */
export async function floodNode(opts: FloodOptions): Promise<FloodReport> {
  const burst = opts.burst ?? 40;
  const make = (name: string): Promise<Memberlist> =>
    Memberlist.create({
      name,
      network: nodeNetwork,
      bind: { host: "127.0.0.1", port: 0 },
      tuning: FLOOD_TUNING,
    });
  const target = await make("fuzz-target");
  let prober: Memberlist | undefined;
  let raw: Socket | undefined;
  try {
    prober = await make("fuzz-prober");
    const p = prober;
    await p.join([`${target.address.host}:${target.address.port}`]);
    await waitFor(
      "the two nodes to see each other",
      () => target.aliveMembers().length === 2 && p.aliveMembers().length === 2,
      10_000,
    );
    let suspected = 0;
    let dead = 0;
    p.on("suspect", (m) => {
      if (m.name === target.name) suspected++;
    });
    p.on("dead", (m) => {
      if (m.name === target.name) dead++;
    });

    const sec = {
      label: "",
      verifyIncoming: true,
      verifyOutgoing: true,
      encryptionVersion: 1 as const,
    };
    const packets = fc.sample(fuzzInput(plainPacketArb), {
      numRuns: opts.packets,
      seed: opts.seed,
    });
    let expectedMalformed = 0;
    for (const b of packets) {
      try {
        const r = openPlain(b, sec);
        if (r.malformed + r.truncated > 0) expectedMalformed++;
      } catch {
        expectedMalformed++;
      }
    }
    const streams = fc.sample(fuzzInput(plainStreamArb), {
      numRuns: opts.streams,
      seed: opts.seed + 1,
    });
    raw = createSocket("udp4");
    const sock = raw;
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));

    const c0 = target.counters();
    const p0 = p.counters();
    const heap0 = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    const udp = (async () => {
      for (let i = 0; i < packets.length; i += burst) {
        for (const b of packets.slice(i, i + burst)) {
          sock.send(b, target.address.port, "127.0.0.1");
        }
        await sleep(1);
      }
    })();
    const tcp = (async () => {
      const queue = [...streams];
      const worker = async (): Promise<void> => {
        for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
          await sendStream(target.address.port, s);
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
    })();
    await Promise.all([udp, tcp]);
    // A few more probe rounds after the flood: the target must still answer.
    await sleep(FLOOD_TUNING.probeIntervalMs * 5);
    const ms = performance.now() - t0;
    const c1 = target.counters();
    const p1 = p.counters();
    const heap1 = process.memoryUsage().heapUsed;
    return {
      packets: packets.length,
      expectedMalformed,
      streams: streams.length,
      countedBad: c1.malformed + c1.rejected - c0.malformed - c0.rejected,
      suspected,
      dead,
      finalState: p.members().find((m) => m.name === target.name)?.state ?? "unknown",
      probesSent: p1.probesSent - p0.probesSent,
      probesFailed: p1.probesFailed - p0.probesFailed,
      targetKnows: target.members().length,
      heapGrowth: heap1 - heap0,
      ms,
    };
  } finally {
    raw?.close();
    await prober?.shutdown();
    await target.shutdown();
  }
}
