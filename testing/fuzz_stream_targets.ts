/**
 * Fuzz targets of memberlist's TCP stream forms: the responder's whole read path
 * (label, decryption, decompression, then push/pull, user message or fallback ping body)
 * over an in-memory stream that delivers the bytes in arbitrary chunks and then ends.
 *
 * @module
 */
import fc from "fast-check";
import type { HostPort, Stream } from "../transport/types.ts";
import { CodecError } from "../memberlist/wire/errors.ts";
import type { Keyring } from "../memberlist/wire/keyring.ts";
import { decodeMessageBody, MessageType } from "../memberlist/wire/messages.ts";
import type { PacketSecurity } from "../memberlist/wire/packet.ts";
import {
  readPushPull,
  readStreamMessage,
  readUserMsg,
  writeStreamMessage,
} from "../memberlist/wire/stream.ts";
import {
  applyMutation,
  chunked,
  fuzzCase,
  mutation,
  plainStreamArb,
  streamPayloadArb,
} from "./fuzz_arbitraries.ts";
import { fuzzRings } from "./fuzz_crypto_targets.ts";
import {
  check,
  defineTarget,
  type FuzzTarget,
  onlyAsync,
  sealedPrefix,
  startsWith,
} from "./fuzz_property.ts";

const REMOTE: HostPort = { host: "127.0.0.1", port: 1 };

/** A stream that yields the given chunks, then ends; writes are kept. */
export class ReplayStream implements Stream {
  readonly remote: HostPort = REMOTE;
  readonly written: Uint8Array[] = [];
  #chunks: Uint8Array[];
  #closed = false;

  /** @param chunks what reads return, in order */
  constructor(chunks: Uint8Array[]) {
    this.#chunks = chunks;
  }

  read(): Promise<Uint8Array | null> {
    if (this.#closed) return Promise.resolve(null);
    return Promise.resolve(this.#chunks.shift() ?? null);
  }

  write(bytes: Uint8Array): Promise<void> {
    this.written.push(bytes.slice());
    return Promise.resolve();
  }

  close(): void {
    this.#closed = true;
  }
}

/** Limits small enough to exercise them, large enough for every valid input. */
const LIMIT = 1 << 20;

interface StreamOutcome {
  type: number;
  bytes: number;
}

/** The responder's read path, as push_pull.ts serves a stream. */
export async function readWholeStream(s: Stream, sec: PacketSecurity): Promise<StreamOutcome> {
  const { type, reader } = await readStreamMessage(s, sec, {
    maxBytes: LIMIT,
    maxDecompressedBytes: LIMIT,
  });
  if (type === MessageType.pushPull) {
    const r = await readPushPull(reader, { maxNodes: 1024, maxUserState: LIMIT });
    return { type, bytes: r.userState.length + r.nodes.length };
  }
  if (type === MessageType.user) return { type, bytes: (await readUserMsg(reader, LIMIT)).length };
  if (type === MessageType.ping || type === MessageType.err) {
    decodeMessageBody(type, await reader.readMsgpack());
    return { type, bytes: 0 };
  }
  return { type, bytes: 0 };
}

async function encryptedPool(ring: Keyring): Promise<{ bytes: Uint8Array; label: string }[]> {
  const specs = fc.sample(
    fc.record({
      payload: streamPayloadArb,
      label: fc.constantFrom("", "lbl"),
      compress: fc.boolean(),
      version: fc.constantFrom<0 | 1>(0, 1),
    }),
    { numRuns: 48, seed: 7 },
  );
  return await Promise.all(specs.map(async (s) => {
    const out = new ReplayStream([]);
    await writeStreamMessage(out, s.payload, {
      compress: s.compress,
      keyring: ring,
      label: s.label,
      verifyIncoming: true,
      verifyOutgoing: true,
      encryptionVersion: s.version,
    });
    return { bytes: out.written[0], label: s.label };
  }));
}

/** Where the encryption version byte sits: label header, then `[10][u32 length]`. */
function versionAt(label: string): number {
  return (label === "" ? 0 : 2 + new TextEncoder().encode(label).length) + 5;
}

/** The stream target: plaintext streams, or encrypted ones (with the forgery check). */
export function streamTarget(mode: "plain" | "encrypted"): FuzzTarget {
  if (mode === "plain") {
    return defineTarget({
      name: "memberlist/stream (plain)",
      weight: 8,
      testRuns: 400,
      async: true,
      arb: () =>
        fc.tuple(
          fuzzCase(plainStreamArb, 300),
          fc.array(fc.nat(), { maxLength: 5 }),
          fc.constantFrom("", "lbl"),
        ),
      check: async ([{ bytes, valid }, cuts, label]) => {
        const sec: PacketSecurity = {
          label,
          verifyIncoming: true,
          verifyOutgoing: true,
          encryptionVersion: 1,
        };
        const s = new ReplayStream(chunked(bytes, cuts));
        const r = await onlyAsync(CodecError, () => readWholeStream(s, sec));
        if (valid && (bytes[0] === 244) === (label !== "")) {
          check(r !== undefined, "a valid stream message reads");
        }
        if (r) check(r.bytes <= LIMIT + bytes.length, "decoded bytes within the limits");
      },
    });
  }
  let pool: { bytes: Uint8Array; label: string }[];
  let ring: Keyring;
  return defineTarget({
    name: "memberlist/stream (encrypted)",
    weight: 4,
    testRuns: 200,
    async: true,
    arb: async () => {
      ring = (await fuzzRings()).both;
      pool = await encryptedPool(ring);
      const entries = fc.constantFrom(...pool.map((p) => p.bytes));
      return fc.tuple(
        fc.nat(pool.length - 1),
        fc.array(mutation(entries), { maxLength: 3 }),
        fc.array(fc.nat(), { maxLength: 5 }),
      ).map(([i, ms, cuts]) => ({ i, bytes: ms.reduce(applyMutation, pool[i].bytes), cuts }));
    },
    check: async ({ i, bytes, cuts }) => {
      const sec: PacketSecurity = {
        keyring: ring,
        label: pool[i].label,
        verifyIncoming: true,
        verifyOutgoing: true,
        encryptionVersion: 1,
      };
      const opened = await onlyAsync(
        CodecError,
        () => readStreamMessage(new ReplayStream(chunked(bytes, cuts)), sec, { maxBytes: LIMIT }),
      );
      // The encrypted blob is length-delimited: bytes after it are not read, anything before
      // or inside it must be exactly what was sealed.
      if (opened !== undefined) {
        check(
          pool.some((p) => sealedPrefix(bytes, p.bytes, versionAt(p.label))),
          "a changed stream is never accepted",
        );
      }
      if (bytes === pool[i].bytes || startsWith(bytes, pool[i].bytes)) {
        check(opened !== undefined, "an untouched stream opens");
      }
      const whole = await onlyAsync(
        CodecError,
        () => readWholeStream(new ReplayStream(chunked(bytes, cuts)), sec),
      );
      if (whole) check(whole.bytes <= LIMIT, "decoded bytes within the limits");
    },
  });
}
