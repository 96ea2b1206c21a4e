/**
 * Drives log_node.ts processes from a test: start, command, SIGKILL, restart on the same
 * store directory (see json_line_proc.ts for how the process runs).
 *
 * @module
 */
import type { HostPort } from "../transport/types.ts";
import { JsonLineProc, type Msg } from "./json_line_proc.ts";

/** One log node process. */
export class LogProc extends JsonLineProc {
  readonly dir: string;
  /** Seqs this node reported as quorum-acknowledged (own origin), over all its runs. */
  readonly acked: number[] = [];
  address: HostPort = { host: "", port: 0 };
  /** What the last start reported: entries recovered from the directory. */
  records = 0;

  constructor(name: string, dir: string) {
    super(name, "log_node");
    this.dir = dir;
  }

  protected override onEvent(msg: Msg): boolean {
    if (msg.type !== "acked") return false;
    this.acked.push(msg.seq as number);
    return true;
  }

  /** Starts (or restarts) the process on its directory; resolves once it listens. */
  async start(): Promise<void> {
    const ready = await this.launch({ name: this.name, dir: this.dir, fsync: "always" });
    this.address = ready.address as HostPort;
    this.records = ready.records as number;
  }
}

/** Tells every running process about every other one (the killed ones included). */
export async function wireProcs(procs: readonly LogProc[]): Promise<void> {
  await Promise.all(
    procs.filter((p) => p.running).map((p) =>
      p.ask({
        cmd: "peers",
        peers: procs.filter((o) => o !== p).map((o) => ({ name: o.name, address: o.address })),
      }, "peers")
    ),
  );
}

/** Polls every listed process's state until `cond` holds for all of them together. */
export async function waitStates(
  procs: readonly LogProc[],
  cond: (states: Msg[]) => boolean,
  what: string,
  ms = 20_000,
): Promise<Msg[]> {
  const end = Date.now() + ms;
  for (;;) {
    const states = await Promise.all(procs.map((p) => p.ask({ cmd: "state" }, "state")));
    if (cond(states)) return states;
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify(states)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Heads as a canonical string (sorted keys). */
export function headsKey(state: Msg): string {
  const h = state.heads as Record<string, number>;
  return JSON.stringify(Object.keys(h).sort().map((k) => [k, h[k]]));
}
