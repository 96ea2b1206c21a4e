/**
 * Reads the `cluster` stanza from a Response Server config file, JSON or HCL.
 *
 * HCL goes through `@cdktf/hcl2json`, HashiCorp's own HCL parser (the Go implementation
 * compiled to WebAssembly, maintained with terraform-cdk): the same grammar Terraform and
 * Response Server's Go tooling accept, rather than a hand-written JavaScript approximation.
 * It is an optional dependency of the npm package, loaded only when a `.hcl` file is read.
 * It returns blocks as arrays (`cluster: [{...}]`, `autojoin: { nats: [{...}] }`); a block
 * given once is unwrapped so the result has the shape the JSON form has.
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { ConfigError } from "../errors/mod.ts";

/**
 * Reads a config file and returns its `cluster` stanza (`undefined` when the file has none).
 * A file whose top level is the stanza itself (has `environment`) is accepted too.
 *
 * @example
 * ```ts
 * const stanza = await readClusterStanza("/etc/response/server.hcl");
 * const node = await cluster(stanza);
 * ```
 * @param path a `.json` or `.hcl` file
 */
export async function readClusterStanza(path: string): Promise<unknown> {
  const text = await readFile(path, "utf8");
  let doc: unknown;
  if (path.endsWith(".json")) {
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new ConfigError([{ path, message: `invalid JSON: ${(err as Error).message}` }]);
    }
  } else {
    const parse = await loadHclParser(path);
    try {
      doc = unwrapBlocks(await parse(path, text));
    } catch (err) {
      throw new ConfigError([{ path, message: `invalid HCL: ${(err as Error).message}` }]);
    }
  }
  if (typeof doc !== "object" || doc === null) return undefined;
  const record = doc as Record<string, unknown>;
  if ("cluster" in record) return record.cluster;
  return "environment" in record ? record : undefined;
}

/**
 * The HCL parser, loaded on demand: the npm package lists it as an optional peer dependency so
 * library users do not download its 1.9 MB of WebAssembly; JSON config files need nothing.
 */
async function loadHclParser(
  path: string,
): Promise<(name: string, text: string) => Promise<unknown>> {
  try {
    return (await import("@cdktf/hcl2json")).parse;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code !== "ERR_MODULE_NOT_FOUND" && !/find (module|package)/i.test(String(err))) throw err;
    throw new ConfigError([{
      path,
      message:
        `reading HCL needs the optional package @cdktf/hcl2json: run "npm install @cdktf/hcl2json", or use a .json config file`,
    }]);
  }
}

/** Turns HCL-JSON block lists of one element back into objects; leaves value lists alone. */
function unwrapBlocks(value: unknown): unknown {
  if (Array.isArray(value)) {
    if (value.length === 1 && isPlainObject(value[0])) return unwrapBlocks(value[0]);
    return value.map(unwrapBlocks);
  }
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = unwrapBlocks(v);
    return out;
  }
  return value;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
