// The admin page (served as a file: the pages' CSP admits no inline script).
"use strict";
const say = text => document.getElementById("message").textContent = text;
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
async function devices(background = false) {
  const list = await FG.api("/api/devices", {background});
  const kinds = {gate: FG.t("gate"), exam: FG.t("exam"), kiosk: FG.t("kiosk")};
  // An exam device's place at its centre: the schedule seats candidates on a room's devices in seat order.
  const place = d => d.kind !== "exam" || d.status !== "active" ? "" : FG.html`<br>${d.room ? FG.t("{room}, seat {seat}", {room: d.room, seat: d.seat}) : FG.html`<span class="muted">${FG.t("not placed")}</span>`}
    <button type="button" data-place="${d.id}" data-room="${d.room || ""}" data-seat="${d.seat || ""}">${FG.t("place")}</button>`;
  FG.fill(document.getElementById("devices"), FG.html`${list.map(d => FG.html`<tr><td>${d.name}</td><td>${d.site}</td><td>${kinds[d.kind] || d.kind}${place(d)}</td>
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
    } catch (e) { say(e.message); }
  });
  document.querySelectorAll("[data-revoke]").forEach(b => b.onclick = async () => {
    if (!confirm(FG.t("Revoke {device}? It can no longer connect or publish.", {device: b.dataset.revoke}))) return;
    // A revoked device is no longer waited for: its erasures may complete at once.
    try { await FG.api(`/api/devices/${encodeURIComponent(b.dataset.revoke)}/revoke`, {method: "POST"}); devices(); erasures(); } catch (e) { say(e.message); }
  });
}
const PURPOSES = {gate: FG.t("gate"), exam: FG.t("exam")};
async function people() {
  const subjects = await FG.api("/api/subjects");
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
    } catch (e) { say(e.message); }
  });
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
      : FG.html`<span class="unknown">${FG.t("waiting")}</span>`}</li>`)}</ul></td></tr>`)}`
    : FG.html`<tr><td colspan="3" class="muted">${FG.t("none")}</td></tr>`);
}
setInterval(() => (erasuresWaiting || Date.now() - erasuresAt >= 10000) && erasures(true).catch(() => {}), 2000);
setInterval(() => people().catch(() => {}), 10000);
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
    devices();
    if (kiosk) users(me);
  } catch (e) { say(e.message); }
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
  if (!purpose) { say(FG.t("Tick at least one purpose the person consented to.")); return; }
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
async function sites() {
  const list = await FG.api("/api/sites");
  FG.fill(document.getElementById("sites"), FG.html`${list.map(s => FG.html`<tr><td>${s.id}</td><td>${s.name}</td></tr>`)}`);
}
const ROLES = ["operator", "supervisor", "auditor", "admin"];
async function users(me) {
  const list = await FG.api("/api/users");
  // A kiosk's login keeps its role (it is made with its kiosk): it shows its kiosk instead of a choice.
  FG.fill(document.getElementById("users"), FG.html`${list.map(u => FG.html`<tr data-user="${u.name}"><td>${u.name}</td>
    <td>${u.role === "kiosk" ? FG.html`${FG.role(u.role)} (${u.device})` : FG.html`<label><span class="sr-only">${FG.t("role of {user}", {user: u.name})}</span><select name="role">${ROLES.map(r =>
      FG.html`<option value="${r}"${r === u.role ? FG.html` selected` : ""}>${FG.role(r)}</option>`)}</select></label>`}</td>
    <td>${u.disabled ? FG.html`<span class="unknown">${FG.t("disabled")}</span>` : FG.t("active")}
      ${u.name === me.name ? "" : FG.html` <button type="button" data-disable="${u.disabled ? "false" : "true"}">${u.disabled ? FG.t("enable") : FG.t("disable")}</button>`}</td>
    <td><form class="password"><label><span class="sr-only">${FG.t("new password for {user}", {user: u.name})}</span>
      <input name="password" type="password" minlength="10" required autocomplete="new-password"></label> <button type="submit">${FG.t("set")}</button></form></td></tr>`)}`);
  const change = async (name, body) => {
    try { await FG.api(`/api/users/${encodeURIComponent(name)}`, {method: "PATCH", body: JSON.stringify(body)}); say(""); }
    catch (e) { say(e.message); }
    users(me);
  };
  document.querySelectorAll("#users tr[data-user]").forEach(tr => {
    const name = tr.dataset.user;
    const role = tr.querySelector("select[name=role]");
    if (role) role.onchange = event => change(name, {role: event.target.value});
    const toggle = tr.querySelector("[data-disable]");
    if (toggle) toggle.onclick = () => change(name, {disabled: toggle.dataset.disable === "true"});
    tr.querySelector("form.password").onsubmit = event => {
      event.preventDefault();
      change(name, {password: event.target.elements.password.value});
    };
  });
}
document.getElementById("add-site").onsubmit = async event => {
  event.preventDefault();
  const data = Object.fromEntries(new FormData(event.target));
  try { await FG.api("/api/sites", {method: "POST", body: JSON.stringify(data)}); event.target.reset(); say(""); sites(); }
  catch (e) { say(e.message); }
};
let me = null;
document.getElementById("add-user").onsubmit = async event => {
  event.preventDefault();
  const data = Object.fromEntries(new FormData(event.target));
  try { await FG.api("/api/users", {method: "POST", body: JSON.stringify(data)}); event.target.reset(); say(""); users(me); }
  catch (e) { say(e.message); }
};
(async () => { me = await FG.header("/admin"); sites(); users(me); devices(); people(); erasures(); setInterval(() => devices(true), 10000); })();
