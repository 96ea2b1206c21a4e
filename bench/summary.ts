/**
 * Builds the side-by-side summary of every benchmark from bench/results/*.json: one row per
 * measure with ours on Deno, ours on Node, the anchor (Go memberlist, NATS JetStream R3, or
 * Serf's convergence model), the ratio ours/anchor, the goal and whether it is met.
 *
 * Goals: ratios against the anchor. "lower" measures (time, bytes, lag, memory) meet their
 * goal when ours/anchor ≤ the bound; "higher" ones (throughput) when ours/anchor ≥ it.
 *
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** One step of bench/run and how it ended. */
export interface StepStatus {
  name: string;
  ok: boolean;
  seconds: number;
  error?: string;
}

/** One row of the table. */
export interface Row {
  measure: string;
  deno: number | null;
  node: number | null;
  anchor: number | null;
  anchorName: string;
  unit: string;
  ratioDeno: number | null;
  ratioNode: number | null;
  goal: string;
  met: boolean | null;
  note: string;
}

type Json = Record<string, unknown>;

function load(dir: string, file: string): Json | null {
  const p = join(dir, file);
  if (!existsSync(p)) return null;
  try {
    return JSON.parse(readFileSync(p, "utf8")) as Json;
  } catch {
    return null;
  }
}

function list(doc: Json | null): Json[] {
  const r = doc?.results;
  return Array.isArray(r) ? (r as Json[]) : [];
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function path(o: unknown, ...keys: string[]): unknown {
  let v: unknown = o;
  for (const k of keys) v = v !== null && typeof v === "object" ? (v as Json)[k] : undefined;
  return v;
}

interface Spec {
  measure: string;
  unit: string;
  anchorName: string;
  dir: "lower" | "higher";
  bound: number;
  steps: string[];
  deno: number | null;
  node: number | null;
  anchor: number | null;
  note?: string;
}

function row(s: Spec, steps: StepStatus[]): Row {
  const ratio = (x: number | null): number | null =>
    x === null || s.anchor === null || s.anchor === 0 ? null : x / s.anchor;
  const rd = ratio(s.deno);
  const rn = ratio(s.node);
  const ok = (r: number | null): boolean | null =>
    r === null ? null : s.dir === "lower" ? r <= s.bound : r >= s.bound;
  const verdicts = [ok(rd), ok(rn)].filter((v) => v !== null);
  const failed = steps.filter((st) => s.steps.includes(st.name) && !st.ok);
  const notes = [s.note ?? "", ...failed.map((f) => `${f.name} failed: ${f.error ?? "?"}`)]
    .filter((n) => n !== "");
  return {
    measure: s.measure,
    deno: s.deno,
    node: s.node,
    anchor: s.anchor,
    anchorName: s.anchorName,
    unit: s.unit,
    ratioDeno: rd,
    ratioNode: rn,
    goal: s.anchorName === "—"
      ? "— (no anchor; reported)"
      : `ours/anchor ${s.dir === "lower" ? "≤" : "≥"} ${s.bound}`,
    met: verdicts.length === 0 ? null : verdicts.every((v) => v),
    note: notes.join("; "),
  };
}

/** All rows, from what the results directory holds. */
export function buildRows(dir: string, steps: StepStatus[]): Row[] {
  const rows: Row[] = [];
  const det = list(load(dir, "detection.json"));
  for (const preset of ["local", "lan"]) {
    const med = (impl: string): number | null =>
      num(
        det.find((e) => e.impl === impl && e.preset === preset && (e.case ?? "crash") === "crash")
          ?.medianAllDeadMs,
      );
    const toS = (x: number | null): number | null => (x === null ? null : x / 1000);
    rows.push(row({
      measure: `failure detection, ${preset} (median kill → all survivors declare dead)`,
      unit: "s",
      anchorName: "Go memberlist v0.2.2",
      dir: "lower",
      bound: 1,
      steps: ["detection"],
      deno: toS(med("ts-deno")),
      node: toS(med("ts-node")),
      anchor: toS(med("go")),
    }, steps));
  }

  const ssDeno = list(load(dir, "steady_state.json"));
  const ssNode = list(load(dir, "steady_state-node.json"));
  const ss = (l: Json[], impl: string): number | null =>
    num(l.find((e) => e.impl === impl)?.bytesPerNodePerSec);
  rows.push(row({
    measure: "steady-state bytes per node per second (10 nodes, lan, received payload)",
    unit: "B/s",
    anchorName: "Go memberlist (9 Go + 1 ours, at ours)",
    dir: "lower",
    bound: 1,
    steps: ["steady-state (deno)", "steady-state (node)"],
    deno: ss(ssDeno, "ts"),
    node: ss(ssNode, "ts"),
    anchor: ss(ssDeno, "go"),
  }, steps));

  // bench/sim.ts: real nodes on the simulated network, against Serf's convergence model.
  // Deno from sim.json (full matrix), Node from sim-node.json (lan, loss 0 only).
  const sims = list(load(dir, "sim.json"));
  const simsNode = list(load(dir, "sim-node.json"));
  const simNote = [
    sims.length === 0 ? "bench/sim.ts results (Deno) not present" : "",
    simsNode.length === 0 ? "sim-node.json (Node) not present" : "",
  ].filter((x) => x !== "").join("; ");
  const simSteps = ["simulation", "simulation (node)"];
  // Rows the simulation could not run (too large for this machine) carry a `skipped` reason.
  const measured = sims.filter((e) => !e.skipped);
  const lanAt = (l: Json[], n: number): Json | undefined =>
    l.find((e) => !e.skipped && e.preset === "lan" && e.n === n && e.loss === 0);
  const simAt = (n: number): Json | undefined => lanAt(measured, n);
  const simNs = [
    ...new Set(measured.filter((e) => e.preset === "lan" && e.loss === 0).map((e) => e.n)),
  ]
    .filter((n): n is number => typeof n === "number").sort((a, b) => a - b);
  for (const n of simNs.length > 0 ? simNs : [1000]) {
    const e = simAt(n);
    const en = lanAt(simsNode, n);
    // No default for x: an absent Node entry must read as null, not as Deno's.
    const ms = (k: string, x: Json | undefined): number | null => {
      const v = num(x?.[k]);
      return v === null ? null : v / 1000;
    };
    rows.push(row({
      measure: `simulated convergence of a join, lan, N = ${n} (join → 99.99 % see it alive)`,
      unit: "s",
      anchorName: "Serf convergence model",
      dir: "lower",
      bound: 1,
      steps: simSteps,
      deno: ms("joinMs", e),
      node: ms("joinMs", en),
      anchor: ms("serfModelMs", e),
      note: simNote,
    }, steps));
    rows.push(row({
      measure: `simulated dissemination of a death, lan, N = ${n} (first → 99.99 % declare dead)`,
      unit: "s",
      anchorName: "Serf convergence model",
      dir: "lower",
      bound: 1,
      steps: simSteps,
      deno: ms("failureSpreadMs", e),
      node: ms("failureSpreadMs", en),
      anchor: ms("serfModelMs", e),
      note: simNote,
    }, steps));
  }
  for (const e of sims.filter((x) => x.skipped && x.preset === "lan" && x.loss === 0)) {
    rows.push(row({
      measure: `simulated lan cluster, N = ${e.n}`,
      unit: "s",
      anchorName: "Serf convergence model",
      dir: "lower",
      bound: 1,
      steps: ["simulation"],
      deno: null,
      node: null,
      anchor: num(e.serfModelMs) === null ? null : num(e.serfModelMs)! / 1000,
      note: `not run: ${String(e.skipped)}`,
    }, steps));
  }
  const big = simAt(simNs.at(-1) ?? 1000);
  const bigNode = lanAt(simsNode, num(big?.n) ?? 1000);
  rows.push(row({
    measure: `simulated bytes per node per second, lan, N = ${num(big?.n) ?? "?"}`,
    unit: "B/s",
    anchorName: "Serf bandwidth estimate (upper bound)",
    dir: "lower",
    bound: 1,
    steps: simSteps,
    deno: num(big?.bytesPerNodePerSec),
    node: num(bigNode?.bytesPerNodePerSec),
    anchor: num(big?.serfBytesPerNodePerSec),
    note: simNote,
  }, steps));
  const simHeap = num(big?.heapBytesPerMember);
  const ssHeap = num(ssDeno.find((e) => e.impl === "ts")?.heapPerNodeBytes);
  const ssHeapNode = num(ssNode.find((e) => e.impl === "ts")?.heapPerNodeBytes);
  rows.push(row({
    measure: `heap per known member, simulated lan cluster of N = ${num(big?.n) ?? "?"}`,
    unit: "bytes",
    anchorName: "goal of issue #4",
    dir: "lower",
    bound: 1,
    steps: simSteps,
    deno: simHeap,
    node: num(bigNode?.heapBytesPerMember),
    anchor: 1024,
    note: "heap growth of the whole simulation / N²; Go exposes no heap figure",
  }, steps));
  // Issue #4's speed goal, from bench/sim_speed.ts (Deno only): 60 simulated seconds of the
  // largest cluster in under 60 s of wall, right after the converged start and one push/pull
  // interval later.
  const speeds = list(load(dir, "sim_speed.json"));
  const seconds60 = (ms: unknown): number | null => {
    const v = num(ms);
    return v === null ? null : (v * 60) / 1000;
  };
  for (const preset of ["lan", "wan"]) {
    const e = speeds.filter((x) => x.preset === preset)
      .sort((a, b) => (num(b.n) ?? 0) - (num(a.n) ?? 0))[0];
    if (e === undefined) continue;
    for (
      const [field, what] of [
        ["steadyWallMsPerSimSecond", "quiet (a push/pull interval after the start)"],
        ["coldWallMsPerSimSecond", "just started (every push/pull body built anew)"],
      ] as const
    ) {
      rows.push(row({
        measure: `wall time of 60 simulated seconds, ${preset}, N = ${num(e.n)}, ${what}`,
        unit: "s",
        anchorName: "goal of issue #4",
        dir: "lower",
        bound: 1,
        steps: ["simulation speed"],
        deno: seconds60(e[field]),
        node: null,
        anchor: 60,
        note: "one process; the simulation runs on one core, V8's GC helpers on the other",
      }, steps));
    }
  }
  rows.push(row({
    measure: "heap per Memberlist instance, 10-node loopback cluster",
    unit: "bytes",
    anchorName: "—",
    dir: "lower",
    bound: 1,
    steps: ["steady-state (deno)", "steady-state (node)"],
    deno: ssHeap,
    node: ssHeapNode,
    anchor: null,
    note: "heap growth after creating and converging 10 nodes, / 10",
  }, steps));

  // bench/log_bench.ts runs our log and, as its anchor, a 3-node JetStream cluster (R3).
  const logDocDeno = load(dir, "log.json");
  const logDeno = list(logDocDeno);
  const logNode = list(load(dir, "log-node.json"));
  const js = logDocDeno?.jetstream as Json | null | undefined;
  const jsOk = js !== null && js !== undefined && !("error" in js);
  const lan = (l: Json[]): Json | undefined => l.find((e) => e.environment === "lan") ?? l[0];
  const jsNote = jsOk
    ? ""
    : `no JetStream anchor in log.json${js && "error" in js ? `: ${String(js.error)}` : ""}`;
  const logRows: [
    string,
    string,
    "lower" | "higher",
    (e: Json | undefined) => unknown,
    string[],
  ][] = [
    [
      "log throughput, lan (entries applied per second per replica, 3 writers)",
      "entries/s",
      "higher",
      (e) => path(e, "throughput", "appliedPerSecPerReplica"),
      ["throughput", "storedPerSecPerReplica"],
    ],
    [
      "log lag p99, lan (append → visible on another replica, fixed rate)",
      "ms",
      "lower",
      (e) => path(e, "latency", "p99Ms"),
      ["kvWatch", "p99Ms"],
    ],
    [
      "quorum appends, one at a time (lan)",
      "appends/s",
      "higher",
      (e) => path(e, "quorum", "sequentialPerSec"),
      ["sync", "perSec"],
    ],
    [
      "quorum appends, 64 in flight (lan)",
      "appends/s",
      "higher",
      (e) => path(e, "quorum", "concurrent64PerSec"),
      ["async64PerSec"],
    ],
  ];
  for (const [measure, unit, dir2, get, jsPath] of logRows) {
    rows.push(row({
      measure,
      unit,
      anchorName: "NATS JetStream, 3 replicas",
      dir: dir2,
      bound: 1,
      steps: ["log (deno)", "log (node)"],
      deno: num(get(lan(logDeno))),
      node: num(get(lan(logNode))),
      anchor: jsOk ? num(path(js, ...jsPath)) : null,
      note: jsNote,
    }, steps));
  }

  const fz = load(dir, "fuzz.json");
  const fzn = load(dir, "fuzz-node.json");
  const fuzzOk = (d: Json | null): boolean | null =>
    d === null ? null : d.failedProperties === 0 && d.floodOk === true &&
      Array.isArray(d.escapedExceptions) && d.escapedExceptions.length === 0;
  const verdicts = [fuzzOk(fz), fuzzOk(fzn)].filter((v) => v !== null);
  rows.push({
    measure: "fuzz: decoder cases per second (failures must be 0, flooded node must stay alive)",
    deno: num(fz?.casesPerSec),
    node: num(fzn?.casesPerSec),
    anchor: null,
    anchorName: "—",
    unit: "cases/s",
    ratioDeno: null,
    ratioNode: null,
    goal: "0 failed properties, 0 escaped exceptions, flood survived",
    met: verdicts.length === 0 ? null : verdicts.every((v) => v),
    note: [fz, fzn].filter((d) =>
      d !== null
    ).map((d) =>
      `${path(d, "machine", "runtime")}: ${d!.cases} cases, ${d!.failedProperties} failed`
    ).join("; ") +
      steps.filter((s) => s.name.startsWith("fuzz") && !s.ok).map((s) =>
        `; ${s.name} failed: ${s.error ?? "?"}`
      ).join(""),
  });
  return rows;
}

function cell(x: number | null): string {
  if (x === null) return "—";
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString("en-US");
  if (Math.abs(x) >= 10) return x.toFixed(1);
  if (Math.abs(x) >= 0.1 || x === 0) return x.toFixed(2);
  return x.toPrecision(2);
}

/** The markdown table (plus step status lines). */
export function markdown(rows: Row[], steps: StepStatus[], command: string, when: string): string {
  const lines = [
    `Benchmarks, ${when}. Command: \`${command}\``,
    "",
    "| measure | ours on Deno | ours on Node | anchor | ratio ours/anchor (Deno / Node) | goal | met? |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of rows) {
    const ratio = r.ratioDeno === null && r.ratioNode === null
      ? "—"
      : `${cell(r.ratioDeno)} / ${cell(r.ratioNode)}`;
    const met = r.met === null ? "n/a" : r.met ? "yes" : "**no**";
    const anchor = r.anchor === null && r.anchorName === "—"
      ? "—"
      : `${cell(r.anchor)} ${r.anchorName}`;
    lines.push(
      `| ${r.measure} (${r.unit}) | ${cell(r.deno)} | ${
        cell(r.node)
      } | ${anchor} | ${ratio} | ${r.goal} | ${met}${
        r.note ? ` (${r.note.replaceAll("|", "/").replaceAll("\n", " ").slice(0, 300)})` : ""
      } |`,
    );
  }
  lines.push("", "| step | result | seconds |", "| --- | --- | --- |");
  for (const s of steps) {
    const res = s.ok
      ? "ok"
      : `failed: ${(s.error ?? "?").replaceAll("|", "/").replaceAll("\n", " ").slice(0, 200)}`;
    lines.push(`| ${s.name} | ${res} | ${Math.round(s.seconds)} |`);
  }
  return lines.join("\n") + "\n";
}
