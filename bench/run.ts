/**
 * Every benchmark in one run, each in its own process, on Deno and on Node, next to its
 * anchor (Go memberlist, NATS JetStream R3, Serf's model). A failing step is recorded and
 * the others go on. Ends with bench/results/summary.json and bench/results/summary.md.
 *
 *   bench/run [--quick] [--only step,step] [--summary-only] [--update-readme]
 *   deno task bench            (same thing)
 *
 * `--quick` shrinks every step (1 detection trial, 10 s steady state, 20,000 fuzz cases,
 * small log bench) to check the pipeline; the table is then not a measurement.
 * `--summary-only` rebuilds the table from the results on disk without running anything.
 * `--update-readme` replaces the part of README.md between `<!-- bench:start -->` and
 * `<!-- bench:end -->` with the table (nothing happens without the markers).
 *
 * @module
 */
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { buildForNode, NODE_BUILD_DIR } from "./node_build.ts";
import { buildRows, markdown, type StepStatus } from "./summary.ts";

const ARGS: string[] = (globalThis as { Deno?: { args: string[] } }).Deno?.args ??
  process.argv.slice(2);
const QUICK = ARGS.includes("--quick");
/** Rebuild the summary from the results already on disk (step results of the last run). */
const SUMMARY_ONLY = ARGS.includes("--summary-only");
const ONLY = (() => {
  const i = ARGS.indexOf("--only");
  return i >= 0 ? ARGS[i + 1].split(",") : null;
})();
const ROOT = fileURLToPath(new URL("../", import.meta.url));
const RESULTS = join(ROOT, "bench", "results");
const DENO = existsSync(join(ROOT, "node_modules", ".bin", "deno"))
  ? join(ROOT, "node_modules", ".bin", "deno")
  : "deno";
const NODE = "node";

interface Step {
  name: string;
  /** Builds the command when the step runs (the Node build happens first). */
  cmd: () => [string, string[]] | null;
  timeoutMs: number;
  /** Run afterwards, e.g. to move a Node result next to the others. */
  after?: () => void;
}

function exists(rel: string): boolean {
  return existsSync(join(ROOT, rel));
}

/** Flags a script offers for a smaller run (looked up in its source). */
function reducedFlag(rel: string): string[] {
  const src = readFileSync(join(ROOT, rel), "utf8");
  for (const f of ["--quick", "--reduced", "--small", "--smoke"]) if (src.includes(f)) return [f];
  return [];
}

const nodeJs = (rel: string): string => join(ROOT, NODE_BUILD_DIR, rel.replace(/\.ts$/, ".js"));
const denoRun = (rel: string, ...args: string[]): [string, string[]] => [
  DENO,
  ["run", "-A", "--v8-flags=--expose-gc", join(ROOT, rel), ...args],
];
const nodeRun = (rel: string, ...args: string[]): [string, string[]] => [
  NODE,
  ["--expose-gc", nodeJs(rel), ...args],
];

const MIN = 60_000;
const fuzzCases = QUICK ? "20000" : "100000";
const ssSeconds = QUICK ? "10" : "60";
const logArgs = QUICK ? ["--entries", "5000", "--seconds", "1"] : [];
const nodeEntries = [
  "bench/fuzz.ts",
  "bench/steady_state.ts",
  "bench/log_bench.ts",
  "bench/log_bench_node.ts",
  "bench/sim.ts",
];

/** Copies a result a Node build wrote under build/ to bench/results/<name>. */
function collectNodeResult(from: string, to: string): () => void {
  return () => {
    const src = join(ROOT, NODE_BUILD_DIR, "bench", "results", from);
    if (existsSync(src)) copyFileSync(src, join(RESULTS, to));
  };
}

const STEPS: Step[] = [
  {
    name: "node build",
    cmd: () => null, // done in-process below
    timeoutMs: 5 * MIN,
  },
  {
    name: "detection",
    cmd: () =>
      denoRun(
        "bench/detection.ts",
        "--impl",
        "go,ts-deno,ts-node",
        "--presets",
        "local,lan",
        "--cases",
        "crash",
        "--trials",
        QUICK ? "1" : "5",
      ),
    timeoutMs: 60 * MIN,
  },
  {
    name: "steady-state (deno)",
    cmd: () => denoRun("bench/steady_state.ts", "--impl", "ts,go", "--seconds", ssSeconds),
    timeoutMs: 15 * MIN,
  },
  {
    name: "steady-state (node)",
    cmd: () => nodeRun("bench/steady_state.ts", "--impl", "ts", "--seconds", ssSeconds),
    timeoutMs: 10 * MIN,
  },
  // The log bench also starts its anchor, a 3-node JetStream cluster; once (on Deno) is enough.
  { name: "log (deno)", cmd: () => denoRun("bench/log_bench.ts", ...logArgs), timeoutMs: 20 * MIN },
  {
    name: "log (node)",
    cmd: () => nodeRun("bench/log_bench.ts", ...logArgs, "--no-nats"),
    timeoutMs: 20 * MIN,
    after: collectNodeResult("log.json", "log-node.json"),
  },
  {
    name: "simulation",
    cmd: () =>
      exists("bench/sim.ts") ? denoRun("bench/sim.ts", ...reducedFlag("bench/sim.ts")) : null,
    timeoutMs: 60 * MIN,
  },
  // The same cluster on Node, for the rows the summary shows (lan, loss 0): virtual times match
  // Deno's for the same seed; heap and wall time are Node's own.
  {
    name: "simulation (node)",
    cmd: () =>
      exists("bench/sim.ts")
        ? nodeRun(
          "bench/sim.ts",
          ...["--presets", "lan", "--n", "30,100,1000", "--loss", "0"],
          ...["--out", join(RESULTS, "sim-node.json")],
        )
        : null,
    timeoutMs: 30 * MIN,
  },
  // Issue #4's speed goal at N = 10,000 (about 17 GiB of heap; 30 minutes for lan and wan).
  {
    name: "simulation speed",
    cmd: () =>
      exists("bench/sim_speed.ts")
        ? [DENO, [
          "run",
          "-A",
          "--v8-flags=--max-old-space-size=22000,--max-semi-space-size=128",
          join(ROOT, "bench/sim_speed.ts"),
          ...(QUICK ? ["--n", "1000", "--seconds", "10"] : []),
        ]]
        : null,
    timeoutMs: 60 * MIN,
  },
  {
    name: "fuzz (deno)",
    cmd: () => denoRun("bench/fuzz.ts", "--cases", fuzzCases),
    timeoutMs: 30 * MIN,
  },
  {
    name: "fuzz (node)",
    cmd: () => nodeRun("bench/fuzz.ts", "--cases", fuzzCases),
    timeoutMs: 30 * MIN,
    after: collectNodeResult("fuzz-node.json", "fuzz-node.json"),
  },
];

function runChild(
  name: string,
  cmd: string,
  args: string[],
  timeoutMs: number,
): Promise<string | null> {
  return new Promise((resolve) => {
    const tail: string[] = [];
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    const onData = (d: Uint8Array): void => {
      for (const line of new TextDecoder().decode(d).split("\n")) {
        if (line.trim() === "" || line.includes("npm warn")) continue;
        console.log(`[${name}] ${line}`);
        tail.push(line);
        if (tail.length > 5) tail.shift();
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    const timer = setTimeout(() => {
      tail.push(`timed out after ${timeoutMs / 1000} s`);
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve(e.message);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve(code === 0 ? null : `exit ${code}: ${tail.slice(-2).join(" / ")}`);
    });
  });
}

async function main(): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  const statuses: StepStatus[] = SUMMARY_ONLY ? previousStatuses() : [];
  let nodeBuilt = false;
  for (const step of SUMMARY_ONLY ? [] : STEPS) {
    if (ONLY !== null && !ONLY.includes(step.name) && step.name !== "node build") continue;
    const t0 = performance.now();
    let error: string | null = null;
    let skipped = false;
    try {
      if (step.name === "node build") {
        await buildForNode(ROOT, nodeEntries);
        nodeBuilt = true;
      } else {
        const c = step.cmd();
        if (c === null) skipped = true;
        else if (c[0] === NODE && !nodeBuilt) error = "the Node build failed";
        else {
          console.log(`== ${step.name}: ${[c[0], ...c[1]].join(" ")}`);
          error = await runChild(step.name, c[0], c[1], step.timeoutMs);
          step.after?.();
        }
      }
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    if (skipped) {
      console.log(`== ${step.name}: skipped (its script is not present)`);
      statuses.push({ name: step.name, ok: false, seconds: 0, error: "not present" });
      continue;
    }
    const s: StepStatus = {
      name: step.name,
      ok: error === null,
      seconds: (performance.now() - t0) / 1000,
    };
    if (error !== null) s.error = error.split("\n")[0].slice(0, 300);
    statuses.push(s);
    console.log(
      `== ${step.name}: ${s.ok ? "ok" : `FAILED (${s.error})`} in ${Math.round(s.seconds)} s`,
    );
  }

  const command = SUMMARY_ONLY
    ? previousField("command") ?? "bench/run"
    : `bench/run${ARGS.length ? " " + ARGS.join(" ") : ""}`;
  const when = `${
    new Date().toISOString().slice(0, 16).replace("T", " ")
  } UTC on ${cpus().length}× ${cpus()[0]?.model ?? "?"}${
    QUICK ? " (--quick: pipeline check, not a measurement)" : ""
  }`;
  const rows = buildRows(RESULTS, statuses);
  const md = markdown(rows, statuses, command, when);
  writeFileSync(
    join(RESULTS, "summary.json"),
    JSON.stringify(
      { command, updatedAt: new Date().toISOString(), quick: QUICK, steps: statuses, rows },
      null,
      2,
    ) +
      "\n",
  );
  writeFileSync(join(RESULTS, "summary.md"), md);
  console.log("\n" + md);
  console.log("wrote bench/results/summary.json and bench/results/summary.md");
  if (ARGS.includes("--update-readme")) updateReadme(md);
}

function previousSummary(): { steps?: StepStatus[]; command?: string } {
  try {
    return JSON.parse(readFileSync(join(RESULTS, "summary.json"), "utf8"));
  } catch {
    return {};
  }
}

function previousStatuses(): StepStatus[] {
  return previousSummary().steps ?? [];
}

function previousField(k: "command"): string | undefined {
  return previousSummary()[k];
}

function updateReadme(md: string): void {
  const p = join(ROOT, "README.md");
  const text = readFileSync(p, "utf8");
  const start = "<!-- bench:start -->";
  const end = "<!-- bench:end -->";
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) {
    console.log("README.md has no bench markers; not updated");
    return;
  }
  writeFileSync(p, text.slice(0, a + start.length) + "\n" + md + text.slice(b));
  console.log("README.md updated");
}

await main();
