// The exam page (served as a file: the pages' CSP admits no inline script).
"use strict";
const light = s => `<span class="light ${s.replace(/ /g, "-")}"></span>${s}`;
async function sessions() {
  const form = new FormData(document.getElementById("filters"));
  const query = new URLSearchParams([...form].filter(([, v]) => v));
  const list = await FG.api("/api/exam/sessions?" + query);
  document.getElementById("sessions").innerHTML = list.map(s =>
    `<tr data-id="${FG.esc(s.id)}" class="clickable"><td>${light(s.status)}</td><td>${FG.esc(s.candidate)}</td><td>${FG.esc(s.site)} / ${FG.esc(s.device)}</td>` +
    `<td>${new Date(s.started_at).toLocaleString()}</td><td>${s.checkin}</td><td>${Object.entries(s.flag_counts).map(([k, n]) => `${k} ×${n}`).join(", ") || "—"}</td></tr>`).join("")
    || `<tr><td colspan="6" class="muted">no sessions</td></tr>`;
  document.querySelectorAll("#sessions tr[data-id]").forEach(tr => tr.onclick = () => show(tr.dataset.id));
}
async function show(id) {
  const s = await FG.api(`/api/exam/sessions/${id}`);
  const evidence = ids => ids.map(e => `<img src="/api/exam/evidence/${e}" alt="evidence ${e}">`).join("");
  const shots = reason => evidence(s.evidence_list.filter(e => e.reason === reason).map(e => e.id));
  document.getElementById("detail").innerHTML = `<h2>${light(s.status)} — ${FG.esc(s.candidate)}</h2>
    <p>${FG.esc(s.exam_type)} / ${FG.esc(s.stage)}, seat ${FG.esc(s.seat || "—")}, device ${FG.esc(s.device)}<br>
    ${new Date(s.started_at).toLocaleString()} – ${s.ended_at ? new Date(s.ended_at).toLocaleTimeString() : "running"};
    check-in <b>${s.checkin}</b> (score ${s.checkin_score ?? "—"}); ${s.checks_total} checks
    · <a href="/api/exam/sessions/${s.id}/report" target="_blank">printable report</a></p>
    <div class="evidence">${shots("checkin") ? "check-in " + shots("checkin") : ""} ${shots("logout") ? "logout " + shots("logout") : ""}</div>
    <h2>Flags</h2><table><thead><tr><th>flag</th><th>when</th><th>evidence</th><th>review</th></tr></thead><tbody>
    ${s.flag_list.map(f => `<tr><td><b>${f.kind}</b><br><span class="muted">${f.severity}, ${FG.esc(f.detail)}</span></td>
      <td>${FG.time(f.start)}–${f.end ? FG.time(f.end) : "open"}${f.duration_s != null ? `<br>${Math.round(f.duration_s)} s` : ""}</td>
      <td class="evidence">${evidence(f.evidence)}</td>
      <td>${f.review ? `<b>${f.review}</b> by ${FG.esc(f.reviewed_by)}<br>${FG.esc(f.review_note)}` :
        `<form class="review" data-flag="${f.id}"><select name="decision"><option value="confirmed">confirm</option><option value="dismissed">dismiss</option></select>
         <input name="note" placeholder="note (required)" required> <button type="submit">save</button></form>`}</td></tr>`).join("") ||
      `<tr><td colspan="4" class="muted">no flags</td></tr>`}</tbody></table>
    <h2>Verdict</h2>${s.verdict ? `<p><b>${s.verdict}</b> by ${FG.esc(s.verdict_by)}: ${FG.esc(s.verdict_note)}</p>` :
      `<form id="verdict"><select name="verdict"><option>clean</option><option>incident</option><option>technical</option><option>void</option></select>
       <input name="note" placeholder="note (required)" required> <button type="submit">set verdict</button></form>`}
    <p id="message" class="error"></p>`;
  document.querySelectorAll("form.review").forEach(form => form.onsubmit = async event => {
    event.preventDefault();
    const data = new FormData(form);
    try { await FG.api(`/api/exam/flags/${form.dataset.flag}/review`, {method: "POST", body: JSON.stringify({decision: data.get("decision"), note: data.get("note")})}); show(id); sessions(); }
    catch (e) { document.getElementById("message").textContent = e.message; }
  });
  const verdict = document.getElementById("verdict");
  if (verdict) verdict.onsubmit = async event => {
    event.preventDefault();
    const data = new FormData(verdict);
    try { await FG.api(`/api/exam/sessions/${id}/verdict`, {method: "POST", body: JSON.stringify({verdict: data.get("verdict"), note: data.get("note")})}); show(id); sessions(); }
    catch (e) { document.getElementById("message").textContent = e.message; }
  };
}
document.getElementById("filters").onsubmit = event => { event.preventDefault(); sessions(); };
(async () => { await FG.header("/exam"); await sessions(); })();
