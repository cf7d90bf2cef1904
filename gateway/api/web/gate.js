// The gate page (served as a file: the pages' CSP admits no inline script). Live: today's verdicts on the sites'
// clock, newest first, joined by the stream. With filters in its address (gate, verdict, time range): that
// history, a page at a time. Verdicts that need a person wait in cards, with what to do, until acknowledged.
"use strict";
const counts = {granted: 0, unknown: 0, spoof_suspected: 0};
const VERDICT = {granted: FG.t("granted"), unknown: FG.t("unknown"), spoof_suspected: FG.t("spoof suspected")};
const NEEDS_A_PERSON = ["unknown", "spoof_suspected"];
const address = new URLSearchParams(location.search);
const FILTERS = ["device", "verdict", "since", "until"];
const filtered = FILTERS.some(name => address.get(name));
const form = document.getElementById("filters");
let instructions = {};

function followUp(e) {
  if (!NEEDS_A_PERSON.includes(e.verdict)) return "";
  const a = e.acknowledgement;
  return a ? FG.html`<span class="ok">${FG.t("acknowledged by {user}, {when}", {user: a.by, when: FG.time(a.at)})}</span>${a.note ? FG.html`<br><span class="muted">${a.note}</span>` : ""}`
    : FG.html`<span class="unknown">${FG.t("to deal with")}</span>`;
}
function row(e, fresh) {
  const tr = document.createElement("tr");
  tr.dataset.id = e.id;
  if (fresh && e.verdict !== "granted") tr.className = "alert";
  const live = e.liveness_enabled ? (e.liveness ?? "") : FG.t("off");
  FG.fill(tr, FG.html`<td>${filtered ? FG.dateTime(e.captured_at) : FG.time(e.captured_at)}</td><td>${e.device}</td>
    <td class="${e.verdict}">${VERDICT[e.verdict] || e.verdict}</td><td>${e.subject ?? "—"}</td><td>${Number(e.score).toFixed(2)}</td>
    <td>${live}</td><td class="follow-up">${followUp(e)}</td>`);
  return tr;
}
// A card per verdict that needs a person: what happened, what to do, and the acknowledgement (with a note).
function card(e) {
  const box = document.createElement("form");
  box.className = "follow-up-card";
  box.dataset.verdict = e.verdict;
  box.dataset.id = e.id;
  const noteId = `note-${e.id}`;
  FG.fill(box, FG.html`<p><b class="${e.verdict}">${VERDICT[e.verdict]}</b> — ${e.device}, ${FG.time(e.captured_at)}${e.subject ? FG.html` (${e.subject}?)` : ""}</p>
    <p>${instructions[e.verdict] || ""}</p>
    <p><label for="${noteId}">${FG.t("note (optional)")}</label> <input id="${noteId}" name="note" maxlength="2000">
    <button class="primary" type="submit">${FG.t("acknowledge")}</button> <span class="error" role="alert"></span></p>`);
  box.onsubmit = async event => {
    event.preventDefault();
    try {
      const ack = await FG.api(`/api/events/${encodeURIComponent(e.id)}/acknowledge`, {method: "POST",
        body: JSON.stringify({note: box.elements.note.value})});
      e.acknowledgement = ack;
    } catch (err) {  // 409: someone at another PC acknowledged it first: nothing left to do here
      if (err.status !== 409) { box.querySelector(".error").textContent = err.message; return; }
    }
    box.remove();
    const tr = document.querySelector(`#verdicts tr[data-id="${CSS.escape(e.id)}"] td.follow-up`);
    if (tr && e.acknowledgement) FG.fill(tr, followUp(e));
  };
  return box;
}
function waitForSomeone(e) {
  if (NEEDS_A_PERSON.includes(e.verdict) && !e.acknowledgement) document.getElementById("follow-up").prepend(card(e));
}
function show(counts) {
  for (const [verdict, n] of Object.entries(counts)) document.getElementById("n-" + verdict).textContent = n;
}
function add(e, fresh) {
  const body = document.getElementById("verdicts");
  if (!filtered || !fresh) fresh ? body.prepend(row(e, true)) : body.append(row(e, false));
  if (!fresh) return;
  counts[e.verdict] += 1;
  show(counts);
  waitForSomeone(e);
  if (e.verdict !== "granted") FG.beep();
}
// The day's counters come from the server (every verdict of the site's day, not what this page has seen); the
// live stream adds to them, and they are fetched again every few minutes and after midnight there.
async function recount(background = false) {
  const day = await FG.api("/api/events/counts", {background});
  Object.assign(counts, day.counts);
  show(counts);
}
// A gate that is offline or checks no liveness is said loudly, with when it was last heard from.
async function devices(background = false) {
  const list = (await FG.api("/api/devices", {background})).filter(d => d.kind === "gate");
  FG.fill(document.getElementById("devices"), FG.html`${list.map(d =>
    FG.html`<tr><td>${d.name}</td><td>${d.site}</td><td class="${d.online ? "online" : "offline"}">${d.status === "revoked" ? FG.t("revoked") : d.online ? FG.t("online") : FG.t("offline")}</td>
    <td>${FG.dateTime(d.last_heartbeat_at)}</td><td>${d.last_heartbeat ? d.last_heartbeat.fps : ""}</td></tr>`)}`);
  const problems = list.filter(d => d.status !== "revoked").flatMap(d => [
    ...(d.online ? [] : [d.last_heartbeat_at ? FG.t("{device} is offline: last heard from {when}", {device: d.name, when: FG.dateTime(d.last_heartbeat_at)})
                                             : FG.t("{device} is offline: never heard from", {device: d.name})]),
    ...(d.last_heartbeat && !d.last_heartbeat.liveness_enabled ? [FG.t("{device} runs WITHOUT liveness: a photo or a screen could pass", {device: d.name})] : [])]);
  const banner = document.getElementById("banner");
  banner.hidden = !problems.length;
  FG.fill(banner, FG.html`${problems.map(p => FG.html`<p>${p}</p>`)}`);
  const select = form.elements.device;
  if (select.options.length === 1) {
    for (const d of list) select.add(new Option(d.name, d.name));
    select.value = address.get("device") || "";
  }
}
let cursor = null;
async function history() {
  const q = new URLSearchParams({kind: "verdict", limit: "50"});
  for (const name of FILTERS) {
    const value = address.get(name);
    if (value) q.set(name, name === "since" || name === "until" ? FG.siteInstant(value) : value);
  }
  if (cursor) q.set("cursor", cursor);
  const page = await FG.api("/api/events?" + q);
  page.events.forEach(e => add(e, false));
  cursor = page.next_cursor;
  document.getElementById("older").hidden = !cursor;
  const shown = document.getElementById("verdicts").children.length;
  document.getElementById("status").textContent = shown ? FG.t("{n} verdicts shown", {n: shown}) : FG.t("no verdict matches");
}
document.getElementById("older").onclick = () => history();
async function today(since) {
  const page = await FG.api(`/api/events?kind=verdict&limit=100&since=${encodeURIComponent(since)}`);
  page.events.forEach(e => add(e, false));
}
(async () => {
  for (const name of FILTERS) if (address.get(name) && name !== "device") form.elements[name].value = address.get(name);
  FG.dayFields(form);
  if (filtered) document.getElementById("list-title").textContent = FG.t("Verdicts found");
  // Everything at once: the rows do not wait for the counters, nor the counters for the rows.
  const midnight = FG.siteInstant(`${FG.date(new Date().toISOString())} 00:00`);  // today began there
  [, instructions] = await Promise.all([FG.header("/gate"), FG.api("/api/events/instructions"), devices(), recount(),
                                        filtered ? history() : today(midnight)]);
  // Today's verdicts still waiting for someone, oldest at the bottom (live or not: they need a person).
  const waiting = await Promise.all(NEEDS_A_PERSON.map(verdict =>
    FG.api(`/api/events?kind=verdict&verdict=${verdict}&limit=20&since=${encodeURIComponent(midnight)}`)));
  waiting.flatMap(page => page.events).sort((a, b) => a.captured_at < b.captured_at ? -1 : 1).forEach(waitForSomeone);
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
  setInterval(() => devices(true), 10000);
})();
