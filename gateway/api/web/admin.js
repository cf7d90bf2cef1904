// The admin page (served as a file: the pages' CSP admits no inline script). A refusal is said beside the field or
// the button it is about (FG.refused), and goes with the next success there.
"use strict";
const known = new Map();  // device id -> the device as last listed (the erasures say which are offline)
function bars(stages) {
  const entries = Object.entries(stages || {}).filter(([, v]) => v > 0);
  const max = Math.max(1, ...entries.map(([, v]) => v));
  return FG.html`<svg class="bars" width="220" height="${entries.length * 12}" role="img" aria-label="${FG.t("ms per frame by stage")}">${entries.map(([k, v], i) =>
    FG.html`<rect x="70" y="${i * 12 + 1}" width="${Math.max(1, 120 * v / max)}" height="9"></rect><text x="0" y="${i * 12 + 9}">${k}</text><text x="${74 + 120 * v / max}" y="${i * 12 + 9}">${Number(v).toFixed(1)}</text>`)}</svg>`;
}
// A device clock off by more than a minute makes its times unreliable: say so, and by how much.
function clock(d) {
  if (d.clock_skew_s === null || d.clock_skew_s === undefined || Math.abs(d.clock_skew_s) < 60) return "";
  const s = Math.abs(d.clock_skew_s), text = s >= 86400 ? FG.t("{n} days", {n: (s / 86400).toFixed(0)}) : s >= 3600 ? `${(s / 3600).toFixed(1)} h` : `${s.toFixed(0)} s`;
  return FG.html`<br><span class="error">${d.clock_skew_s > 0 ? FG.t("clock behind by {amount}", {amount: text}) : FG.t("clock ahead by {amount}", {amount: text})}</span>`;
}
// Each camera of a node: the share of its frames it keeps, how soon it decides, and why it stopped if it did.
function cameras(beat) {
  const list = beat.cameras || [];
  if (!list.length) return beat.camera_error ? FG.html`<br><span class="error">${FG.t("camera: {error}", {error: beat.camera_error})}</span>` : "";
  const behind = list.filter(c => c.behind).map(c => c.camera);
  return FG.html`${beat.over_capacity ? FG.html`<br><span class="error">${FG.t("over capacity: {cameras} cannot keep up", {cameras: behind.join(", ")})}</span>` : ""}
    <ul class="plain cameras">${list.map(c => FG.html`<li data-camera="${c.camera}">${FG.t("{camera} (lane {lane}): {fps} of {source_fps} fps", {camera: c.camera, lane: c.lane, fps: Number(c.fps).toFixed(1), source_fps: Number(c.source_fps).toFixed(1)})}${
      c.time_to_decision_ms === null || c.time_to_decision_ms === undefined ? "" : FG.html`, ${FG.t("decides in {ms} ms ({wall} ms on the clock)", {ms: Math.round(c.time_to_decision_ms), wall: c.time_to_decision_wall_ms === null ? "?" : Math.round(c.time_to_decision_wall_ms)})}`}${
      c.behind ? FG.html` <span class="error">${FG.t("behind")}</span>` : ""}${
      c.over_rate ? FG.html`<br><span class="muted">${FG.t("sends faster than its declared rate: {n} frames skipped", {n: c.over_rate})}</span>` : ""}${c.error ? FG.html`<br><span class="error">${FG.t("camera: {error}", {error: c.error})}</span>` : ""}</li>`)}</ul>`;
}
// The lanes a gate's last heartbeat reported: which way each opens, how it fails, and whether it works.
function doors(d) {
  const list = (d.last_heartbeat || {}).doors || [];
  if (!list.length) return "";
  return FG.html`<ul class="plain doors">${list.map(door => FG.html`<li data-lane="${d.id}/${door.lane}">${FG.t("lane {n}", {n: door.lane})}: ${door.kind}, ${door.direction === "in" ? FG.t("in") : FG.t("out")}, ${door.fail_mode === "safe" ? FG.t("fail-safe (unlocks)") : FG.t("fail-secure (stays locked)")} — ${
    !d.online ? FG.html`<span class="muted">${FG.t("gate offline")}</span>` : door.state === "fault"
      ? FG.html`<b class="offline">${FG.t("door fault")}</b>${door.error ? FG.html`<details class="muted"><summary>${FG.t("technical detail")}</summary>${door.error}</details>` : ""}`
      : FG.html`<span class="online">${FG.t("ready")}</span>`}</li>`)}</ul>`;
}
async function devices(background = false) {
  const list = await FG.api("/api/devices", {background});
  for (const d of list) known.set(d.id, d);
  configDevices(list);
  const kinds = {gate: FG.t("gate"), exam: FG.t("exam"), kiosk: FG.t("kiosk")};
  // An exam device's place at its centre: the schedule seats candidates on a room's devices in seat order.
  const place = d => d.kind !== "exam" || d.status !== "active" ? "" : FG.html`<br>${d.room ? FG.t("{room}, seat {seat}", {room: d.room, seat: d.seat}) : FG.html`<span class="muted">${FG.t("not placed")}</span>`}
    <button type="button" data-place="${d.id}" data-room="${d.room || ""}" data-seat="${d.seat || ""}">${FG.t("place")}</button>`;
  FG.fill(document.getElementById("devices"), FG.html`${list.map(d => FG.html`<tr data-device="${d.id}"><td>${d.name}</td><td>${d.site}</td><td>${kinds[d.kind] || d.kind}${place(d)}${doors(d)}</td>
    <td class="${d.online ? "online" : "offline"}">${d.status === "revoked" ? FG.t("revoked") : d.online ? FG.t("online") : FG.t("offline")}</td>
    <td>v${d.gallery_version} (${FG.t("{n} people", {n: d.gallery_size})})${d.gallery_pending ? FG.html` <span class="error">${FG.t("pending; device has v{version}", {version: d.gallery_applied_version})}</span>` : ""}</td>
    <td>${d.last_heartbeat ? FG.html`${FG.dateTime(d.last_heartbeat_at)}<br>${d.last_heartbeat.fps} fps, ${d.last_heartbeat.liveness_enabled ? FG.t("liveness on") : FG.html`<span class="error">${FG.t("liveness OFF")}</span>`}` : "—"}${clock(d)}${d.last_heartbeat ? cameras(d.last_heartbeat) : ""}</td>
    <td>${d.last_heartbeat ? bars(d.last_heartbeat.stage_ms) : ""}</td>
    <td>${d.status === "active" ? FG.html`<button data-revoke="${d.id}">${FG.t("revoke")}</button>` : ""}</td></tr>`)}`);
  document.querySelectorAll("[data-place]").forEach(b => b.onclick = async () => {
    const room = prompt(FG.t("Room of {device} (empty: take it out of the schedule)", {device: b.dataset.place}), b.dataset.room);
    if (room === null) return;
    const seat = room.trim() ? prompt(FG.t("Seat of {device} in {room}", {device: b.dataset.place, room}), b.dataset.seat) : "";
    if (seat === null) return;
    try {
      await FG.api(`/api/devices/${encodeURIComponent(b.dataset.place)}/place`, {method: "PUT",
        body: JSON.stringify(room.trim() ? {room, seat} : {room: null, seat: null})});
      devices();
    } catch (e) { FG.refused(b, e); }
  });
  document.querySelectorAll("[data-revoke]").forEach(b => b.onclick = async () => {
    if (!confirm(FG.t("Revoke {device}? It can no longer connect or publish.", {device: b.dataset.revoke}))) return;
    // A revoked device is no longer waited for: its erasures may complete at once.
    try { await FG.api(`/api/devices/${encodeURIComponent(b.dataset.revoke)}/revoke`, {method: "POST"}); devices(); erasures(); } catch (e) { FG.refused(b, e); }
  });
}
const PURPOSES = {gate: FG.t("gate"), exam: FG.t("exam")};
// The people, found by name or id and shown a page at a time (a site enrols thousands).
const PEOPLE_PAGE = 50;
const peopleView = {q: "", offset: 0};
async function people(background = false) {
  const q = new URLSearchParams({limit: PEOPLE_PAGE + 1, offset: peopleView.offset});
  if (peopleView.q) q.set("q", peopleView.q);
  const found = await FG.api("/api/subjects?" + q, {background});
  const subjects = found.slice(0, PEOPLE_PAGE);
  document.getElementById("people-next").hidden = found.length <= PEOPLE_PAGE;
  document.getElementById("people-back").hidden = peopleView.offset === 0;
  document.getElementById("people-status").textContent = subjects.length
    ? FG.t("{first}–{last} shown", {first: peopleView.offset + 1, last: peopleView.offset + subjects.length})
    : peopleView.q ? FG.t("nobody matches") : FG.t("nobody enrolled yet");
  // A consent per line, each withdrawn on its own: withdrawing the exam consent leaves the gate's.
  FG.fill(document.getElementById("subjects"), FG.html`${subjects.map(s => FG.html`<tr><td>${s.display_name}<br><span class="muted">${s.id}</span></td>
    <td>${s.consents.map((c, i) => FG.html`${i ? FG.html`<br>` : ""}${PURPOSES[c.purpose] || c.purpose} @ ${c.sites.join(", ")}${c.withdrawn_at
      ? FG.html` <span class="muted">(${FG.t("withdrawn {when}", {when: FG.dateTime(c.withdrawn_at)})})</span>`
      : FG.html` <button data-withdraw="${s.id}" data-purpose="${c.purpose}" data-name="${s.display_name}">${FG.t("withdraw")}</button>`}`)}</td></tr>`)}`);
  document.querySelectorAll("[data-withdraw]").forEach(b => b.onclick = async () => {
    const purpose = PURPOSES[b.dataset.purpose] || b.dataset.purpose;
    if (!confirm(FG.t("Withdraw the {purpose} consent of {name}? They are erased from every device that no longer has a consent for them.",
                      {purpose, name: b.dataset.name}))) return;
    try {
      await FG.api(`/api/subjects/${encodeURIComponent(b.dataset.withdraw)}/withdraw`, {method: "POST", body: JSON.stringify({purpose: b.dataset.purpose})});
      people(); erasures(); devices();
    } catch (e) { FG.refused(b, e); }
  });
}
document.getElementById("find-people").onsubmit = event => {
  event.preventDefault();
  peopleView.q = event.target.elements.q.value.trim();
  peopleView.offset = 0;
  people();
};
document.getElementById("people-next").onclick = () => { peopleView.offset += PEOPLE_PAGE; people(); };
document.getElementById("people-back").onclick = () => { peopleView.offset = Math.max(0, peopleView.offset - PEOPLE_PAGE); people(); };
// Why an erasure still waits on a device, when the reason is that it is offline: it is erased there when it
// reconnects (or when an admin revokes it).
function offline(device) {
  const d = known.get(device);
  if (!d || d.online || d.status === "revoked") return "";
  return FG.html` <span class="offline">${d.last_heartbeat_at ? FG.t("the device is offline (last heard from {when}): it erases the person when it reconnects", {when: FG.dateTime(d.last_heartbeat_at)})
    : FG.t("the device is offline and was never heard from: it erases the person when it connects")}</span>`;
}
// Erasures complete as the devices confirm: looked at every 2 s while one is waiting, every 10 s otherwise.
let erasuresWaiting = false, erasuresAt = 0;
async function erasures(background = false) {
  erasuresAt = Date.now();
  // Newest first: each device's part, "erased" once it runs a gallery without the person (revoked devices are
  // no longer waited for: they can no longer receive a gallery).
  const recent = (await FG.api("/api/erasures", {background})).slice(-20).reverse();
  erasuresWaiting = recent.some(e => !e.completed_at);
  FG.fill(document.getElementById("erasures"), recent.length ? FG.html`${recent.map(e => FG.html`<tr class="erasure" data-subject="${e.subject}">
    <td>${e.subject}</td><td>${FG.dateTime(e.requested_at)}</td>
    <td>${e.completed_at ? FG.html`<b class="ok">${FG.t("completed {when}", {when: FG.dateTime(e.completed_at)})}</b>` : FG.html`<b class="unknown">${FG.t("waiting")}</b>`}
    <ul class="plain">${Object.entries(e.devices).map(([device, d]) => FG.html`<li>${device}: ${d.confirmed_at
      ? FG.html`<span class="ok">${FG.t("erased {when}", {when: FG.dateTime(d.confirmed_at)})}</span>`
      : FG.html`<span class="unknown">${FG.t("waiting")}</span>${offline(device)}`}</li>`)}</ul></td></tr>`)}`
    : FG.html`<tr><td colspan="3" class="muted">${FG.t("none")}</td></tr>`);
}
setInterval(() => (erasuresWaiting || Date.now() - erasuresAt >= 10000) && erasures(true).catch(() => {}), 2000);
setInterval(() => people(true).catch(() => {}), 10000);
// A kiosk comes with its own login (named as the device: the kiosk's screen signs in with it once) and its set-up.
const provisionForm = document.getElementById("provision");
provisionForm.elements.kind.onchange = () => {
  const kiosk = provisionForm.elements.kind.value === "kiosk";
  document.getElementById("kiosk-fields").hidden = !kiosk;
  provisionForm.elements.password.required = kiosk;
};
provisionForm.onsubmit = async event => {
  event.preventDefault();
  const {password, purpose, ticket_days, ...data} = Object.fromEntries(new FormData(event.target));
  const kiosk = data.kind === "kiosk";
  try {
    const answer = kiosk
      ? await FG.api("/api/kiosks", {method: "POST", body: JSON.stringify({site: data.site, name: data.name,
          broker_url: data.broker_url, password, purpose, ticket_days: Number(ticket_days)})})
      : await FG.api("/api/devices", {method: "POST", body: JSON.stringify(data)});
    const login = document.getElementById("kiosk-login");
    login.hidden = !kiosk;
    login.textContent = kiosk ? FG.t("The kiosk's screen signs in as {login} with the password you gave; it then shows the kiosk page and nothing else.", {login: answer.login}) : "";
    event.target.elements.password.value = "";
    // Shown once: the key is in it and the gateway keeps no copy. Offered as the file the device installs.
    document.getElementById("bundle-box").hidden = false;
    document.getElementById("bundle").textContent = answer.bundle_toml;
    const link = document.getElementById("bundle-download");
    link.href = URL.createObjectURL(new Blob([answer.bundle_toml], {type: "application/toml"}));
    link.download = `${data.name}.toml`;
    FG.cleared(event.target);
    devices();
    if (kiosk) users(me);
  } catch (e) { FG.refused(event.target, e); }
};
const base64 = file => new Promise((ok, fail) => { const r = new FileReader(); r.onload = () => ok(r.result.split(",")[1]); r.onerror = fail; r.readAsDataURL(file); });
// One photo: the name and id typed beside it (the id made from the name if left empty). Several: each file's
// name (without extension, in any script: "Trần Thị Bình.jpg") is the person's name, and their ids are made.
document.getElementById("enrol").onsubmit = async event => {
  event.preventDefault();
  const form = new FormData(event.target);
  const results = document.getElementById("results");
  const photos = form.getAll("photos"), one = photos.length === 1;
  const [purpose, ...more] = form.getAll("purpose");  // one consent per purpose ticked: each withdrawn on its own
  const sites = form.get("sites").split(",").map(s => s.trim()).filter(Boolean);
  const consent = {sites, notice_version: form.get("notice_version"), channel: form.get("channel")};
  if (!purpose) { FG.refused(event.target, new Error(FG.t("Tick at least one purpose the person consented to."))); return; }
  FG.cleared(event.target);
  for (const file of photos) {
    const name = (one && form.get("display_name").trim()) || file.name.replace(/\.[^.]+$/, "");
    const subject = (one && form.get("subject").trim()) || undefined;
    const tr = document.createElement("tr");
    FG.fill(tr, FG.html`<td>${file.name}</td><td>${name}</td><td class="muted">${FG.t("enrolling…")}</td>`);
    results.prepend(tr);
    try {
      const answer = await FG.api("/api/subjects", {method: "POST", body: JSON.stringify({
        subject, display_name: name, photo: await base64(file), purpose, ...consent})});
      for (const other of more) {
        await FG.api(`/api/subjects/${encodeURIComponent(answer.subject)}/consents`, {method: "POST",
          body: JSON.stringify({purpose: other, ...consent})});
      }
      tr.lastChild.className = "ok";
      tr.lastChild.textContent = FG.t("enrolled as {id} (quality {quality})", {id: answer.subject, quality: answer.quality});
    } catch (e) { tr.lastChild.className = "error"; tr.lastChild.textContent = FG.t("refused: {reason}", {reason: e.message}); }
  }
  people(); devices();
};
// Sites and users: added here, users given a role, disabled or a new password (each ends their sessions).
// Each site's capacity (the most inside at once; empty: no limit): at it, the gates' in-lanes answer "full".
async function sites() {
  const [list, counts] = await Promise.all([FG.api("/api/sites"), FG.api("/api/occupancy")]);
  const capacity = Object.fromEntries(counts.map(o => [o.site, o.capacity]));
  FG.fill(document.getElementById("sites"), FG.html`${list.map(s => FG.html`<tr><td>${s.id}</td><td>${s.name}</td>
    <td><form class="capacity" data-site="${s.id}"><label><span class="sr-only">${FG.t("capacity of {site}", {site: s.name})}</span>
    <input name="capacity" type="number" min="1" max="1000000" size="6" value="${capacity[s.id] ?? ""}" placeholder="${FG.t("no limit")}"></label>
    <button type="submit">${FG.t("set")}</button></form></td></tr>`)}`);
  document.querySelectorAll("form.capacity").forEach(form => form.onsubmit = async event => {
    event.preventDefault();
    const value = form.elements.capacity.value;
    try {
      await FG.api(`/api/sites/${encodeURIComponent(form.dataset.site)}/capacity`, {method: "PUT",
        body: JSON.stringify({capacity: value ? Number(value) : null})});
      FG.cleared(form);
    } catch (e) { FG.refused(form, e); }
  });
  for (const select of document.querySelectorAll("select[name=site]")) {
    const chosen = select.value;
    select.replaceChildren(...list.map(s => new Option(s.name || s.id, s.id)));
    if (chosen) select.value = chosen;
  }
  ticketTypes();
}
// A site's kinds of ticket, and the passes sold on them (the ticketing system sells through the API; the counter
// here). A QR pass's ticket opens as its printable image.
const KINDS = {single: FG.t("single entry"), day: FG.t("day"), days: FG.t("several days"), season: FG.t("season")};
let types = [];
async function ticketTypes() {
  const bySite = await Promise.all([...document.querySelectorAll("#add-ticket-type select[name=site] option")].map(o =>
    FG.api(`/api/sites/${encodeURIComponent(o.value)}/ticket-types`)));
  types = bySite.flat();
  FG.fill(document.getElementById("ticket-types"), FG.html`${types.map(t => FG.html`<tr><td>${t.site}</td><td>${t.code}</td><td>${t.name}</td>
    <td>${KINDS[t.kind]}${t.kind === "days" || t.kind === "season" ? FG.html`, ${FG.t("{n} days", {n: t.days})}` : ""}</td>
    <td>${t.gates.length ? t.gates.join(", ") : FG.t("all")}</td>
    <td><button type="button" data-type="${t.site}/${t.code}" data-sold="${t.sold ? "false" : "true"}">${t.sold ? FG.t("stop selling") : FG.t("sell again")}</button></td></tr>`)}`);
  document.querySelectorAll("[data-type]").forEach(b => b.onclick = async () => {
    const [site, code] = b.dataset.type.split("/");
    try { await FG.api(`/api/sites/${encodeURIComponent(site)}/ticket-types/${encodeURIComponent(code)}`, {method: "PATCH", body: JSON.stringify({sold: b.dataset.sold === "true"})}); ticketTypes(); }
    catch (e) { FG.refused(b, e); }
  });
  const sell = document.getElementById("sell");
  const offer = () => sell.elements.ticket_type.replaceChildren(...types.filter(t => t.sold && t.site === sell.elements.site.value).map(t => new Option(t.name, t.code)));
  sell.elements.site.onchange = offer;
  offer();
  passes();
}
async function passes() {
  const list = await FG.api("/api/passes?limit=20");
  const name = p => (types.find(t => t.site === p.site && t.code === p.ticket_type) || {}).name || p.ticket_type;
  FG.fill(document.getElementById("passes"), FG.html`${list.map(p => FG.html`<tr data-pass="${p.id}"><td>${p.id}${p.group ? FG.html`<br><span class="muted">${FG.t("group {id}", {id: p.group})}</span>` : ""}</td>
    <td>${name(p)}</td><td>${p.holder === "qr" ? FG.html`<a href="/api/passes/${p.id}/ticket.png" target="_blank" rel="noopener">${FG.t("QR ticket")}</a>` : p.subject}</td>
    <td>${FG.date(p.valid_from)} – ${FG.dateTime(p.valid_until)}</td><td>${p.entries == null ? p.used : `${p.used} / ${p.entries}`}</td>
    <td>${p.status === "cancelled" ? FG.html`<span class="muted">${FG.t("cancelled")}</span>` : FG.html`<button type="button" data-cancel="${p.id}">${FG.t("cancel")}</button>`}</td></tr>`)}`);
  document.querySelectorAll("[data-cancel]").forEach(b => b.onclick = async () => {
    if (!confirm(FG.t("Cancel pass {id}? The gates refuse it from their next update.", {id: b.dataset.cancel}))) return;
    try { await FG.api(`/api/passes/${encodeURIComponent(b.dataset.cancel)}/cancel`, {method: "POST", body: JSON.stringify({})}); passes(); }
    catch (e) { FG.refused(b, e); }
  });
}
document.getElementById("add-ticket-type").onsubmit = async event => {
  event.preventDefault();
  const f = event.target.elements;
  const body = {code: f.code.value, name: f.name.value, kind: f.kind.value, days: f.days.value ? Number(f.days.value) : null,
                gates: f.gates.value.split(",").map(g => g.trim()).filter(Boolean)};
  try {
    await FG.api(`/api/sites/${encodeURIComponent(f.site.value)}/ticket-types`, {method: "POST", body: JSON.stringify(body)});
    FG.cleared(event.target);
    for (const name of ["code", "name", "days", "gates"]) f[name].value = "";
    ticketTypes();
  } catch (e) { FG.refused(event.target, e); }
};
document.getElementById("sell").onsubmit = async event => {
  event.preventDefault();
  const f = event.target.elements;
  const sale = {site: f.site.value, ticket_type: f.ticket_type.value, first_day: f.first_day.value || null};
  try {
    if (f.members.value) {
      await FG.api("/api/passes/groups", {method: "POST", body: JSON.stringify({...sale, members: Number(f.members.value), guide: f.subject.value.trim() || null})});
    } else {
      await FG.api("/api/passes", {method: "POST", body: JSON.stringify({...sale, subject: f.subject.value.trim() || null})});
    }
    FG.cleared(event.target);
    f.subject.value = f.members.value = "";
    passes();
  } catch (e) { FG.refused(event.target, e); }
};
const ROLES = ["operator", "supervisor", "auditor", "admin"];  // a kiosk's and a ticketing system's logins keep theirs
async function users(me) {
  const list = await FG.api("/api/users");
  // A kiosk's login keeps its role (it is made with its kiosk): it shows its kiosk instead of a choice.
  FG.fill(document.getElementById("users"), FG.html`${list.map(u => FG.html`<tr data-user="${u.name}"><td>${u.name}</td>
    <td>${u.role === "kiosk" || u.role === "ticketing" ? FG.html`${FG.role(u.role)} (${u.device || u.site})` : FG.html`<label><span class="sr-only">${FG.t("role of {user}", {user: u.name})}</span><select name="role">${ROLES.map(r =>
      FG.html`<option value="${r}"${r === u.role ? FG.html` selected` : ""}>${FG.role(r)}</option>`)}</select></label>`}</td>
    <td>${u.disabled ? FG.html`<span class="unknown">${FG.t("disabled")}</span>` : FG.t("active")}
      ${u.name === me.name ? "" : FG.html` <button type="button" data-disable="${u.disabled ? "false" : "true"}">${u.disabled ? FG.t("enable") : FG.t("disable")}</button>`}</td>
    <td><form class="password"><label><span class="sr-only">${FG.t("new password for {user}", {user: u.name})}</span>
      <input name="password" type="password" minlength="10" required autocomplete="new-password"></label> <button type="submit">${FG.t("set")}</button></form></td></tr>`)}`);
  const change = async (name, body, where) => {
    try { await FG.api(`/api/users/${encodeURIComponent(name)}`, {method: "PATCH", body: JSON.stringify(body)}); }
    catch (e) { FG.refused(where, e); return; }
    users(me);
  };
  document.querySelectorAll("#users tr[data-user]").forEach(tr => {
    const name = tr.dataset.user;
    const role = tr.querySelector("select[name=role]");
    if (role) role.onchange = event => change(name, {role: event.target.value}, role.closest("label"));
    const toggle = tr.querySelector("[data-disable]");
    if (toggle) toggle.onclick = () => change(name, {disabled: toggle.dataset.disable === "true"}, toggle);
    tr.querySelector("form.password").onsubmit = event => {
      event.preventDefault();
      change(name, {password: event.target.elements.password.value}, event.target);
    };
  });
}
document.getElementById("add-site").onsubmit = async event => {
  event.preventDefault();
  const data = Object.fromEntries(new FormData(event.target));
  try { await FG.api("/api/sites", {method: "POST", body: JSON.stringify(data)}); event.target.reset(); FG.cleared(event.target); sites(); }
  catch (e) { FG.refused(event.target, e); }
};
let me = null;
// A ticketing system's login is bound to its site: the site is asked for that role alone.
const addUser = document.getElementById("add-user");
addUser.elements.role.onchange = () => { document.getElementById("user-site").hidden = addUser.elements.role.value !== "ticketing"; };
addUser.onsubmit = async event => {
  event.preventDefault();
  const {site, ...data} = Object.fromEntries(new FormData(event.target));
  if (data.role === "ticketing") data.site = site;
  try {
    await FG.api("/api/users", {method: "POST", body: JSON.stringify(data)});
    event.target.reset();
    addUser.elements.role.onchange();
    FG.cleared(event.target);
    users(me);
  } catch (e) { FG.refused(event.target, e); }
};
// The fleet at a glance: per site, devices online, whose configuration is current, lagging or refused, which
// release and pack run; below, each device that needs someone, and why (a device's reason is its own words: text).
let fleetNow = {sites: [], devices: []};
async function fleetView(background = false) {
  const f = fleetNow = await FG.api("/api/fleet", {background});
  const siteChoice = document.getElementById("fleet-change").elements.site;
  const chosenSite = siteChoice.value;
  FG.fill(siteChoice, FG.html`<option value="">${FG.t("every site")}</option>${f.sites.map(s => FG.html`<option value="${s.site}">${s.site}</option>`)}`);
  siteChoice.value = chosenSite;
  const states = {current: FG.t("current"), lagging: FG.t("lagging"), refused: FG.t("refused"), local: FG.t("local file")};
  // Each cell says what it counts: on a phone the table stacks and its headings are not shown.
  const tally = (counts, name) => FG.html`<ul class="plain">${Object.entries(counts).sort().map(([what, n]) => FG.html`<li>${name(what)}: ${n}</li>`)}</ul>`;
  const release = what => what === "?" ? FG.t("release not said yet") : `FaceGate ${what}`;
  FG.fill(document.getElementById("fleet-sites"), FG.html`${f.sites.map(s => FG.html`<tr><td>${s.site}</td>
    <td class="${s.online < s.devices ? "offline" : "online"}">${FG.t("{online} of {devices} online", {online: s.online, devices: s.devices})}</td>
    <td><ul class="plain">${Object.keys(states).filter(k => s.configs[k]).map(k => FG.html`<li class="${k === "current" ? "ok" : k === "local" ? "muted" : "error"}">${states[k]}: ${s.configs[k]}</li>`)}</ul></td>
    <td>${tally(s.software, release)}</td><td>${tally(s.packs, pack => FG.t("pack {pack}", {pack}))}</td></tr>`)}`);
  const why = d => d.config_state === "refused" ? FG.t("refused configuration v{latest}: {reason}; runs v{running}", {latest: d.config_latest, reason: d.reason || "", running: d.config_running ?? 0})
    : d.config_state === "lagging" ? FG.t("has not applied configuration v{latest} (sent {when})", {latest: d.config_latest, when: FG.dateTime(d.since)})
    : d.last_heartbeat_at ? FG.t("offline since {when}", {when: FG.dateTime(d.last_heartbeat_at)}) : FG.t("never connected");
  const pack = d => d.update_kind === "software"
    ? (d.update_state === "refused" ? FG.t("refused release {version}: {reason}", {version: d.update_version, reason: d.update_reason || ""})
      : FG.t("has not answered release {version} yet", {version: d.update_version}))
    : (d.update_state === "refused" ? FG.t("refused pack v{version}: {reason}; runs v{running}", {version: d.update_version, reason: d.update_reason || "", running: d.pack_version ?? 0})
      : FG.t("has not answered pack v{version} yet", {version: d.update_version}));
  // What needs someone about a device: offline, or its configuration; and its pack update.
  const troubles = d => [!d.online || ["lagging", "refused"].includes(d.config_state) ? why(d) : null,
    ["updating", "refused"].includes(d.update_state) ? pack(d) : null].filter(Boolean);
  const attention = f.devices.filter(d => troubles(d).length);
  FG.fill(document.getElementById("fleet-attention"), attention.length
    ? FG.html`${attention.map(d => FG.html`<li><b>${d.id}</b> (${d.site}): <span class="error">${troubles(d).join("; ")}</span></li>`)}`
    : FG.html`<li class="ok">${FG.t("every device online and on its newest configuration")}</li>`);
}

// Rollouts of model packs and FaceGate releases: each stage's devices and what they made of it; a running one can be stopped (its devices go
// back). A device's reason is its own words: text.
async function rollouts(background = false) {
  const [list, packs, releases] = await Promise.all([FG.api("/api/rollouts", {background}), FG.api("/api/packs", {background}), FG.api("/api/releases", {background})]);
  const choice = document.getElementById("rollout-start").elements.pack, chosen = choice.value;
  FG.fill(choice, FG.html`${packs.map(p => FG.html`<option value="pack:${p.name}@${p.version}">${FG.t("{pack} version {version}, published {when}", {pack: p.name, version: p.version, when: FG.dateTime(p.published_at)})}</option>`)}
    ${releases.map(r => FG.html`<option value="software:facegate@${r.version}">${FG.t("FaceGate {release}, published {when}", {release: r.release, when: FG.dateTime(r.published_at)})}</option>`)}`);
  if (chosen) choice.value = chosen;
  const states = {running: FG.t("running"), done: FG.t("done"), stopped: FG.t("stopped")};
  const stage = (devices, n) => {
    const count = what => devices.filter(what).length;
    const parts = [[count(d => d.outcome === "applied"), FG.t("applied")], [count(d => d.outcome === "refused"), FG.t("refused")],
      [count(d => !d.outcome), FG.t("not answered")], [count(d => d.rolled_back), FG.t("sent back")]].filter(([k]) => k);
    return FG.html`<li>${FG.t("stage {n}", {n})} (${devices.length}): ${parts.map(([k, word]) => `${word} ${k}`).join(", ")}</li>`;
  };
  FG.fill(document.getElementById("rollouts"), list.length ? FG.html`${list.map(r => FG.html`<tr data-rollout="${r.id}">
    <td>${r.kind === "software" ? `FaceGate ${r.release}` : `${r.name} v${r.version}`}<br><span class="muted">${FG.dateTime(r.created_at)}, ${r.created_by}</span></td>
    <td>${FG.t("stage {stage} of {stages}", {stage: r.stage, stages: r.stages.length})}</td>
    <td><ul class="plain">${r.stages.map((devices, i) => stage(devices, i + 1))}</ul></td>
    <td><span class="${r.state === "stopped" ? "error" : r.state === "done" ? "ok" : ""}">${states[r.state] || r.state}</span>${r.reason ? FG.html`<br><span class="error">${r.reason}</span>` : ""}</td>
    <td>${r.state === "running" ? FG.html`<button type="button" data-stop="${r.id}">${FG.t("stop and send back")}</button>` : ""}</td></tr>`)}`
    : FG.html`<tr><td colspan="5" class="muted">${FG.t("no rollout yet")}</td></tr>`);
  document.querySelectorAll("[data-stop]").forEach(b => b.onclick = async () => {
    const reason = prompt(FG.t("Why stop this rollout? Every device that took it goes back to what it ran before."));
    if (!reason) return;
    try { await FG.api(`/api/rollouts/${b.dataset.stop}/stop`, {method: "POST", body: JSON.stringify({reason})}); rollouts(); fleetView(); } catch (e) { FG.refused(b, e); }
  });
}
document.getElementById("rollout-start").onsubmit = async event => {
  event.preventDefault();
  const form = event.target, [what, version] = form.elements.pack.value.split("@"), [kind, name] = what.split(":");
  // "gate-01, gate-02; site:site-b; 25%": the devices named, a site, a share of the fleet
  const stages = form.elements.stages.value.split(";").map(s => s.trim()).filter(Boolean).map(s =>
    s.endsWith("%") ? {share: Number(s.slice(0, -1))} : s.startsWith("site:") ? {site: s.slice(5).trim()} : {devices: s.split(/[\s,]+/).filter(Boolean)});
  if (!confirm(FG.t("Roll out {what} in {n} stages?", {what: form.elements.pack.selectedOptions[0].textContent, n: stages.length + (form.elements.rest.checked ? 1 : 0)}))) return;
  try {
    await FG.api("/api/rollouts", {method: "POST", body: JSON.stringify({kind, name, version: Number(version), stages, rest: form.elements.rest.checked})});
    FG.cleared(form);
    rollouts();
    fleetView();
  } catch (e) { FG.refused(form, e); }
};

// One setting on many devices in one action: each chosen device gets its next version with it (all checked first).
document.getElementById("fleet-change").onsubmit = async event => {
  event.preventDefault();
  const form = event.target, {site, kind, setting, value} = Object.fromEntries(new FormData(form));
  let parsed = null;
  try { parsed = value.trim() === "" ? null : JSON.parse(value); } catch (e) {
    FG.refused(form, {message: FG.t("this value is not JSON: {why}", {why: e.message})});
    return;
  }
  const count = fleetNow.devices.filter(d => (!site || d.site === site) && (!kind || d.kind === kind)).length;
  if (!confirm(FG.t("Set {setting} to {value} on {n} devices?", {setting, value: value.trim() || FG.t("default"), n: count}))) return;
  try {
    const answer = await FG.api("/api/fleet/config", {method: "POST", body: JSON.stringify({site: site || null, kind: kind || null, settings: {[setting]: parsed}})});
    FG.cleared(form);
    document.getElementById("fleet-changed").textContent = FG.t("{changed} devices get a new version; {unchanged} had it already",
      {changed: Object.keys(answer.changed).length, unchanged: answer.unchanged.length});
    fleetView();
    configuration();
  } catch (e) { FG.refused(form, e); }
};

// A device's configuration from the centre: its newest version to edit, and every version with what the device made
// of it (applied live, by restarting its node, or refused and why). Door passwords come masked; sent back masked, the
// door keeps its own.
const configSelect = document.getElementById("config-device");
function configDevices(list) {
  const active = list.filter(d => d.status === "active").map(d => d.id);
  const chosen = configSelect.value;
  if (active.join() === [...configSelect.options].map(o => o.value).join()) return;
  FG.fill(configSelect, FG.html`${active.map(id => FG.html`<option value="${id}">${id}</option>`)}`);
  configSelect.value = active.includes(chosen) ? chosen : active[0] || "";
  configuration();
}
const shownValue = v => v === null || v === undefined ? FG.t("default") : JSON.stringify(v);
const deviceWord = v => v.outcome === "applied" ? FG.html`<span class="online">${{live: FG.t("applied live"), restart: FG.t("applied by restarting its node"), start: FG.t("running since its start")}[v.how] || FG.t("applied")}</span>`
  : v.outcome === "refused" ? FG.html`<span class="error">${FG.t("refused: {reason}", {reason: v.reason || ""})}</span>`
  : v.published ? FG.t("sent; not heard of yet") : FG.html`<span class="error">${FG.t("not sent yet: the broker is away")}</span>`;
async function configuration(background = false) {
  const device = configSelect.value;
  if (!device) return;
  const path = `/api/devices/${encodeURIComponent(device)}/config`;
  const [now, versions] = await Promise.all([FG.api(path, {background}), FG.api(path + "/versions", {background})]);
  if (configSelect.value !== device) return;  // another device was picked meanwhile: its answer shows, not this one
  document.getElementById("config-state").textContent = now.running === null ? FG.t("{device} has not said which configuration it runs", {device})
    : now.running === 0 ? FG.t("{device} runs its local file", {device}) : FG.t("{device} runs version {version}", {device, version: now.running});
  if (!background) document.getElementById("config-form").elements.document.value = JSON.stringify(now.latest ? now.latest.document : {}, null, 2);
  FG.fill(document.getElementById("config-versions"), FG.html`${versions.map(v => FG.html`<tr><td>v${v.version}${v.rollback_of ? FG.html`<br><span class="muted">${FG.t("back to v{version}", {version: v.rollback_of})}</span>` : ""}</td>
    <td>${FG.dateTime(v.created_at)}<br>${v.created_by}</td>
    <td><ul class="plain">${Object.entries(v.changes).map(([key, [was, is]]) => FG.html`<li><code>${key}</code>: ${shownValue(was)} → ${shownValue(is)}</li>`)}</ul></td>
    <td>${deviceWord(v)}</td>
    <td>${v.version === now.latest.version ? "" : FG.html`<button type="button" data-rollback="${v.version}">${FG.t("back to this version")}</button>`}</td></tr>`)}`);
  document.querySelectorAll("[data-rollback]").forEach(b => b.onclick = async () => {
    if (!confirm(FG.t("Send {device} version {version}'s settings again, as a new version?", {device, version: b.dataset.rollback}))) return;
    try { await FG.api(path + "/rollback", {method: "POST", body: JSON.stringify({version: Number(b.dataset.rollback)})}); configuration(); } catch (e) { FG.refused(b, e); }
  });
}
configSelect.onchange = () => configuration();
document.getElementById("config-form").onsubmit = async event => {
  event.preventDefault();
  const device = configSelect.value;
  let document_;
  try { document_ = JSON.parse(event.target.elements.document.value); } catch (e) {
    FG.refused(event.target, {message: FG.t("these settings are not JSON: {why}", {why: e.message})});
    return;
  }
  try {
    await FG.api(`/api/devices/${encodeURIComponent(device)}/config`, {method: "PUT", body: JSON.stringify({document: document_})});
    FG.cleared(event.target);
    configuration();
    fleetView();
  } catch (e) { FG.refused(event.target, e); }
};

(async () => { me = await FG.header("/admin"); sites(); users(me); devices(); fleetView(); rollouts(); people(); erasures(); setInterval(() => { devices(true); fleetView(true); rollouts(true); configuration(true); }, 10000); })();
