// A tiny UDP echo and traffic probe for the network-namespace testbed (plain Node ESM, so it
// runs with `node` inside a namespace without a build step).
//
//   node udp_echo.mjs <bind-address> <port>
//
// One UDP socket does both jobs:
//   - a datagram "P <tag> <seq>" is counted under <tag> and answered with "E <tag> <seq>";
//   - a datagram "E <tag> <seq>" is counted as an echo under <tag>.
// Anything else is counted as garbage and dropped.
// Control is JSON lines on stdin, answers are JSON lines on stdout (the test holds the pipes,
// so measuring never depends on the network being measured):
//   {"op":"send","id":1,"tag":"t","to":"10.200.7.2:7000","count":2000,"batch":10,"everyMs":10,"settleMs":500}
//     -> {"id":1,"sent":2000,"echoes":1791}
//   {"op":"count","id":2,"tag":"t"} -> {"id":2,"received":1804}
//   {"op":"quit"} -> exits
// It prints {"event":"ready","address":..,"port":..} once bound.
import { createSocket } from "node:dgram";
import { createInterface } from "node:readline";

const [bindAddress = "127.0.0.1", portText = "0"] = process.argv.slice(2);
const received = new Map();
const echoes = new Map();
let garbage = 0;

const socket = createSocket({ type: "udp4", recvBufferSize: 4 * 1024 * 1024 });
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const bump = (map, tag) => map.set(tag, (map.get(tag) ?? 0) + 1);

socket.on("message", (msg, rinfo) => {
  const parts = msg.toString("utf8").split(" ");
  if (parts.length !== 3) {
    garbage++;
    return;
  }
  const [kind, tag, seq] = parts;
  if (kind === "P") {
    bump(received, tag);
    socket.send(`E ${tag} ${seq}`, rinfo.port, rinfo.address);
  } else if (kind === "E") {
    bump(echoes, tag);
  } else {
    garbage++;
  }
});
socket.on("error", (err) => out({ event: "error", message: err.message }));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function send(cmd) {
  const at = cmd.to.lastIndexOf(":");
  const host = cmd.to.slice(0, at);
  const port = Number(cmd.to.slice(at + 1));
  const batch = cmd.batch ?? 10;
  let sent = 0;
  while (sent < cmd.count) {
    for (let i = 0; i < batch && sent < cmd.count; i++) {
      socket.send(`P ${cmd.tag} ${sent}`, port, host);
      sent++;
    }
    await sleep(cmd.everyMs ?? 10);
  }
  await sleep(cmd.settleMs ?? 300);
  return { id: cmd.id, sent, echoes: echoes.get(cmd.tag) ?? 0 };
}

socket.bind(Number(portText), bindAddress, () => {
  const a = socket.address();
  out({ event: "ready", address: a.address, port: a.port });
});

const lines = createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch {
    out({ event: "error", message: `bad command: ${line}` });
    return;
  }
  if (cmd.op === "send") out(await send(cmd));
  else if (cmd.op === "count") out({ id: cmd.id, received: received.get(cmd.tag) ?? 0, garbage });
  else if (cmd.op === "quit") lines.close();
  else out({ id: cmd.id, error: `unknown op ${cmd.op}` });
});
// The test going away (stdin closed) ends this program too.
lines.on("close", () => socket.close(() => process.exit(0)));
