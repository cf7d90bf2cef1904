// The exam day (issue 27): the supervisor imports the council's list, schedules the day, and follows each room as a
// grid of its seats -- who sits there, and where they stand: waiting, checked in, in progress, flagged (with the
// flag's kind), finished. The grid follows the event stream (a session or a flag stored) and looks again every few
// seconds for check-ins at the door. A click on a seat opens its session on the review page; a candidate the door
// could not check in is checked in here by hand. Names, rooms and seats come from the council's file: untrusted,
// they reach the page only through FG.html or textContent.
"use strict";
const $ = id => document.getElementById(id);
const form = $("filters");
const address = new URLSearchParams(location.search);
const STATUS = {"waiting": FG.t("waiting"), "checked in": FG.t("checked in"), "in progress": FG.t("in progress"),
  "flagged": FG.t("flagged"), "finished": FG.t("finished"), "cancelled": FG.t("cancelled"), "absent": FG.t("absent")};
const FLAGS = {face_mismatch: FG.t("face mismatch"), no_face: FG.t("no face"), multiple_faces: FG.t("several faces"),
  camera_blocked: FG.t("camera blocked"), low_quality: FG.t("poor image"), presentation_attack: FG.t("presentation attack"),
  technical: FG.t("technical problem")};
const PROBLEMS = {not_listed: FG.t("not on this room's list"), face_elsewhere: FG.t("face registered under another card"), face_refused: FG.t("refused face processing"),
  not_matched: FG.t("face did not match the card"), photo_not_matched: FG.t("face did not match the list's photo"),
  photo_unusable: FG.t("the list's photo has no usable face"), not_live: FG.t("liveness not confirmed"), tampered: FG.t("card tampered"),
  clone_suspected: FG.t("card copy suspected"), expired_document: FG.t("card expired"), untrusted_issuer: FG.t("card issuer not trusted"),
  not_read: FG.t("card not read")};
let rows = [], byHand = null;
let wantedRoom = address.get("room");  // from the page's address: chosen once the day's rooms are known

function isoDay() {
  const day = FG.parseLocal(form.elements.day.value);
  return day ? `${day[0]}-${String(day[1]).padStart(2, "0")}-${String(day[2]).padStart(2, "0")}` : null;
}
function query(extra = {}) {
  return new URLSearchParams(Object.assign({site: form.elements.site.value, day: isoDay()}, extra));
}
async function load() {
  if (!form.elements.site.value || !isoDay()) return;
  const room = form.elements.room.value || wantedRoom;
  rows = await FG.api("/api/exam/candidates?" + query(room ? {room} : {}), {background: true});
  if (!form.elements.room.value) rooms(room ? await FG.api("/api/exam/candidates?" + query(), {background: true}) : rows);
  wantedRoom = null;
  draw();
  $("report-xlsx").href = "/api/exam/candidates/report.xlsx?" + query();
  $("report-pdf").href = "/api/exam/candidates/report.pdf?" + query();
}
// The room choice lists the rooms of the day's list.
function rooms(list) {
  const select = form.elements.room, chosen = select.value || wantedRoom;
  const names = [...new Set(list.map(r => r.room))].sort();
  FG.fill(select, FG.html`<option value="">${FG.t("every room")}</option>${names.map(n => FG.html`<option value="${n}">${n}</option>`)}`);
  select.value = names.includes(chosen) ? chosen : "";
}
function draw() {
  const counts = {};
  for (const r of rows) counts[r.status] = (counts[r.status] || 0) + 1;
  FG.fill($("counts"), FG.html`${Object.keys(STATUS).filter(s => counts[s]).map(s =>
    FG.html`<span class="card status-${s.replace(/ /g, "-")}"><b>${counts[s]}</b>${STATUS[s]}</span>`)}`);
  const groups = new Map();  // room -> slot -> rows, in the list's order
  for (const r of rows) {
    if (!groups.has(r.room)) groups.set(r.room, new Map());
    const slots = groups.get(r.room);
    if (!slots.has(r.slot)) slots.set(r.slot, []);
    slots.get(r.slot).push(r);
  }
  FG.fill($("rooms"), rows.length ? FG.html`${[...groups].map(([room, slots]) => FG.html`<section class="room"><h2>${room}</h2>
    ${[...slots].map(([slot, list]) => FG.html`<h3>${FG.t("slot {slot}", {slot})}</h3><ul class="seats">${list.map(seat)}</ul>`)}</section>`)}`
    : FG.html`<p class="muted">${FG.t("No candidate list for this centre and day: import the council's file above.")}</p>`);
  document.querySelectorAll("button.by-hand").forEach(b => b.onclick = () => openByHand(rows.find(r => r.id === b.dataset.id)));
}
function seat(r) {
  const kinds = r.flag_kinds.map(k => FLAGS[k] || k).join(", ");
  const how = r.checkin_method === "manual" ? FG.t("by hand") : r.checkin_method === "chip" ? FG.t("chip card and face") : "";
  const label = FG.html`<span class="seat-no">${r.seat ? FG.t("seat {seat}", {seat: r.seat}) : FG.t("no seat")}</span>
    <b>${r.name}</b><span class="muted">${r.number}</span>
    <span class="state">${STATUS[r.status] || r.status}${kinds ? FG.html`: <b>${kinds}</b>` : ""}</span>
    ${how ? FG.html`<span class="muted">${how} ${FG.time(r.checked_in_at).slice(0, 5)}</span>` : ""}
    ${r.checkin_problem ? FG.html`<span class="error">${PROBLEMS[r.checkin_problem] || r.checkin_problem}</span>` : ""}`;
  return FG.html`<li class="seat status-${r.status.replace(/ /g, "-")}" data-number="${r.number}">${r.session
    ? FG.html`<a href="/exam?session=${encodeURIComponent(r.session)}">${label}</a>` : label}
    ${r.status === "waiting" ? FG.html`<button type="button" class="by-hand" data-id="${r.id}">${FG.t("check in by hand")}</button>` : ""}</li>`;
}
function openByHand(r) {
  byHand = r;
  $("by-hand-title").textContent = FG.t("Check in {name} ({number}) by hand", {name: r.name, number: r.number});
  $("by-hand-error").textContent = "";
  $("by-hand-form").reset();
  $("by-hand").showModal();
}
async function saveByHand(event) {
  event.preventDefault();
  const data = new FormData($("by-hand-form"));
  try {
    await FG.api(`/api/exam/candidates/${encodeURIComponent(byHand.id)}/checkin`, {method: "POST",
      body: JSON.stringify({reason: data.get("reason"), note: data.get("note")})});
    $("by-hand").close();
    load();
  } catch (err) { $("by-hand-error").textContent = err.message; }
}
async function importList(event) {
  event.preventDefault();
  const file = $("import").elements.file.files[0];
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  const out = $("import-result");
  try {
    const done = await FG.api("/api/exam/candidates/import", {method: "POST", body: JSON.stringify(
      {site: form.elements.site.value, filename: file.name, content: btoa(binary)})});
    FG.fill(out, FG.html`<p class="ok">${FG.t("{rows} candidates: {added} added, {updated} updated, {unchanged} unchanged.", done)}</p>`);
    load();
  } catch (err) {
    const problems = err.body?.problems || [];
    FG.fill(out, FG.html`<p class="error">${err.message}</p>${problems.length ? FG.html`<table><thead><tr><th>${FG.t("row")}</th><th>${FG.t("field")}</th><th>${FG.t("problem")}</th></tr></thead>
      <tbody>${problems.map(p => FG.html`<tr><td>${p.row}</td><td>${p.field}</td><td>${p.message}</td></tr>`)}</tbody></table>` : ""}`);
  }
}
async function scheduleDay() {
  try {
    const room = form.elements.room.value || null;
    const done = await FG.api("/api/exam/candidates/schedule", {method: "POST",
      body: JSON.stringify({site: form.elements.site.value, day: isoDay(), room})});
    $("schedule-result").className = "ok";
    $("schedule-result").textContent = FG.t("{scheduled} seated now, {already} already seated.", done);
    load();
  } catch (err) { $("schedule-result").className = "error"; $("schedule-result").textContent = err.message; }
}
async function closeDay() {
  if (!confirm(FG.t("Close the day? Candidates not checked in are recorded as absent."))) return;
  try {
    const done = await FG.api("/api/exam/candidates/close", {method: "POST",
      body: JSON.stringify({site: form.elements.site.value, day: isoDay()})});
    $("close-result").className = "ok";
    $("close-result").textContent = FG.t("Day closed: {absent} absent.", done);
    load();
  } catch (err) { $("close-result").className = "error"; $("close-result").textContent = err.message; }
}
function follow() {
  let soon = null;
  const again = () => { clearTimeout(soon); soon = setTimeout(load, 300); };
  const stream = new EventSource("/api/events/stream?kind=exam.session&kind=exam.flag");
  stream.onopen = () => { $("live").textContent = FG.t("live"); };
  stream.onerror = () => { $("live").textContent = FG.t("reconnecting…"); };
  stream.addEventListener("session-ended", () => { stream.close(); FG.toLogin(true); });
  stream.addEventListener("exam.session", again);
  stream.addEventListener("exam.flag", again);
  setInterval(load, 5000);  // check-ins at the door are not events: look again every few seconds
}

(async () => {
  await FG.header("/exam/day");
  const sites = await FG.api("/api/sites");
  FG.fill(form.elements.site, FG.html`${sites.map(s => FG.html`<option value="${s.id}">${s.name}</option>`)}`);
  const today = FG.date(new Date().toISOString());
  for (const [name, value] of address) if (form.elements[name]) form.elements[name].value = value;
  if (!form.elements.day.value) form.elements.day.value = today;
  FG.dayFields(form);
  form.onsubmit = event => {
    event.preventDefault();
    history.replaceState(null, "", "/exam/day?" + new URLSearchParams({site: form.elements.site.value,
      day: form.elements.day.value, room: form.elements.room.value}));
    load();
  };
  $("import").onsubmit = importList;
  $("schedule").onclick = scheduleDay;
  $("close").onclick = closeDay;
  $("by-hand-form").onsubmit = saveByHand;
  $("by-hand-cancel").onclick = () => $("by-hand").close();
  await load();
  follow();
})();
