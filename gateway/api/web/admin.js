// The admin page (served as a file: the pages' CSP admits no inline script).
"use strict";
const say = text => document.getElementById("message").textContent = text;
function bars(stages) {
  const entries = Object.entries(stages || {}).filter(([, v]) => v > 0);
  const max = Math.max(1, ...entries.map(([, v]) => v));
  return FG.html`<svg class="bars" width="220" height="${entries.length * 12}" role="img" aria-label="ms per stage">${entries.map(([k, v], i) =>
    FG.html`<rect x="70" y="${i * 12 + 1}" width="${Math.max(1, 120 * v / max)}" height="9"></rect><text x="0" y="${i * 12 + 9}">${k}</text><text x="${74 + 120 * v / max}" y="${i * 12 + 9}">${Number(v).toFixed(1)}</text>`)}</svg>`;
}
// A device clock off by more than a minute makes its times unreliable: say so, and by how much.
function clock(d) {
  if (d.clock_skew_s === null || d.clock_skew_s === undefined || Math.abs(d.clock_skew_s) < 60) return "";
  const s = Math.abs(d.clock_skew_s), text = s >= 86400 ? `${(s / 86400).toFixed(0)} days` : s >= 3600 ? `${(s / 3600).toFixed(1)} h` : `${s.toFixed(0)} s`;
  return FG.html`<br><span class="error">clock ${d.clock_skew_s > 0 ? "behind" : "ahead"} by ${text}</span>`;
}
async function devices(background = false) {
  const list = await FG.api("/api/devices", {background});
  FG.fill(document.getElementById("devices"), FG.html`${list.map(d => FG.html`<tr><td>${d.name}</td><td>${d.site}</td><td>${d.kind}</td>
    <td class="${d.online ? "online" : "offline"}">${d.status === "revoked" ? "revoked" : d.online ? "online" : "offline"}</td>
    <td>v${d.gallery_version} (${d.gallery_size} people)${d.gallery_pending ? FG.html` <span class="error">pending; device has v${d.gallery_applied_version}</span>` : ""}</td>
    <td>${d.last_heartbeat ? FG.html`${FG.time(d.last_heartbeat_at)}<br>${d.last_heartbeat.fps} fps, liveness ${d.last_heartbeat.liveness_enabled ? "on" : "OFF"}` : "—"}${clock(d)}${d.last_heartbeat && d.last_heartbeat.camera_error ? FG.html`<br><span class="error">camera: ${d.last_heartbeat.camera_error}</span>` : ""}</td>
    <td>${d.last_heartbeat ? bars(d.last_heartbeat.stage_ms) : ""}</td>
    <td>${d.status === "active" ? FG.html`<button data-revoke="${d.id}">revoke</button>` : ""}</td></tr>`)}`);
  document.querySelectorAll("[data-revoke]").forEach(b => b.onclick = async () => {
    if (!confirm(`Revoke ${b.dataset.revoke}? It can no longer connect or publish.`)) return;
    try { await FG.api(`/api/devices/${encodeURIComponent(b.dataset.revoke)}/revoke`, {method: "POST"}); devices(); } catch (e) { say(e.message); }
  });
}
async function people() {
  const [subjects, erasures] = await Promise.all([FG.api("/api/subjects"), FG.api("/api/erasures?outstanding=true")]);
  FG.fill(document.getElementById("subjects"), FG.html`${subjects.map(s => FG.html`<tr><td>${s.id}<br><span class="muted">${s.display_name}</span></td>
    <td>${s.consents.map((c, i) => FG.html`${i ? FG.html`<br>` : ""}${c.purpose} @ ${c.sites.join(", ")}${c.withdrawn_at ? FG.html` <span class="muted">(withdrawn)</span>` : ""}`)}</td>
    <td>${s.consents.some(c => !c.withdrawn_at) ? FG.html`<button data-withdraw="${s.id}">withdraw</button>` : ""}</td></tr>`)}`);
  FG.fill(document.getElementById("erasures"), erasures.length ? FG.html`${erasures.map(e => FG.html`<tr><td>${e.subject}</td><td>${FG.time(e.requested_at)}</td>
    <td>${Object.entries(e.devices).filter(([, v]) => !v.confirmed_at).map(([d]) => d).join(", ")}</td></tr>`)}` : FG.html`<tr><td colspan="3" class="muted">none</td></tr>`);
  document.querySelectorAll("[data-withdraw]").forEach(b => b.onclick = async () => {
    if (!confirm(`Withdraw every consent of ${b.dataset.withdraw}? They are erased from every device.`)) return;
    try { await FG.api(`/api/subjects/${encodeURIComponent(b.dataset.withdraw)}/withdraw`, {method: "POST", body: "{}"}); people(); devices(); } catch (e) { say(e.message); }
  });
}
document.getElementById("provision").onsubmit = async event => {
  event.preventDefault();
  const data = Object.fromEntries(new FormData(event.target));
  try {
    const answer = await FG.api("/api/devices", {method: "POST", body: JSON.stringify(data)});
    const pre = document.getElementById("bundle");
    pre.hidden = false; pre.textContent = answer.bundle_toml;
    devices();
  } catch (e) { say(e.message); }
};
const base64 = file => new Promise((ok, fail) => { const r = new FileReader(); r.onload = () => ok(r.result.split(",")[1]); r.onerror = fail; r.readAsDataURL(file); });
document.getElementById("enrol").onsubmit = async event => {
  event.preventDefault();
  const form = new FormData(event.target);
  const results = document.getElementById("results");
  for (const file of form.getAll("photos")) {
    const subject = file.name.replace(/\.[^.]+$/, "").toLowerCase();
    const tr = document.createElement("tr");
    FG.fill(tr, FG.html`<td>${file.name}</td><td>${subject}</td><td class="muted">enrolling…</td>`);
    results.prepend(tr);
    try {
      const answer = await FG.api("/api/subjects", {method: "POST", body: JSON.stringify({
        subject, photo: await base64(file), purpose: form.get("purpose"), sites: form.get("sites").split(",").map(s => s.trim()).filter(Boolean),
        notice_version: form.get("notice_version"), channel: form.get("channel")})});
      tr.lastChild.className = "ok"; tr.lastChild.textContent = `enrolled (quality ${answer.quality})`;
    } catch (e) { tr.lastChild.className = "error"; tr.lastChild.textContent = "refused: " + e.message; }
  }
  people(); devices();
};
(async () => { await FG.header("/admin"); devices(); people(); setInterval(() => devices(true), 10000); })();
