import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { CodecError } from "../memberlist/wire/errors.ts";
import {
  decodeMsgpack,
  decodeMsgpackStruct,
  decodeText,
  encodeMsgpack,
  type MsgpackValue,
} from "../memberlist/wire/msgpack.ts";
import {
  bytesToIp,
  decodeMessage,
  decodeUserMsgHeader,
  encodeMessage,
  encodeUserMsgHeader,
  ipToBytes,
  type Message,
} from "../memberlist/wire/messages.ts";
import {
  decodePushNodeState,
  decodePushPullHeader,
  encodePushNodeState,
  encodePushPullHeader,
  PUSH_NODE_STATE_FIELDS,
  type PushNodeState,
  pushNodeStateOf,
  readPushNodeStateFast,
} from "../memberlist/wire/push_state.ts";
import { decodeCompound, encodeCompound } from "../memberlist/wire/compound.ts";
import { addCrc, crc32, stripCrc } from "../memberlist/wire/crc.ts";
import { hex, loadVectors, unhex } from "../testing/memberlist_vectors.ts";

const vectors = loadVectors();
const te = new TextEncoder();
const ip4 = new Uint8Array([127, 0, 0, 1]);
const vsn = new Uint8Array([1, 5, 2, 0, 0, 0]);

function pascal(
  n: {
    name: string;
    addr: Uint8Array;
    port: number;
    incarnation: number;
    state: number;
    vsn: Uint8Array;
  },
): { [k: string]: MsgpackValue } {
  return {
    Name: n.name,
    Addr: n.addr,
    Port: n.port,
    Incarnation: n.incarnation,
    State: n.state,
    Vsn: n.vsn,
  };
}

function vec(name: string): Uint8Array {
  const v = vectors.get(name);
  assert.ok(v, `vector ${name} missing`);
  return v;
}

/** The structs the vectors were generated from (docs/PROTOCOL.md §2.10). */
const expected: Record<string, Message> = {
  ping_full: {
    type: "ping",
    body: { seqNo: 1, node: "node-b", sourceAddr: ip4, sourcePort: 7946, sourceNode: "node-a" },
  },
  ping_min_seq300: { type: "ping", body: { seqNo: 300, node: "node-b" } },
  indirect_ping: {
    type: "indirectPing",
    body: {
      seqNo: 70000,
      target: ip4,
      port: 7946,
      node: "node-c",
      nack: true,
      sourceAddr: ip4,
      sourcePort: 7946,
      sourceNode: "node-a",
    },
  },
  ack_nil_payload: { type: "ack", body: { seqNo: 1, payload: null } },
  ack_empty_payload: { type: "ack", body: { seqNo: 1, payload: new Uint8Array(0) } },
  nack: { type: "nack", body: { seqNo: 1 } },
  err: { type: "err", body: { error: "boom" } },
  suspect: { type: "suspect", body: { incarnation: 5, node: "node-b", from: "node-a" } },
  dead_leave: { type: "dead", body: { incarnation: 5, node: "node-b", from: "node-b" } },
  alive_ip4_nilmeta: {
    type: "alive",
    body: { incarnation: 1, node: "node-a", addr: ip4, port: 7946, meta: null, vsn },
  },
  alive_ip16_meta: {
    type: "alive",
    body: {
      incarnation: 1,
      node: "node-a",
      addr: ipToBytes("::ffff:127.0.0.1"),
      port: 7946,
      meta: te.encode("meta"),
      vsn,
    },
  },
  alive_longname: {
    type: "alive",
    body: {
      incarnation: 1,
      node: "a-node-name-that-is-longer-than-31-bytes",
      addr: ip4,
      port: 7946,
      meta: null,
      vsn,
    },
  },
};

describe("golden vectors (memberlist v0.2.2)", () => {
  it("the vectors file is found and complete", () => {
    assert.ok(vectors.size >= 21, `only ${vectors.size} vectors`);
  });

  for (const [name, msg] of Object.entries(expected)) {
    it(`${name}: encodes byte for byte and decodes back`, () => {
      assert.equal(hex(encodeMessage(msg)), hex(vec(name)));
      assert.deepEqual(decodeMessage(vec(name)), msg);
      assert.equal(hex(encodeMessage(decodeMessage(vec(name)))), hex(vec(name)));
    });
  }

  it("compound_ping_suspect", () => {
    const parts = [encodeMessage(expected.ping_min_seq300), encodeMessage(expected.suspect)];
    const [packet, ...rest] = encodeCompound(parts);
    assert.equal(rest.length, 0);
    assert.equal(hex(packet), hex(vec("compound_ping_suspect")));
    const { parts: back, truncated } = decodeCompound(vec("compound_ping_suspect").subarray(1));
    assert.equal(truncated, 0);
    assert.deepEqual(back.map((p) => decodeMessage(p)), [
      expected.ping_min_seq300,
      expected.suspect,
    ]);
  });

  it("pushpull_header and pushpull_header_bigints", () => {
    const h = { nodes: 1, userStateLen: 3, join: true };
    assert.equal(hex(encodePushPullHeader(h)), hex(vec("pushpull_header").subarray(1)));
    assert.deepEqual(decodePushPullHeader(decodeMsgpack(vec("pushpull_header"), 1).value), h);
    const big = { nodes: 200, userStateLen: 70000, join: false };
    assert.equal(hex(encodePushPullHeader(big)), hex(vec("pushpull_header_bigints").subarray(1)));
    assert.deepEqual(
      decodePushPullHeader(decodeMsgpack(vec("pushpull_header_bigints"), 1).value),
      big,
    );
  });

  it("pushnodestate", () => {
    const n = { name: "node-a", addr: ip4, port: 7946, meta: null, incarnation: 1, state: 0, vsn };
    const v = vec("pushnodestate_prefixed_by_type_byte");
    assert.equal(v[0], 6);
    assert.equal(hex(encodePushNodeState(n)), hex(v.subarray(1)));
    assert.deepEqual(decodePushNodeState(decodeMsgpack(v, 1).value), n);
  });

  it("pushnodestate: the field writer matches the generic encoder (Go's field order)", () => {
    fc.assert(fc.property(
      fc.string({ minLength: 1, maxLength: 40 }),
      fc.uint8Array({ minLength: 1, maxLength: 300 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 0, max: 65535 }),
      (name, meta, incarnation, state, port) => {
        const n = { name, addr: ip4, port, meta, incarnation, state, vsn };
        const generic = encodeMsgpack({
          Name: name,
          Addr: ip4,
          Port: port,
          Meta: meta,
          Incarnation: incarnation,
          State: state,
          Vsn: vsn,
        });
        assert.equal(hex(encodePushNodeState(n)), hex(generic));
      },
    ));
    // no metadata, null or empty, is nil as Go writes a nil slice
    const bare = { name: "a", addr: ip4, port: 1, incarnation: 1, state: 0, vsn };
    const nil = encodePushNodeState({ ...bare, meta: null });
    assert.equal(hex(encodePushNodeState({ ...bare, meta: new Uint8Array(0) })), hex(nil));
    assert.equal(hex(nil), hex(encodeMsgpack({ ...pascal(bare), Meta: null })));
  });

  it("pushnodestate: the struct decoder reads what the generic one reads, in any key order", () => {
    const field = fc.oneof(
      fc.constant<MsgpackValue>(null),
      fc.integer({ min: 0, max: 70000 }),
      fc.uint8Array({ maxLength: 40 }),
      fc.string({ maxLength: 80 }),
    );
    const keys = ["Name", "Addr", "Port", "Meta", "Incarnation", "State", "Vsn", "Extra", "Port"];
    fc.assert(fc.property(
      fc.shuffledSubarray(keys),
      fc.array(field, { minLength: keys.length, maxLength: keys.length }),
      (order, values) => {
        // Build the map by hand: keys in the drawn order, duplicates kept (last one wins).
        const parts: Uint8Array[] = [Uint8Array.of(0x80 | order.length)];
        order.forEach((k, i) => {
          parts.push(encodeMsgpack(k), encodeMsgpack(values[i]));
        });
        const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let at = 0;
        for (const p of parts) {
          bytes.set(p, at);
          at += p.length;
        }
        let generic: unknown;
        try {
          generic = decodePushNodeState(decodeMsgpack(bytes).value);
        } catch (e) {
          generic = e instanceof CodecError ? `CodecError ${e.message}` : e;
        }
        // Copies and views (short byte strings then shared) decode alike.
        for (const views of [false, true]) {
          let viaStruct: unknown;
          const out: (MsgpackValue | undefined)[] = [];
          try {
            const end = decodeMsgpackStruct(
              bytes,
              0,
              bytes.length,
              views,
              PUSH_NODE_STATE_FIELDS,
              out,
            );
            assert.equal(end, bytes.length);
            viaStruct = pushNodeStateOf(out);
          } catch (e) {
            viaStruct = e instanceof CodecError ? `CodecError ${e.message}` : e;
          }
          assert.deepEqual(viaStruct, generic, `views: ${views}`);
        }
      },
    ));
  });

  it("pushnodestate: the fast decoder reads Go's shape as the general one does, else declines", () => {
    // Values of the usual types and sizes (which the fast path takes), often, and others.
    const w = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });
    const uint = fc.oneof(
      w(4, fc.integer({ min: 0, max: 127 })),
      w(3, fc.integer({ min: 0, max: 0xffff })),
      w(2, fc.integer({ min: 0, max: 0xffffffff })),
      w(1, fc.integer({ min: -5, max: -1 })),
    );
    const bytes16 = fc.uint8Array({ maxLength: 20 });
    const rare = fc.oneof(fc.constant<MsgpackValue>(null), uint, fc.string({ maxLength: 4 }));
    const field: Record<string, fc.Arbitrary<MsgpackValue>> = {
      Name: fc.oneof(w(6, fc.string({ maxLength: 80 })), w(1, bytes16), w(1, rare)),
      Addr: fc.oneof(w(6, bytes16), w(1, rare)),
      Port: fc.oneof(w(6, uint), w(1, rare)),
      Meta: fc.oneof(w(3, fc.constant(null)), w(3, fc.uint8Array({ maxLength: 300 })), w(1, rare)),
      Incarnation: fc.oneof(w(6, uint), w(1, rare)),
      State: fc.oneof(w(6, fc.integer({ min: 0, max: 3 })), w(1, rare)),
      Vsn: fc.oneof(w(6, bytes16), w(1, rare)),
    };
    const keys = Object.keys(field);
    let fast = 0;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.shuffledSubarray(keys, { minLength: 7 }), // every field once, in any order
          fc.shuffledSubarray([...keys, "Extra", "Port"], { minLength: 6 }),
        ),
        fc.record(field),
        fc.integer({ min: 0, max: 200 }),
        (order, values, cutAt) => {
          const parts: Uint8Array[] = [Uint8Array.of(0x80 | order.length)];
          for (const k of order) parts.push(encodeMsgpack(k), encodeMsgpack(values[k] ?? 1));
          const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
          let at = 0;
          for (const p of parts) {
            bytes.set(p, at);
            at += p.length;
          }
          const out: PushNodeState[] = [];
          const end = readPushNodeStateFast(bytes, 0, bytes.length, out);
          if (end === -1) {
            assert.equal(out.length, 0);
          } else {
            assert.equal(end, bytes.length);
            fast++;
            const generic: (MsgpackValue | undefined)[] = [];
            decodeMsgpackStruct(bytes, 0, bytes.length, true, PUSH_NODE_STATE_FIELDS, generic);
            assert.deepEqual(out, [pushNodeStateOf(generic)]);
            // A cut anywhere makes it decline, never read past the end it was given.
            const cut = cutAt % bytes.length;
            assert.equal(readPushNodeStateFast(bytes, 0, cut, out), -1);
            assert.equal(out.length, 1);
          }
        },
      ),
      { numRuns: 2000 },
    );
    assert.ok(fast > 100, `only ${fast} of 2000 states took the fast path`);
    // What Go and we write always takes the fast path, and shares what the general path shares.
    const written: PushNodeState = {
      name: "node-7",
      addr: ip4,
      port: 7946,
      meta: te.encode("zone=a"),
      incarnation: 70000,
      state: 1,
      vsn,
    };
    const state = encodePushNodeState(written);
    const a: PushNodeState[] = [];
    const b: PushNodeState[] = [];
    assert.equal(readPushNodeStateFast(state, 0, state.length, a), state.length);
    readPushNodeStateFast(state, 0, state.length, b);
    assert.equal(a[0].addr, b[0].addr);
    assert.equal(a[0].vsn, b[0].vsn);
    assert.deepEqual(a[0], written);
    const viaGo = vec("pushnodestate_prefixed_by_type_byte");
    assert.equal(readPushNodeStateFast(viaGo, 1, viaGo.length, []), viaGo.length);
  });

  it("pushnodestate: the fast decoder drops the alive states its filter accepts", () => {
    const base = { addr: ip4, port: 7946, meta: null, incarnation: 2, vsn };
    const states = [
      { ...base, name: "drop", state: 0 },
      { ...base, name: "keep", state: 0 },
      { ...base, name: "drop", state: 1 }, // not alive: never offered
    ];
    const bytes = new Uint8Array(states.flatMap((n) => [...encodePushNodeState(n)]));
    const offered: unknown[] = [];
    const out: PushNodeState[] = [];
    let p = 0;
    for (let i = 0; i < states.length; i++) {
      p = readPushNodeStateFast(bytes, p, bytes.length, out, (name, inc, port, b, a, al, v, vl) => {
        offered.push([name, inc, port, [...b.subarray(a, a + al)], [...b.subarray(v, v + vl)]]);
        return name === "drop";
      });
      assert.ok(p > 0);
    }
    assert.equal(p, bytes.length);
    assert.deepEqual(out, [states[1], states[2]]);
    assert.deepEqual(offered, [
      ["drop", 2, 7946, [...ip4], [...vsn]],
      ["keep", 2, 7946, [...ip4], [...vsn]],
    ]);
  });

  it("decodes short byte strings as shared arrays in views mode, and reports every cut", () => {
    const state = (name: string) =>
      encodePushNodeState({
        name,
        addr: ip4,
        port: 7946,
        meta: null,
        incarnation: 3,
        state: 0,
        vsn,
      });
    const a = state("n1");
    const b = state("n2");
    const da: (MsgpackValue | undefined)[] = [];
    const db: (MsgpackValue | undefined)[] = [];
    decodeMsgpackStruct(a, 0, a.length, true, PUSH_NODE_STATE_FIELDS, da);
    decodeMsgpackStruct(b, 0, b.length, true, PUSH_NODE_STATE_FIELDS, db);
    assert.equal(da[1], db[1], "one shared address array");
    assert.equal(da[6], db[6], "one shared version vector");
    assert.deepEqual(da[1], ip4);
    // Copies mode still hands out arrays of the caller's own.
    decodeMsgpackStruct(a, 0, a.length, false, PUSH_NODE_STATE_FIELDS, da);
    decodeMsgpackStruct(b, 0, b.length, false, PUSH_NODE_STATE_FIELDS, db);
    assert.notEqual(da[1], db[1]);
    // Go writes Vsn last: a nil there may be the very last byte of the input.
    const nilLast = encodeMsgpack({ Name: "n3", Addr: ip4, Vsn: null });
    const out: (MsgpackValue | undefined)[] = [];
    assert.equal(
      decodeMsgpackStruct(nilLast, 0, nilLast.length, true, PUSH_NODE_STATE_FIELDS, out),
      nilLast.length,
    );
    assert.equal(out[6], null);
    for (const views of [false, true]) {
      for (let cut = 0; cut < a.length; cut++) {
        assert.throws(
          () => decodeMsgpackStruct(a, 0, cut, views, PUSH_NODE_STATE_FIELDS, []),
          (e: unknown) => e instanceof CodecError && e.truncated,
          `cut at ${cut}, views: ${views}`,
        );
      }
    }
  });

  it("user_msg_header", () => {
    const v = vec("user_msg_header");
    assert.equal(v[0], 8);
    assert.equal(hex(encodeUserMsgHeader({ userMsgLen: 5 })), hex(v.subarray(1)));
    assert.deepEqual(decodeUserMsgHeader(decodeMsgpack(v, 1).value), { userMsgLen: 5 });
  });
});

describe("msgpack encoder rules", () => {
  it("uses the raw family for strings and bytes, never str8 or bin", () => {
    assert.equal(hex(encodeMsgpack("")), "a0");
    assert.equal(hex(encodeMsgpack("a".repeat(31))).slice(0, 2), "bf");
    assert.equal(hex(encodeMsgpack("a".repeat(32))).slice(0, 6), "da0020");
    assert.equal(hex(encodeMsgpack(new Uint8Array(255))).slice(0, 6), "da00ff");
    assert.equal(hex(encodeMsgpack(new Uint8Array(70000))).slice(0, 10), "db00011170");
  });
  it("writes non-negative ints in the unsigned family, negatives signed", () => {
    const cases: [number, string][] = [
      [0, "00"],
      [127, "7f"],
      [128, "cc80"],
      [256, "cd0100"],
      [70000, "ce00011170"],
      [2 ** 32, "cf0000000100000000"],
      [-1, "ff"],
      [-32, "e0"],
      [-33, "d0df"],
      [-200, "d1ff38"],
      [-70000, "d2fffeee90"],
      [-(2 ** 40), "d3ffffff0000000000"],
    ];
    for (const [n, h] of cases) {
      assert.equal(hex(encodeMsgpack(n)), h, `encode ${n}`);
      assert.equal(decodeMsgpack(unhex(h)).value, n, `decode ${h}`);
    }
    assert.equal(hex(encodeMsgpack(1.5)), "cb3ff8000000000000");
  });
  it("sorts map keys by byte order and emits null, bools, arrays", () => {
    assert.equal(
      hex(encodeMsgpack({ b: null, a: true, B: false, arr: [1, "x"] })),
      "84a142c2a161c3a3617272920" + "1a178a162c0",
    );
  });
});

describe("lenient decoding", () => {
  it("accepts str8, bin8/16/32 and str32 for strings and bytes", () => {
    // ping with Node as str8 and SourceAddr as bin8, SourceNode as bin16, in any key order
    const body = unhex(
      "84" + "a553657" + "14e6f" + "01" + // SeqNo 1
        "aa536f7572636541646472" + "c4047f000001" + // SourceAddr bin8
        "aa536f757263654e6f6465" + "c50006" + hex(te.encode("node-a")) + // SourceNode bin16
        "a44e6f6465" + "d906" + hex(te.encode("node-b")), // Node str8
    );
    const msg = decodeMessage(new Uint8Array([0, ...body]));
    assert.deepEqual(msg, {
      type: "ping",
      body: { seqNo: 1, node: "node-b", sourceAddr: ip4, sourceNode: "node-a" },
    });
    // Node as str32, in a map whose keys come in reverse order
    const str32 = unhex("82a55365714e6f02a44e6f6465db00000003616263");
    assert.deepEqual(decodeMessage(new Uint8Array([0, ...str32])), {
      type: "ping",
      body: { seqNo: 2, node: "abc" },
    });
    // Payload as bin32
    const bin32 = unhex("82a75061796c6f6164c600000002abcda55365714e6f01");
    assert.deepEqual(decodeMessage(new Uint8Array([2, ...bin32])), {
      type: "ack",
      body: { seqNo: 1, payload: new Uint8Array([0xab, 0xcd]) },
    });
  });
  it("accepts signed and v2-style ints (d100c8, d200011170) and 64-bit families", () => {
    const v = unhex("83a44a6f696ec2a54e6f646573d100c8ac5573657253746174654c656ed200011170");
    assert.deepEqual(decodePushPullHeader(decodeMsgpack(v).value), {
      nodes: 200,
      userStateLen: 70000,
      join: false,
    });
    const n = unhex("81a55365714e6fcf0000000000000005");
    assert.deepEqual(decodeMessage(new Uint8Array([11, ...n])), {
      type: "nack",
      body: { seqNo: 5 },
    });
    const s = unhex("81a55365714e6fd30000000000000007");
    assert.deepEqual(decodeMessage(new Uint8Array([11, ...s])).body, { seqNo: 7 });
  });
  it("ignores unknown fields and defaults missing ones to Go zero values", () => {
    const v = encodeMsgpack({ SeqNo: 9, Extra: [1, 2, { x: "y" }], Zzz: 1.25 });
    assert.deepEqual(decodeMessage(new Uint8Array([2, ...v])), {
      type: "ack",
      body: { seqNo: 9, payload: null },
    });
  });
  it("reads IPv4-mapped 16-byte addresses as IPv4", () => {
    const msg = decodeMessage(vec("alive_ip16_meta"));
    assert.equal(msg.type, "alive");
    if (msg.type === "alive") assert.equal(bytesToIp(msg.body.addr), "127.0.0.1");
  });
  it("rejects out-of-range and mistyped fields with CodecError", () => {
    const bad: Uint8Array[] = [
      new Uint8Array([11, ...encodeMsgpack({ SeqNo: -1 })]),
      new Uint8Array([11, ...encodeMsgpack({ SeqNo: 2 ** 32 })]),
      new Uint8Array([11, ...encodeMsgpack({ SeqNo: "x" })]),
      new Uint8Array([0, ...encodeMsgpack({ SeqNo: 1, SourcePort: 70000 })]),
      new Uint8Array([0, ...encodeMsgpack([1, 2])]),
      new Uint8Array([11, ...unhex("81a55365714e6fcfffffffffffffffff")]),
      new Uint8Array([99, 0x80]),
      new Uint8Array([6, 0x80]),
      new Uint8Array([7, 0x80]),
      new Uint8Array([0, 0xc1]),
      new Uint8Array([]),
    ];
    for (const b of bad) assert.throws(() => decodeMessage(b), CodecError, hex(b));
  });
  it("marks cut-off input as truncated, including lying lengths, without allocating", () => {
    const full = vec("ping_full");
    for (let i = 1; i < full.length; i++) {
      assert.throws(
        () => decodeMessage(full.subarray(0, i)),
        (e: unknown) => e instanceof CodecError && e.truncated,
      );
    }
    for (const h of ["dbffffffff", "ddffffffff", "dfffffffff", "c6ffffffff", "9f", "8f"]) {
      assert.throws(
        () => decodeMsgpack(unhex(h)),
        (e: unknown) => e instanceof CodecError && e.truncated && e.needed > 5,
      );
    }
  });
  it("limits nesting depth", () => {
    const deep = new Uint8Array(1000).fill(0x91);
    assert.throws(
      () => decodeMsgpack(deep),
      (e: unknown) => e instanceof CodecError && !e.truncated,
    );
  });
  it("never throws anything but CodecError on random input", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeMessage(bytes);
        } catch (e) {
          if (!(e instanceof CodecError)) throw e;
        }
        try {
          decodeMsgpack(bytes);
        } catch (e) {
          if (!(e instanceof CodecError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe("decodeText", () => {
  it("equals TextDecoder's text for any bytes, cached or not, however many names", () => {
    const td = new TextDecoder();
    // 300,000 distinct names: more than the cache has slots, so slots are shared and replaced.
    for (let i = 0; i < 300_000; i++) {
      const b = te.encode(`node-${i}`);
      const text = decodeText(b, 0, b.length);
      assert.equal(text, `node-${i}`);
      if (i % 1000 === 0) assert.equal(decodeText(b, 0, b.length), text);
    }
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), fc.nat(10), (bytes, at) => {
      const buf = new Uint8Array([...new Uint8Array(at), ...bytes]);
      assert.equal(decodeText(buf, at, bytes.length), td.decode(bytes));
      assert.equal(decodeText(buf, at, bytes.length), td.decode(bytes));
    }));
  });
});

describe("msgpack round trips", () => {
  const value = fc.letrec<{ v: MsgpackValue }>((tie) => ({
    v: fc.oneof(
      { depthSize: "small" },
      fc.constant(null),
      fc.boolean(),
      fc.maxSafeInteger(),
      fc.double({ noNaN: true }),
      fc.uint8Array({ maxLength: 40 }),
      fc.array(tie("v"), { maxLength: 4 }),
      fc.dictionary(fc.string({ maxLength: 6 }), tie("v"), { maxKeys: 4 }),
    ),
  })).v;
  it("decode(encode(v)) is v (strings come back as bytes)", () => {
    fc.assert(
      fc.property(value, (v) => {
        const enc = encodeMsgpack(v);
        const { value: back, offset } = decodeMsgpack(enc);
        assert.equal(offset, enc.length);
        assert.deepEqual(encodeMsgpack(back), enc);
        assert.deepEqual(JSON.stringify(norm(back)), JSON.stringify(norm(v)));
      }),
      { numRuns: 500 },
    );
  });
});

function norm(v: MsgpackValue): unknown {
  if (v instanceof Uint8Array) return hex(v);
  if (Array.isArray(v)) return v.map(norm);
  if (v !== null && typeof v === "object") {
    return Object.keys(v).sort().map((k) => [k, norm(v[k])]);
  }
  if (Object.is(v, -0)) return 0;
  return v;
}

describe("IP helpers", () => {
  it("round trips IPv4 and IPv6", () => {
    for (
      const ip of ["127.0.0.1", "10.1.2.3", "::1", "fe80::1", "2001:db8::8:800:200c:417a", "::"]
    ) {
      const b = ipToBytes(ip);
      assert.equal(b.length, ip.includes(":") ? 16 : 4);
      assert.equal(bytesToIp(b), ip);
    }
    assert.equal(bytesToIp(ipToBytes("2001:db8:0:0:1:0:0:1")), "2001:db8::1:0:0:1");
    assert.equal(bytesToIp(ipToBytes("[::ffff:10.0.0.1]")), "10.0.0.1");
    assert.throws(() => ipToBytes("node-a"), CodecError);
    assert.throws(() => ipToBytes("1.2.3.256"), CodecError);
    assert.throws(() => ipToBytes("1::2::3"), CodecError);
    assert.throws(() => bytesToIp(new Uint8Array(5)), CodecError);
  });
});

describe("compound", () => {
  const part = (i: number): Uint8Array => encodeMessage({ type: "nack", body: { seqNo: i } });
  it("returns a single part as is and nothing for no parts", () => {
    assert.deepEqual(encodeCompound([part(1)]), [part(1)]);
    assert.deepEqual(encodeCompound([]), []);
  });
  it("splits at 127 parts", () => {
    const parts = Array.from({ length: 300 }, (_, i) => part(i));
    const packets = encodeCompound(parts);
    assert.equal(packets.length, 3);
    assert.deepEqual(packets.map((p) => p[1]), [127, 127, 46]);
    const back = packets.flatMap((p) => decodeCompound(p.subarray(1)).parts);
    assert.deepEqual(back, parts);
    const [, last] = encodeCompound(Array.from({ length: 128 }, (_, i) => part(i)));
    assert.deepEqual(last, part(127));
  });
  it("yields the complete parts of a truncated compound", () => {
    const full = vec("compound_ping_suspect").subarray(1);
    const cut = decodeCompound(full.subarray(0, full.length - 1));
    assert.equal(cut.truncated, 1);
    assert.deepEqual(cut.parts.map((p) => hex(p)), [hex(encodeMessage(expected.ping_min_seq300))]);
    assert.equal(decodeCompound(full.subarray(0, 10)).truncated, 2);
    assert.throws(() => decodeCompound(full.subarray(0, 3)), CodecError);
    assert.throws(() => decodeCompound(new Uint8Array(0)), CodecError);
    assert.deepEqual(decodeCompound(new Uint8Array([0])), { parts: [], truncated: 0 });
  });
  it("refuses parts longer than 65535 bytes", () => {
    assert.throws(() => encodeCompound([new Uint8Array(70000), part(1)]), CodecError);
  });
});

describe("crc", () => {
  it("matches the IEEE check value", () => {
    assert.equal(crc32(te.encode("123456789")), 0xcbf43926);
    assert.equal(crc32(new Uint8Array(0)), 0);
  });
  it("adds and strips the envelope, detecting any flipped bit", () => {
    const payload = vec("ping_full");
    const wrapped = addCrc(payload);
    assert.equal(wrapped[0], 12);
    assert.equal(
      ((wrapped[1] << 24) | (wrapped[2] << 16) | (wrapped[3] << 8) | wrapped[4]) >>> 0,
      crc32(payload),
    );
    assert.deepEqual(stripCrc(wrapped), payload);
    for (let i = 1; i < wrapped.length; i++) {
      const bad = wrapped.slice();
      bad[i] ^= 1 << (i % 8);
      assert.throws(() => stripCrc(bad), CodecError);
    }
    assert.throws(() => stripCrc(wrapped.subarray(0, 4)), CodecError);
  });
});
