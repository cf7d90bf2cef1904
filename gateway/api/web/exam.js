// The exam page (served as a file: the pages' CSP admits no inline script).
"use strict";
const light = s => FG.html`<span class="light ${s.replace(/ /g, "-")}"></span>${s}`;
async function sessions() {
  const form = new FormData(document.getElementById("filters"));
  const query = new URLSearchParams([...form].filter(([, v]) => v));
  const list = await FG.api("/api/exam/sessions?" + query);
  FG.fill(document.getElementById("sessions"), list.length ? FG.html`${list.map(s =>
    FG.html`<tr data-id="${s.id}" class="clickable"><td>${light(s.status)}</td><td>${s.candidate}</td><td>${s.site} / ${s.device}</td>
    <td>${new Date(s.started_at).toLocaleString()}</td><td>${s.checkin}</td><td>${Object.entries(s.flag_counts).map(([k, n]) => `${k} ×${n}`).join(", ") || "—"}</td></tr>`)}`
    : FG.html`<tr><td colspan="6" class="muted">no sessions</td></tr>`);
  document.querySelectorAll("#sessions tr[data-id]").forEach(tr => tr.onclick = () => show(tr.dataset.id));
}
async function show(id) {
  const s = await FG.api(`/api/exam/sessions/${encodeURIComponent(id)}`);
  const evidence = ids => ids.map(e => FG.html`<img src="/api/exam/evidence/${encodeURIComponent(e)}" alt="evidence ${e}">`);
  const shots = (label, reason) => {
    const ids = s.evidence_list.filter(e => e.reason === reason).map(e => e.id);
    return ids.length ? FG.html`${label} ${evidence(ids)}` : "";
  };
  FG.fill(document.getElementById("detail"), FG.html`<h2>${light(s.status)} — ${s.candidate}</h2>
    <p>${s.exam_type} / ${s.stage}, seat ${s.seat || "—"}, device ${s.device}<br>
    ${new Date(s.started_at).toLocaleString()} – ${s.ended_at ? new Date(s.ended_at).toLocaleTimeString() : "running"};
    check-in <b>${s.checkin}</b> (score ${s.checkin_score ?? "—"}); ${s.checks_total} checks
    · <a href="/api/exam/sessions/${encodeURIComponent(s.id)}/report" target="_blank">printable report</a></p>
    <div class="evidence">${shots("check-in", "checkin")} ${shots("logout", "logout")}</div>
    <h2>Flags</h2><table><thead><tr><th>flag</th><th>when</th><th>evidence</th><th>review</th></tr></thead><tbody>
    ${s.flag_list.length ? s.flag_list.map(f => FG.html`<tr><td><b>${f.kind}</b><br><span class="muted">${f.severity}, ${f.detail}</span></td>
      <td>${FG.time(f.start)}–${f.end ? FG.time(f.end) : "open"}${f.duration_s != null ? FG.html`<br>${Math.round(f.duration_s)} s` : ""}</td>
      <td class="evidence">${evidence(f.evidence)}</td>
      <td>${f.review ? FG.html`<b>${f.review}</b> by ${f.reviewed_by}<br>${f.review_note}` :
        FG.html`<form class="review" data-flag="${f.id}"><select name="decision"><option value="confirmed">confirm</option><option value="dismissed">dismiss</option></select>
         <input name="note" placeholder="note (required)" required> <button type="submit">save</button></form>`}</td></tr>`) :
      FG.html`<tr><td colspan="4" class="muted">no flags</td></tr>`}</tbody></table>
    <h2>Verdict</h2>${s.verdict ? FG.html`<p><b>${s.verdict}</b> by ${s.verdict_by}: ${s.verdict_note}</p>` :
      FG.html`<form id="verdict"><select name="verdict"><option>clean</option><option>incident</option><option>technical</option><option>void</option></select>
       <input name="note" placeholder="note (required)" required> <button type="submit">set verdict</button></form>`}
    <p id="message" class="error"></p>`);
  document.querySelectorAll("form.review").forEach(form => form.onsubmit = async event => {
    event.preventDefault();
    const data = new FormData(form);
    try { await FG.api(`/api/exam/flags/${encodeURIComponent(form.dataset.flag)}/review`, {method: "POST", body: JSON.stringify({decision: data.get("decision"), note: data.get("note")})}); show(id); sessions(); }
    catch (e) { document.getElementById("message").textContent = e.message; }
  });
  const verdict = document.getElementById("verdict");
  if (verdict) verdict.onsubmit = async event => {
    event.preventDefault();
    const data = new FormData(verdict);
    try { await FG.api(`/api/exam/sessions/${encodeURIComponent(id)}/verdict`, {method: "POST", body: JSON.stringify({verdict: data.get("verdict"), note: data.get("note")})}); show(id); sessions(); }
    catch (e) { document.getElementById("message").textContent = e.message; }
  };
}
document.getElementById("filters").onsubmit = event => { event.preventDefault(); sessions(); };
(async () => { await FG.header("/exam"); await sessions(); })();
