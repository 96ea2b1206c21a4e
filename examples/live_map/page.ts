/**
 * The live map's page: static HTML and the browser script, served as they are.
 *
 * They live in a TypeScript module rather than in .html/.js files so that the tsc build for
 * Node carries them along (tsc copies no other files); the page needs nothing from the internet.
 * The map is an SVG grid; every user's last position is a dot with the user's name. The script
 * logs in, posts a position on click and listens to `/events` (server-sent events): a `hello`
 * event names the instance serving the stream, `members` lists the cluster's members and their
 * states, each `position` event moves one dot. When the
 * stream breaks, EventSource reconnects by itself (through the load balancer, possibly to
 * another instance) and the server sends a fresh snapshot.
 *
 * @module
 */

/** Cells per side of the map. */
export const GRID = 20;

/** The page (GET /). */
export const PAGE_HTML: string = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Live map — @response/cluster</title>
<style>
  body { font: 15px system-ui, sans-serif; margin: 20px; color: #1d2733; background: #f6f8fa; }
  h1 { font-size: 20px; margin: 0 0 12px; }
  main { display: flex; gap: 24px; align-items: flex-start; }
  svg { background: #fff; border: 1px solid #c9d1d9; cursor: crosshair; }
  .cell { fill: none; stroke: #eef1f4; }
  .dot circle { stroke: #fff; }
  .dot text { fill: #1d2733; font-weight: 600; }
  aside { min-width: 260px; }
  #stream { padding: 4px 8px; border-radius: 4px; background: #fde2e1; display: inline-block; }
  #stream.live { background: #d8f3dc; }
  ul { padding-left: 18px; }
  code { background: #eef1f4; padding: 1px 4px; border-radius: 3px; }
  .member { margin-right: 6px; padding: 1px 6px; border-radius: 3px; background: #d8f3dc; }
  .member.suspect { background: #fff3bf; }
  .member.dead, .member.left { background: #fde2e1; }
</style>
</head>
<body>
<h1>Live map</h1>
<main>
  <svg id="map" width="480" height="480" viewBox="0 0 ${GRID} ${GRID}"></svg>
  <aside>
    <p>Page loaded from <code id="page-instance">?</code></p>
    <p id="stream">connecting…</p>
    <p>Cluster: <span id="members"></span></p>
    <form id="login"><input id="name" placeholder="your name" required maxlength="32">
      <button>Log in</button></form>
    <p id="me">not logged in</p>
    <p>Click the map to post your position.</p>
    <ul id="users"></ul>
  </aside>
</main>
<script src="/map.js"></script>
</body>
</html>
`;

/** The page's script (GET /map.js). Plain browser JavaScript. */
export const MAP_JS: string = `"use strict";
const GRID = ${GRID};
const svg = document.getElementById("map");
const NS = "http://www.w3.org/2000/svg";
for (let x = 0; x < GRID; x++) {
  for (let y = 0; y < GRID; y++) {
    const r = document.createElementNS(NS, "rect");
    r.setAttribute("class", "cell");
    r.setAttribute("x", x); r.setAttribute("y", y);
    r.setAttribute("width", 1); r.setAttribute("height", 1);
    r.setAttribute("stroke-width", 0.05);
    svg.appendChild(r);
  }
}
const colour = (s) => {
  let h = 0;
  for (const c of s) h = (h * 31 + c.charCodeAt(0)) % 360;
  return "hsl(" + h + ", 65%, 50%)";
};
const dots = new Map();
function place(p) {
  let g = dots.get(p.user);
  if (p.deleted) { if (g) { g.remove(); dots.delete(p.user); } listUsers(); return; }
  if (!g) {
    g = document.createElementNS(NS, "g");
    g.setAttribute("class", "dot");
    const c = document.createElementNS(NS, "circle");
    c.setAttribute("r", 0.4); c.setAttribute("fill", colour(p.user)); c.setAttribute("stroke-width", 0.08);
    const t = document.createElementNS(NS, "text");
    t.setAttribute("font-size", 0.6); t.textContent = p.user;
    g.append(c, t);
    svg.appendChild(g);
    dots.set(p.user, g);
  }
  g.dataset.user = p.user; g.dataset.x = p.x; g.dataset.y = p.y; g.dataset.via = p.via;
  g.querySelector("circle").setAttribute("cx", p.x + 0.5);
  g.querySelector("circle").setAttribute("cy", p.y + 0.5);
  g.querySelector("text").setAttribute("x", p.x + 1);
  g.querySelector("text").setAttribute("y", p.y + 0.7);
  listUsers();
}
function listUsers() {
  const ul = document.getElementById("users");
  ul.replaceChildren(...[...dots.values()].map((g) => {
    const li = document.createElement("li");
    li.textContent = g.dataset.user + " at (" + g.dataset.x + ", " + g.dataset.y + ") via " + g.dataset.via;
    return li;
  }));
}
const stream = document.getElementById("stream");
const events = new EventSource("/events");
events.addEventListener("hello", (e) => {
  const hello = JSON.parse(e.data);
  stream.textContent = "live via " + hello.instance;
  stream.dataset.instance = hello.instance;
  stream.className = "live";
});
events.addEventListener("position", (e) => place(JSON.parse(e.data)));
events.addEventListener("members", (e) => {
  const box = document.getElementById("members");
  box.replaceChildren(...JSON.parse(e.data).sort((a, b) => a.name < b.name ? -1 : 1).map((m) => {
    const span = document.createElement("span");
    span.className = "member " + m.state;
    span.dataset.name = m.name; span.dataset.state = m.state;
    span.textContent = m.name + " " + m.state;
    return span;
  }));
});
events.addEventListener("error", () => {
  stream.textContent = "reconnecting…";
  stream.className = "";
  delete stream.dataset.instance;
});
async function whoami() {
  const r = await fetch("/me");
  document.getElementById("page-instance").textContent = r.headers.get("x-served-by") || "?";
  const me = document.getElementById("me");
  if (r.ok) { const s = await r.json(); me.textContent = "logged in as " + s.user; me.dataset.user = s.user; }
}
document.getElementById("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = document.getElementById("name").value;
  const r = await fetch("/login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name }) });
  if (!r.ok) { alert((await r.json()).error); return; }
  await whoami();
});
svg.addEventListener("click", async (e) => {
  const box = svg.getBoundingClientRect();
  const x = Math.floor((e.clientX - box.left) / box.width * GRID);
  const y = Math.floor((e.clientY - box.top) / box.height * GRID);
  const r = await fetch("/position", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ x, y }) });
  if (!r.ok) alert((await r.json()).error);
});
whoami();
`;
