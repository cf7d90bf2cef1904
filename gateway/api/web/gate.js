// The gate page (served as a file: the pages' CSP admits no inline script). Live: today's verdicts on the sites'
// clock, newest first, joined by the stream. With a verdict or a time range in its address: that history, a page
// at a time. A gate and a lane in the address narrow everything on the page -- verdicts, waiting cards, lanes and
// doors -- live or not. Verdicts (and tailgates) that need a person wait: a count, the newest few as cards with what
// to do, the rest behind "show all"; acknowledged one by one, a lane's at once, or all at once. Each site's people
// inside, full or not. Each gate's lanes: their doors, a door fault said loudly, and "open once" with a reason.
"use strict";
const PASS_REFUSALS = ["no_pass", "wrong_gate", "used", "forged"];
const counts = {granted: 0, unknown: 0, spoof_suspected: 0, passback: 0, no_pass: 0, wrong_gate: 0, used: 0, forged: 0,
                full: 0, door_opened: 0, door_failed: 0, tailgate: 0};
const VERDICT = {granted: FG.t("granted"), unknown: FG.t("unknown"), spoof_suspected: FG.t("spoof suspected"),
                 passback: FG.t("passback"), tailgate: FG.t("tailgate"), no_pass: FG.t("no valid pass"),
                 wrong_gate: FG.t("not valid at this gate"), used: FG.t("already used"), forged: FG.t("forged ticket"),
                 full: FG.t("site full")};
const NEEDS_A_PERSON = ["unknown", "spoof_suspected", "passback", ...PASS_REFUSALS, "tailgate"];
const SHOWN_CARDS = 3;  // the newest waiting cards on screen; the others are a count until asked for
const concern = e => e.kind === "tailgate" ? "tailgate" : e.verdict;  // what a card is about
const address = new URLSearchParams(location.search);
const HISTORY = ["verdict", "since", "until"];  // a search of the past
const filtered = HISTORY.some(name => address.get(name));
const view = {device: address.get("device") || "", lane: address.get("lane") || ""};  // "gate-01/2": one lane
const inView = (device, lane) => (!view.device || device === view.device)
  && (!view.lane || `${device}/${lane}` === view.lane);
const form = document.getElementById("filters");
let instructions = {};
let me = {name: ""};  // who is logged in (FG.header)

function followUp(e) {
  if (!NEEDS_A_PERSON.includes(concern(e))) return "";
  const a = e.acknowledgement;
  return a ? FG.html`<span class="ok">${FG.t("acknowledged by {user}, {when}", {user: a.by, when: FG.time(a.at)})}</span>${a.note ? FG.html`<br><span class="muted">${a.note}</span>` : ""}`
    : FG.html`<span class="unknown">${FG.t("to deal with")}</span>`;
}
// A QR ticket by its pass, if it is one of the site's (a forged one names none).
const ticketName = e => e.pass_id ? FG.t("QR ticket {id}", {id: e.pass_id}) : FG.t("QR ticket");
function row(e, fresh) {
  const tr = document.createElement("tr");
  tr.dataset.id = e.id;
  if (fresh && e.verdict !== "granted") tr.className = "alert";
  const live = e.liveness_enabled ? (e.liveness ?? "") : FG.t("off");
  const person = e.method === "qr" ? ticketName(e) : e.subject ?? "—";
  FG.fill(tr, FG.html`<td>${filtered ? FG.dateTime(e.captured_at) : FG.time(e.captured_at)}</td><td>${e.device}${e.lane ? FG.html`<span class="muted"> · ${e.lane}</span>` : ""}</td>
    <td class="${e.verdict}">${VERDICT[e.verdict] || e.verdict}</td><td>${person}</td><td>${e.method === "qr" ? "" : Number(e.score).toFixed(2)}</td>
    <td>${e.method === "qr" ? "" : live}</td><td class="follow-up">${followUp(e)}</td>`);
  return tr;
}
// A card per verdict that needs a person: what happened, what to do, and the acknowledgement (with a note). Kept
// while it waits, so a note half typed survives the list being drawn again.
const cards = new Map();  // event id -> its card
const waiting = [];  // events waiting for someone, oldest first
let showAll = false;
function card(e) {
  if (cards.has(e.id)) return cards.get(e.id);
  const box = document.createElement("form");
  box.className = "follow-up-card";
  box.dataset.verdict = concern(e);
  box.dataset.id = e.id;
  const noteId = `note-${e.id}`;
  const who = e.method === "qr" ? ticketName(e) : e.subject || e.after_subject;
  // The face the gate saw, for an unknown or spoof (kept a day by the gateway; gone after, and never of anyone let in).
  const crop = e.crop_sha256 ? FG.html`<img class="crop" src="/api/events/${encodeURIComponent(e.id)}/crop" alt="${FG.t("the face the gate saw")}">` : "";
  FG.fill(box, FG.html`${crop}<p><b class="${concern(e)}">${VERDICT[concern(e)]}</b> — ${e.device}${e.lane ? FG.html`, ${FG.t("lane {n}", {n: e.lane})}` : ""}, ${FG.time(e.captured_at)}${who ? FG.html` (${who}${e.kind === "tailgate" || e.method === "qr" ? "" : "?"})` : ""}</p>
    <p>${instructions[concern(e)] || ""}</p>
    <p><label for="${noteId}">${FG.t("note (optional)")}</label> <input id="${noteId}" name="note" maxlength="2000">
    <button class="primary" type="submit">${FG.t("acknowledge")}</button> <span class="error" role="alert"></span></p>`);
  box.onsubmit = async event => {
    event.preventDefault();
    try {
      e.acknowledgement = await FG.api(`/api/events/${encodeURIComponent(e.id)}/acknowledge`, {method: "POST",
        body: JSON.stringify({note: box.elements.note.value})});
    } catch (err) {  // 409: someone at another PC acknowledged it first: nothing left to do here
      if (err.status !== 409) { box.querySelector(".error").textContent = err.message; return; }
    }
    dealtWith([e.id]);
  };
  const picture = box.querySelector("img.crop");
  if (picture) picture.onerror = () => picture.remove();  // past its day: the card goes on without it
  cards.set(e.id, box);
  return box;
}
// Gone from the waiting list (acknowledged here or elsewhere): its card goes, its row says who dealt with it.
function dealtWith(ids) {
  for (const id of ids) {
    const at = waiting.findIndex(w => w.id === id);
    if (at < 0) continue;
    const [e] = waiting.splice(at, 1);
    cards.delete(id);
    const cell = document.querySelector(`tr[data-id="${CSS.escape(id)}"] td.follow-up`);
    if (cell && e.acknowledgement) FG.fill(cell, followUp(e));
  }
  drawWaiting();
}
async function acknowledgeAll(events, note) {
  const done = await FG.api("/api/events/acknowledge", {method: "POST",
    body: JSON.stringify({events: events.map(e => e.id), note})});
  const at = new Date().toISOString();
  for (const e of events) if (done.acknowledged.includes(e.id)) e.acknowledgement = {by: me.name, at, note};
  dealtWith([...done.acknowledged, ...done.skipped]);
}
// The waiting list: how many, a button per lane with some (and one for all), the newest few as cards.
function drawWaiting() {
  const section = document.getElementById("follow-up");
  const mine = waiting.filter(e => inView(e.device, e.lane));
  if (!mine.length) { section.replaceChildren(); return; }
  const byLane = new Map();
  for (const e of mine) {
    const key = e.lane ? `${e.device}/${e.lane}` : e.device;
    byLane.set(key, [...(byLane.get(key) || []), e]);
  }
  const newest = [...mine].reverse();
  const shown = showAll ? newest : newest.slice(0, SHOWN_CARDS);
  FG.fill(section, FG.html`<div class="waiting-head"><h2>${FG.t("{n} waiting for someone", {n: mine.length})}</h2>
    <label><span class="sr-only">${FG.t("note for those acknowledged together")}</span><input id="bulk-note" maxlength="2000" placeholder="${FG.t("note (optional)")}" size="16"></label>
    <button type="button" class="primary" id="ack-all">${FG.t("acknowledge all {n}", {n: mine.length})}</button>
    ${mine.length > SHOWN_CARDS ? FG.html`<button type="button" id="show-all">${showAll ? FG.t("show the newest only") : FG.t("show all {n}", {n: mine.length})}</button>` : ""}</div>
    ${byLane.size > 1 ? FG.html`<div class="waiting-lanes">${[...byLane].map(([key, list]) => FG.html`<button type="button" data-lane="${key}">${FG.t("acknowledge {n} at {lane}", {n: list.length, lane: key.replace("/", " · ")})}</button>`)}</div>` : ""}
    <div id="waiting-cards"></div>`);
  document.getElementById("waiting-cards").append(...shown.map(card));
  const note = () => document.getElementById("bulk-note").value;
  document.getElementById("ack-all").onclick = () => acknowledgeAll(mine, note());
  const toggle = document.getElementById("show-all");
  if (toggle) toggle.onclick = () => { showAll = !showAll; drawWaiting(); };
  for (const button of section.querySelectorAll(".waiting-lanes button")) {
    button.onclick = () => acknowledgeAll(byLane.get(button.dataset.lane), note());
  }
}
function waitForSomeone(e, draw = true) {
  if (NEEDS_A_PERSON.includes(concern(e)) && !e.acknowledgement && !waiting.some(w => w.id === e.id)) {
    waiting.push(e);
    if (draw) drawWaiting();
  }
}
function show(counts) {
  for (const [name, n] of Object.entries(counts)) {
    const cell = document.getElementById("n-" + name);
    if (cell) cell.textContent = n;
  }
  document.getElementById("n-refused").textContent = PASS_REFUSALS.reduce((sum, v) => sum + (counts[v] || 0), 0);
}
function add(e, fresh) {
  const body = document.getElementById("verdicts");
  const mine = inView(e.device, e.lane);
  if (mine && (!filtered || !fresh)) fresh ? body.prepend(row(e, true)) : body.append(row(e, false));
  if (!fresh) return;
  counts[e.verdict] = (counts[e.verdict] || 0) + 1;
  show(counts);
  waitForSomeone(e);
  if (e.verdict !== "granted" && e.verdict !== "full" && mine) FG.beep();
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
    : FG.html`<span class="granted">${FG.t("opened for {person}", {person: e.subject || FG.t("a ticket holder")})}</span>${took}`;
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
  if (inView(e.device, e.lane)) fresh ? body.prepend(doorRow(e)) : body.append(doorRow(e));
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
  const every = list.filter(d => d.status !== "revoked").flatMap(d => ((d.last_heartbeat || {}).doors || []).map(door => ({d, door})));
  const choice = form.elements.lane;
  for (const {d, door} of every) {
    const key = `${d.id}/${door.lane}`;
    if (![...choice.options].some(o => o.value === key)) choice.add(new Option(FG.t("{device}, lane {n}", {device: d.name, n: door.lane}), key));
  }
  choice.value = view.lane;
  const rows = every.filter(({d, door}) => inView(d.id, door.lane));
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
      FG.fill(tr, FG.html`<td data-label="${FG.t("gate")}">${d.name}</td><td data-label="${FG.t("lane")}">${door.lane}</td><td class="door"></td><td class="state"></td><td class="open"></td>`);
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
// A gate whose clock is more than a minute off (the gateway's time minus its own, at its last heartbeat): its
// verdicts carry wrong times, and it checks passes' hours by that clock.
const CLOCK_OFF_S = 60;
function clockOff(d) {
  const skew = d.clock_skew_s;
  if (skew == null || Math.abs(skew) <= CLOCK_OFF_S) return "";
  const minutes = Math.round(Math.abs(skew) / 60);
  return skew > 0 ? FG.t("clock {n} min slow", {n: minutes}) : FG.t("clock {n} min fast", {n: minutes});
}
// Each site's people inside: how many, of how many allowed, full or not; an operator's count corrects it.
async function occupancy(background = false) {
  const sites = (await FG.api("/api/occupancy", {background})).filter(o => o.capacity != null || o.inside || o.peak);
  const section = document.getElementById("inside");
  for (const o of sites) {
    let box = section.querySelector(`[data-site="${CSS.escape(o.site)}"]`);
    if (!box) {
      box = document.createElement("div");
      box.className = "card inside-card";
      box.dataset.site = o.site;
      FG.fill(box, FG.html`<span class="what"></span><b class="count"></b><span class="full-sign" role="status"></span>
        <details><summary>${FG.t("correct the count")}</summary><form class="count-form">
        <label>${FG.t("people inside now")} <input name="inside" type="number" min="0" max="1000000" required size="6"></label>
        <label>${FG.t("why")} <input name="reason" maxlength="500" size="14"></label>
        <button type="submit">${FG.t("set the count")}</button> <span class="error" role="alert"></span></form></details>`);
      const countForm = box.querySelector("form");
      countForm.onsubmit = async event => {
        event.preventDefault();
        try {
          await FG.api(`/api/sites/${encodeURIComponent(o.site)}/occupancy`, {method: "PUT", body: JSON.stringify(
            {inside: Number(countForm.elements.inside.value), reason: countForm.elements.reason.value})});
          countForm.reset();
          countForm.querySelector(".error").textContent = "";
          box.querySelector("details").open = false;
          occupancy(true);
        } catch (err) { countForm.querySelector(".error").textContent = err.message; }
      };
      section.append(box);
    }
    box.classList.toggle("full", o.full);
    box.querySelector(".what").textContent = FG.t("inside {site}", {site: o.name});
    box.querySelector(".count").textContent = o.capacity != null ? FG.t("{n} of {capacity}", {n: o.inside, capacity: o.capacity}) : String(o.inside);
    box.querySelector(".full-sign").textContent = o.full ? FG.t("FULL: the gates let nobody in until someone leaves") : "";
  }
}
// A gate that is offline, checks no liveness, or has a door fault is said loudly, with when it was last heard from;
// of an offline gate, only that (what its last heartbeat said of liveness and doors may no longer hold).
async function devices(background = false) {
  const list = (await FG.api("/api/devices", {background})).filter(d => d.kind === "gate");
  FG.fill(document.getElementById("devices"), FG.html`${list.filter(d => inView(d.id, null) || view.lane.startsWith(d.id + "/")).map(d =>
    FG.html`<tr><td>${d.name}</td><td>${d.site}</td><td class="${d.online ? "online" : "offline"}">${d.status === "revoked" ? FG.t("revoked") : d.online ? FG.t("online") : FG.t("offline")}${d.online && clockOff(d) ? FG.html`<br><b class="offline">${clockOff(d)}</b>` : ""}</td>
    <td>${FG.dateTime(d.last_heartbeat_at)}</td><td>${d.last_heartbeat ? d.last_heartbeat.fps : ""}</td></tr>`)}`);
  // Said of the gates in view (all of them, unless the address names one or a lane).
  const problems = list.filter(d => d.status !== "revoked" && (inView(d.id, null) || view.lane.startsWith(d.id + "/"))).flatMap(d => [
    ...(d.online && clockOff(d) ? [FG.t("{device}: {problem}; the times it gives its verdicts are wrong, and so are its passes' hours", {device: d.name, problem: clockOff(d)})] : []),
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
    select.value = view.device || view.lane.split("/")[0];
  }
}
let cursor = null;
async function history() {
  const q = new URLSearchParams({kind: "verdict", limit: "50"});
  for (const name of [...HISTORY, "device"]) {
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
  const q = new URLSearchParams({kind: "verdict", limit: "100", since});
  if (view.device) q.set("device", view.device);
  const page = await FG.api("/api/events?" + q);
  page.events.forEach(e => add(e, false));
}
async function doorsToday(since) {
  const pages = await Promise.all(["door", "tailgate"].map(kind =>
    FG.api(`/api/events?kind=${kind}&limit=50&since=${encodeURIComponent(since)}`)));
  pages.flatMap(page => page.events).sort((a, b) => a.captured_at < b.captured_at ? 1 : -1).forEach(e => addDoor(e, false));
}
(async () => {
  for (const name of HISTORY) if (address.get(name)) form.elements[name].value = address.get(name);
  // Choosing a lane is choosing its gate too; another gate's lane is not kept.
  form.elements.lane.onchange = () => { if (form.elements.lane.value) form.elements.device.value = form.elements.lane.value.split("/")[0]; };
  form.elements.device.onchange = () => { if (!form.elements.lane.value.startsWith(form.elements.device.value + "/")) form.elements.lane.value = ""; };
  FG.dayFields(form);
  if (filtered) document.getElementById("list-title").textContent = FG.t("Verdicts found");
  // Everything at once: the rows do not wait for the counters, nor the counters for the rows.
  const midnight = FG.siteInstant(`${FG.date(new Date().toISOString())} 00:00`);  // today began there
  [me, instructions] = await Promise.all([FG.header("/gate"), FG.api("/api/events/instructions"), devices(), recount(),
                                        occupancy(), filtered ? history() : today(midnight)]);
  // Then, once the verdicts are on screen: what the doors did today, and today's verdicts and tailgates still
  // waiting for someone, oldest at the bottom (live or not: they need a person).
  const [pages] = await Promise.all([Promise.all(NEEDS_A_PERSON.map(what => FG.api(what === "tailgate"
    ? `/api/events?kind=tailgate&limit=500&since=${encodeURIComponent(midnight)}`
    : `/api/events?kind=verdict&verdict=${what}&limit=500&since=${encodeURIComponent(midnight)}`))), doorsToday(midnight)]);
  for (const e of pages.flatMap(page => page.events).sort((a, b) => a.captured_at < b.captured_at ? -1 : 1)) {
    waitForSomeone(e, false);
  }
  drawWaiting();
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
  setInterval(() => { devices(true); occupancy(true); }, 10000);
})();
