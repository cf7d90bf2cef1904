// The gate page (served as a file: the pages' CSP admits no inline script). Live: today's verdicts on the sites'
// clock, newest first, joined by the stream. With filters in its address (gate, verdict, time range): that
// history, a page at a time. Verdicts (and tailgates) that need a person wait in cards, with what to do, until
// acknowledged. Each gate's lanes: their doors, a door fault said loudly, and "open once" with a reason.
"use strict";
const counts = {granted: 0, unknown: 0, spoof_suspected: 0, passback: 0, door_opened: 0, door_failed: 0, tailgate: 0};
const VERDICT = {granted: FG.t("granted"), unknown: FG.t("unknown"), spoof_suspected: FG.t("spoof suspected"),
                 passback: FG.t("passback"), tailgate: FG.t("tailgate")};
const NEEDS_A_PERSON = ["unknown", "spoof_suspected", "passback", "tailgate"];
const concern = e => e.kind === "tailgate" ? "tailgate" : e.verdict;  // what a card is about
const address = new URLSearchParams(location.search);
const FILTERS = ["device", "verdict", "since", "until"];
const filtered = FILTERS.some(name => address.get(name));
const form = document.getElementById("filters");
let instructions = {};

function followUp(e) {
  if (!NEEDS_A_PERSON.includes(concern(e))) return "";
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
  box.dataset.verdict = concern(e);
  box.dataset.id = e.id;
  const noteId = `note-${e.id}`;
  const who = e.subject || e.after_subject;
  FG.fill(box, FG.html`<p><b class="${concern(e)}">${VERDICT[concern(e)]}</b> — ${e.device}${e.lane ? FG.html`, ${FG.t("lane {n}", {n: e.lane})}` : ""}, ${FG.time(e.captured_at)}${who ? FG.html` (${who}${e.kind === "tailgate" ? "" : "?"})` : ""}</p>
    <p>${instructions[concern(e)] || ""}</p>
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
    const tr = document.querySelector(`tr[data-id="${CSS.escape(e.id)}"] td.follow-up`);
    if (tr && e.acknowledgement) FG.fill(tr, followUp(e));
  };
  return box;
}
function waitForSomeone(e) {
  if (NEEDS_A_PERSON.includes(concern(e)) && !e.acknowledgement) document.getElementById("follow-up").prepend(card(e));
}
function show(counts) {
  for (const [name, n] of Object.entries(counts)) {
    const cell = document.getElementById("n-" + name);
    if (cell) cell.textContent = n;
  }
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
// A door controller's own words ("ConnectError: [Errno 111] Connection refused") are for maintenance: folded away
// under the operator's words, there to open and read out on the phone.
function technical(error) {
  return error ? FG.html`<details class="muted"><summary>${FG.t("technical detail")}</summary>${error}</details>` : "";
}
// What the doors did today, newest first: openings (by a grant or an operator), failures, tailgates.
function doorWhat(e) {
  if (e.kind === "tailgate") return FG.html`<span class="spoof_suspected">${FG.t("tailgate")}</span>: ${FG.t("someone followed {person} ({n} faces in view)", {person: e.after_subject || FG.t("a granted person"), n: e.boxes})}`;
  if (e.outcome === "failed") return FG.html`<span class="offline">${FG.t("door fault")}</span>${e.operator ? FG.html` (${FG.t("asked by {user}", {user: e.operator})})` : ""}${technical(e.error)}`;
  const took = e.latency_ms != null ? ` (${Math.round(e.latency_ms)} ms)` : "";
  return e.cause === "operator"
    ? FG.html`<span class="granted">${FG.t("opened by {user}", {user: e.operator})}</span>${took}: ${e.reason || ""}`
    : FG.html`<span class="granted">${FG.t("opened for {person}", {person: e.subject || "—"})}</span>${took}`;
}
function doorRow(e) {
  const tr = document.createElement("tr");
  tr.dataset.id = e.id;
  FG.fill(tr, FG.html`<td>${FG.time(e.captured_at)}</td><td>${e.device}</td><td>${e.lane}</td><td>${doorWhat(e)}</td><td class="follow-up">${followUp(e)}</td>`);
  return tr;
}
const faults = new Map();  // "device/lane" -> what the last failed opening said, until one works again
const orders = new Map();  // command id -> the status line of the lane that asked, or its door event if that came first
// The gate's answer to a command: it may arrive on the stream before the request that sent it has returned.
function confirm(e) {
  const asked = orders.get(e.command);
  if (!(asked instanceof Element)) { orders.set(e.command, e); return; }
  asked.textContent = e.outcome === "opened" ? FG.t("opened at {when}", {when: FG.time(e.captured_at)})
                                             : FG.t("not opened: {error}", {error: e.error || ""});
  asked.className = e.outcome === "opened" ? "ok" : "error";
  orders.delete(e.command);
}
function addDoor(e, fresh) {
  const body = document.getElementById("door-log");
  fresh ? body.prepend(doorRow(e)) : body.append(doorRow(e));
  if (!fresh) return;
  const lane = `${e.device}/${e.lane}`;
  if (e.kind === "door") {
    counts["door_" + e.outcome] += 1;
    e.outcome === "failed" ? faults.set(lane, e.error || "") : faults.delete(lane);
    if (e.command) confirm(e);
    if (e.outcome === "failed") { FG.beep(); devices(true); }
  } else {
    counts.tailgate += 1;
    waitForSomeone(e);
    FG.beep();
  }
  show(counts);
}
// "Open lane N once": the reason is required; the gate's own door event says whether it opened.
function openForm(d, door) {
  const form = document.createElement("form");
  form.className = "open-lane";
  const id = `reason-${d.id}-${door.lane}`;
  FG.fill(form, FG.html`<label for="${id}" class="sr-only">${FG.t("reason for opening lane {n} of {device}", {n: door.lane, device: d.name})}</label>
    <input id="${id}" name="reason" required minlength="3" maxlength="500" placeholder="${FG.t("reason")}" size="14">
    <button type="submit">${FG.t("open once")}</button> <span role="status"></span>`);
  form.onsubmit = async event => {
    event.preventDefault();
    const status = form.querySelector("[role=status]");
    status.className = "muted";
    status.textContent = FG.t("sending…");
    try {
      const order = await FG.api(`/api/devices/${encodeURIComponent(d.id)}/doors/${door.lane}/open`,
                                 {method: "POST", body: JSON.stringify({reason: form.elements.reason.value})});
      const answer = orders.get(order.command);
      orders.set(order.command, status);
      status.textContent = FG.t("sent: waiting for the gate…");
      form.elements.reason.value = "";
      if (answer) confirm(answer);
      // The stream may have been reconnecting when the answer came: after 3 s, ask the server for it.
      setTimeout(async () => {
        if (orders.get(order.command) !== status) return;
        const q = new URLSearchParams({kind: "door", device: d.id, since: order.issued_at, limit: "50"});
        const answer = (await FG.api("/api/events?" + q, {background: true})).events.find(e => e.command === order.command);
        if (answer) confirm(answer);
        else if (orders.get(order.command) === status) status.textContent = FG.t("no answer from the gate yet");
      }, 3000);
    } catch (err) {
      status.className = "error";
      status.textContent = err.message;
    }
  };
  return form;
}
function lanes(list) {
  const body = document.getElementById("lanes");
  const rows = list.filter(d => d.status !== "revoked").flatMap(d => ((d.last_heartbeat || {}).doors || []).map(door => ({d, door})));
  document.getElementById("no-lanes").hidden = rows.length > 0;
  // Rows are kept while the gate still has the lane: a reason half typed is not wiped by the next refresh.
  const seen = new Set();
  for (const {d, door} of rows) {
    const key = `${d.id}/${door.lane}`;
    seen.add(key);
    let tr = body.querySelector(`tr[data-lane="${CSS.escape(key)}"]`);
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.lane = key;
      FG.fill(tr, FG.html`<td>${d.name}</td><td>${door.lane}</td><td class="door"></td><td class="state"></td><td class="open"></td>`);
      tr.querySelector(".open").append(openForm(d, door));
      body.append(tr);
    }
    const fault = door.state === "fault" ? door.error || "" : faults.get(key);
    FG.fill(tr.querySelector(".door"), FG.html`${door.direction === "in" ? FG.t("in") : FG.t("out")}, ${door.fail_mode === "safe" ? FG.t("fail-safe (unlocks)") : FG.t("fail-secure (stays locked)")}${door.door ? FG.html`<br><span class="muted">${door.door === "open" ? FG.t("door open") : FG.t("door closed")}</span>` : ""}`);
    // An offline gate's last heartbeat is history: its lanes say the gate is offline, not how they were then.
    FG.fill(tr.querySelector(".state"), !d.online ? FG.html`<b class="offline">${FG.t("gate offline")}</b>`
      : fault !== undefined ? FG.html`<b class="offline">${FG.t("door fault")}</b>${technical(fault)}`
      : FG.html`<span class="online">${FG.t("ready")}</span>`);
  }
  for (const tr of [...body.children]) if (!seen.has(tr.dataset.lane)) tr.remove();
  return rows.filter(({d, door}) => d.online && (door.state === "fault" || faults.has(`${d.id}/${door.lane}`)))
    .map(({d, door}) => FG.t("Lane {n} of {device}: door fault. Let people through by hand and call maintenance.", {n: door.lane, device: d.name}));
}
// A gate that is offline, checks no liveness, or has a door fault is said loudly, with when it was last heard from;
// of an offline gate, only that (what its last heartbeat said of liveness and doors may no longer hold).
async function devices(background = false) {
  const list = (await FG.api("/api/devices", {background})).filter(d => d.kind === "gate");
  FG.fill(document.getElementById("devices"), FG.html`${list.map(d =>
    FG.html`<tr><td>${d.name}</td><td>${d.site}</td><td class="${d.online ? "online" : "offline"}">${d.status === "revoked" ? FG.t("revoked") : d.online ? FG.t("online") : FG.t("offline")}</td>
    <td>${FG.dateTime(d.last_heartbeat_at)}</td><td>${d.last_heartbeat ? d.last_heartbeat.fps : ""}</td></tr>`)}`);
  const problems = list.filter(d => d.status !== "revoked").flatMap(d => [
    ...(d.online ? [] : [d.last_heartbeat_at ? FG.t("{device} is offline: last heard from {when}", {device: d.name, when: FG.dateTime(d.last_heartbeat_at)})
                                             : FG.t("{device} is offline: never heard from", {device: d.name})]),
    ...(d.online && d.last_heartbeat && !d.last_heartbeat.liveness_enabled ? [FG.t("{device} runs WITHOUT liveness: a photo or a screen could pass", {device: d.name})] : [])]);
  problems.push(...lanes(list));
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
async function doorsToday(since) {
  const pages = await Promise.all(["door", "tailgate"].map(kind =>
    FG.api(`/api/events?kind=${kind}&limit=50&since=${encodeURIComponent(since)}`)));
  pages.flatMap(page => page.events).sort((a, b) => a.captured_at < b.captured_at ? 1 : -1).forEach(e => addDoor(e, false));
}
(async () => {
  for (const name of FILTERS) if (address.get(name) && name !== "device") form.elements[name].value = address.get(name);
  FG.dayFields(form);
  if (filtered) document.getElementById("list-title").textContent = FG.t("Verdicts found");
  // Everything at once: the rows do not wait for the counters, nor the counters for the rows.
  const midnight = FG.siteInstant(`${FG.date(new Date().toISOString())} 00:00`);  // today began there
  [, instructions] = await Promise.all([FG.header("/gate"), FG.api("/api/events/instructions"), devices(), recount(),
                                        filtered ? history() : today(midnight)]);
  // Then, once the verdicts are on screen: what the doors did today, and today's verdicts and tailgates still
  // waiting for someone, oldest at the bottom (live or not: they need a person).
  const [waiting] = await Promise.all([Promise.all(NEEDS_A_PERSON.map(what => FG.api(what === "tailgate"
    ? `/api/events?kind=tailgate&limit=20&since=${encodeURIComponent(midnight)}`
    : `/api/events?kind=verdict&verdict=${what}&limit=20&since=${encodeURIComponent(midnight)}`))), doorsToday(midnight)]);
  waiting.flatMap(page => page.events).sort((a, b) => a.captured_at < b.captured_at ? -1 : 1).forEach(waitForSomeone);
  setInterval(() => recount(true), 5 * 60 * 1000);
  const stream = new EventSource("/api/events/stream?kind=verdict&kind=door&kind=tailgate");
  stream.onopen = () => { document.getElementById("live").textContent = FG.t("connected"); document.getElementById("live").className = "online"; };
  stream.onerror = () => {
    document.getElementById("live").textContent = FG.t("reconnecting"); document.getElementById("live").className = "offline";
    FG.api("/api/me", {background: true}).catch(() => {});  // a session that has ended goes to the login page
  };
  // The server ends the stream when the session expires or is logged out elsewhere: to the login page, not a
  // live page that silently stopped.
  stream.addEventListener("session-ended", () => { stream.close(); FG.toLogin(true); });
  stream.addEventListener("verdict", m => add(JSON.parse(m.data), true));
  stream.addEventListener("door", m => addDoor(JSON.parse(m.data), true));
  stream.addEventListener("tailgate", m => addDoor(JSON.parse(m.data), true));
  setInterval(() => devices(true), 10000);
})();
