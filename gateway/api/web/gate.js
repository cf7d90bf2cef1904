// The gate page (served as a file: the pages' CSP admits no inline script).
"use strict";
const counts = {granted: 0, unknown: 0, spoof_suspected: 0};
const VERDICT = {granted: FG.t("granted"), unknown: FG.t("unknown"), spoof_suspected: FG.t("spoof suspected")};
function row(e, fresh) {
  const tr = document.createElement("tr");
  tr.dataset.id = e.id;
  if (fresh && e.verdict !== "granted") tr.className = "alert";
  const live = e.liveness_enabled ? (e.liveness ?? "") : FG.t("off");
  FG.fill(tr, FG.html`<td>${FG.time(e.captured_at)}</td><td>${e.device}</td><td class="${e.verdict}">${VERDICT[e.verdict] || e.verdict}</td>
    <td>${e.subject ?? "—"}</td><td>${Number(e.score).toFixed(2)}</td><td>${live}</td>`);
  return tr;
}
function show(counts) {
  for (const [verdict, n] of Object.entries(counts)) document.getElementById("n-" + verdict).textContent = n;
}
function add(e, fresh) {
  const body = document.getElementById("verdicts");
  fresh ? body.prepend(row(e, true)) : body.append(row(e, false));
  if (!fresh) return;
  counts[e.verdict] += 1;
  show(counts);
  if (e.verdict !== "granted") FG.beep();
}
// The day's counters come from the server (every verdict of the site's day, not what this page has seen); the
// live stream adds to them, and they are fetched again every few minutes and after midnight there.
async function recount(background = false) {
  const day = await FG.api("/api/events/counts", {background});
  Object.assign(counts, day.counts);
  show(counts);
  return day;
}
async function devices(background = false) {
  const list = await FG.api("/api/devices", {background});
  FG.fill(document.getElementById("devices"), FG.html`${list.filter(d => d.kind === "gate").map(d =>
    FG.html`<tr><td>${d.name}</td><td>${d.site}</td><td class="${d.online ? "online" : "offline"}">${d.status === "revoked" ? FG.t("revoked") : d.online ? FG.t("online") : FG.t("offline")}</td>
    <td>${FG.time(d.last_heartbeat_at)}</td><td>${d.last_heartbeat ? d.last_heartbeat.fps : ""}</td></tr>`)}`);
}
(async () => {
  await FG.header("/gate");
  const day = await recount();
  const today = await FG.api(`/api/events?kind=verdict&limit=100&since=${encodeURIComponent(day.since)}`);
  today.events.forEach(e => add(e, false));
  setInterval(() => recount(true), 5 * 60 * 1000);
  const stream = new EventSource("/api/events/stream?kind=verdict");
  stream.onopen = () => { document.getElementById("live").textContent = FG.t("connected"); document.getElementById("live").className = "online"; };
  stream.onerror = () => {
    document.getElementById("live").textContent = FG.t("reconnecting"); document.getElementById("live").className = "offline";
    FG.api("/api/me", {background: true}).catch(() => {});  // a session that has ended goes to the login page
  };
  // The server ends the stream when the session expires or is logged out elsewhere: to the login page, not a
  // live page that silently stopped.
  stream.addEventListener("session-ended", () => { stream.close(); FG.toLogin(true); });
  stream.addEventListener("verdict", m => add(JSON.parse(m.data), true));
  devices(); setInterval(() => devices(true), 10000);
})();
