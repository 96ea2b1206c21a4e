/**
 * What a page of fresh memory costs this machine, 1 GiB at a time: the cost behind the
 * kernel time of bench/sim_speed.ts at 10,000 nodes (17 GiB of heap).
 *
 * On the 2-core VM issue #4 is measured on, the first 4 GiB or so a process touches cost
 * about 1.5 µs per 4 KiB page; beyond that, memory the host is not backing at the moment
 * costs 20 times more (about 34 µs). Memory a process freed a moment ago is cheap again for a
 * while, until the guest reports it free to the host. So the same simulation can spend 7 s or
 * 19 s in the kernel, depending on what ran before it. Run this right before a simulation to
 * know which case it is in.
 *
 *   npx deno run -A bench/investigations/page_faults.ts [--gib 16] [--out file]
 *
 * Writes bench/results/page_faults.json. Linux only (reads /proc/self/stat).
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { resultsPath, runtimeName, writeResults } from "../results_file.ts";
import { arg } from "../args.ts";

/** One GiB of fresh memory touched, page by page. */
export interface FaultStep {
  /** GiB already held by the process before this step. */
  heldGiB: number;
  minorFaults: number;
  wallMs: number;
  systemCpuMs: number;
  /** Wall time per fault. */
  microsPerFault: number;
}

const GIB = 2 ** 30;
const PAGE = 4096;

function sample(): { faults: number; systemMs: number; wall: number } {
  // the fields after "pid (comm) ": minflt is the 8th, stime the 13th (clock ticks of 10 ms)
  const f = readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ");
  return { faults: Number(f[7]), systemMs: Number(f[12]) * 10, wall: performance.now() };
}

function main(): void {
  const gib = Number(arg("gib", "16"));
  const held: Uint8Array[] = [];
  const steps: FaultStep[] = [];
  for (let g = 0; g < gib; g++) {
    const a = sample();
    const block = new Uint8Array(GIB);
    for (let i = 0; i < block.length; i += PAGE) block[i] = 1;
    held.push(block);
    const b = sample();
    const faults = b.faults - a.faults;
    const wallMs = Math.round(b.wall - a.wall);
    const step: FaultStep = {
      heldGiB: g,
      minorFaults: faults,
      wallMs,
      systemCpuMs: b.systemMs - a.systemMs,
      microsPerFault: Math.round(((b.wall - a.wall) * 10_000) / Math.max(1, faults)) / 10,
    };
    steps.push(step);
    console.log(`GiB ${g} -> ${g + 1}: ${step.microsPerFault} µs per fault (${faults} faults)`);
  }
  writeResults(resultsPath("page_faults.json", arg("out", "")), {
    benchmark: "cost of fresh memory (bench/investigations/page_faults.ts)",
    date: new Date().toISOString(),
    runtime: runtimeName(),
    notes: [
      "Each step allocates 1 GiB more (kept) and writes one byte per 4 KiB page; microsPerFault is the step's wall time per minor fault.",
    ],
    results: steps,
  });
}

main();
