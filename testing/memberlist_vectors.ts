/**
 * Loads the golden memberlist v0.2.2 byte vectors (tests/fixtures, the
 * vectors that Go memberlist v0.2.2 produces). Works from the sources (Deno) and the build (Node).
 *
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./repo_root.ts";

const NAME = "memberlist-vectors-v0.2.2.txt";

function locate(): string {
  const path = join(repoRoot(), "tests", "fixtures", NAME);
  if (existsSync(path)) return path;
  throw new Error(`cannot find ${NAME} near ${import.meta.url}`);
}

/** Hex text to bytes. */
export function unhex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Bytes to lower-case hex. */
export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Every `name hex` line of the vectors file (lines whose second word is not hex are skipped). */
export function loadVectors(): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const line of readFileSync(locate(), "utf8").split("\n")) {
    const [name, value, ...rest] = line.trim().split(/\s+/);
    if (name && value && rest.length === 0 && /^([0-9a-f]{2})+$/.test(value)) {
      out.set(name, unhex(value));
    }
  }
  return out;
}

/** The `encryptedLength …` line: e.g. { "v0(5)": 45, "v1(5)": 34, "v0(16)": 61 }. */
export function loadEncryptedLengths(): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of readFileSync(locate(), "utf8").split("\n")) {
    const words = line.trim().split(/\s+/);
    if (words[0] !== "encryptedLength") continue;
    for (let i = 1; i + 1 < words.length; i += 2) out.set(words[i], Number(words[i + 1]));
  }
  return out;
}
