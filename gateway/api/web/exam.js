// The exam page (served as a file: the pages' CSP admits no inline script). The filters and the open session
// live in the page's address: /exam?day=...&session=ID is a link to that session, to share or to come back to.
"use strict";
const STATUS = {"not started": FG.t("not started"), "clean": FG.t("clean"), "needs review": FG.t("needs review"),
  "confirmed incident": FG.t("confirmed incident"), "technical problem": FG.t("technical problem"), "void": FG.t("void")};
const PARTS = {theory: FG.t("theory"), simulation: FG.t("simulation"), track: FG.t("track"), road: FG.t("road")};
const part = name => PARTS[name] || name;
// What the device wrote of a flag, in the reader's words (the numbers are the device's; gateway/i18n/names.py).
const DETAILS = [[/^1:1 score (-?[0-9.]+) < (-?[0-9.]+)$/, FG.t("1:1 score {score}, below the {threshold} needed")],
  [/^live score (-?[0-9.]+) < (-?[0-9.]+)$/, FG.t("liveness score {score}, below the {threshold} needed")]];
function detail(text) {
  for (const [pattern, words] of DETAILS) {
    const found = pattern.exec(text || "");
    if (found) return words.replace("{score}", found[1]).replace("{threshold}", found[2]);
  }
  return text || "";
}
const CHECKIN = {pending: FG.t("pending"), passed: FG.t("passed"), failed: FG.t("failed"),
  presentation_attack: FG.t("presentation attack"), refused: FG.t("refused")};
const FLAGS = {face_mismatch: FG.t("face mismatch"), no_face: FG.t("no face"), multiple_faces: FG.t("several faces"),
  camera_blocked: FG.t("camera blocked"), low_quality: FG.t("poor image"), presentation_attack: FG.t("presentation attack"),
  technical: FG.t("technical problem")};
const SEVERITY = {low: FG.t("low"), medium: FG.t("medium"), high: FG.t("high")};
const VERDICTS = {clean: FG.t("clean"), incident: FG.t("incident"), technical: FG.t("technical problem"), void: FG.t("void")};
const DECISIONS = {confirmed: FG.t("confirmed"), dismissed: FG.t("dismissed")};
const light = s => FG.html`<span class="light ${s.replace(/ /g, "-")}"></span>${STATUS[s] || s}`;
const form = document.getElementById("filters");
const address = new URLSearchParams(location.search);
for (const [name, value] of address) if (form.elements[name]) form.elements[name].value = value;
FG.dayFields(form);
const linkTo = id => "/exam?" + new URLSearchParams([...address].filter(([k]) => k !== "session").concat([["session", id]]));

async function sessions() {
  const query = new URLSearchParams([...address].filter(([k, v]) => v && ["site", "status"].includes(k)));
  const day = FG.parseLocal(address.get("day"));  // the centre's day, typed dd/mm/yyyy; the API takes yyyy-mm-dd
  if (day) query.set("day", `${day[0]}-${String(day[1]).padStart(2, "0")}-${String(day[2]).padStart(2, "0")}`);
  const list = await FG.api("/api/exam/sessions?" + query);
  FG.fill(document.getElementById("sessions"), list.length ? FG.html`${list.map(s =>
    FG.html`<tr data-id="${s.id}" class="${s.id === address.get("session") ? "selected" : ""}"><td>${light(s.status)}</td>
    <td><a href="${linkTo(s.id)}">${s.candidate_name}</a></td><td>${s.site} / ${s.device}</td>
    <td>${FG.dateTime(s.started_at)}</td><td>${CHECKIN[s.checkin] || s.checkin}</td>
    <td>${Object.entries(s.flag_counts).map(([k, n]) => `${FLAGS[k] || k} ×${n}`).join(", ") || "—"}</td>
    <td>${s.verdict ? VERDICTS[s.verdict] || s.verdict : "—"}</td></tr>`)}`
    : FG.html`<tr><td colspan="7" class="muted">${FG.t("no sessions")}</td></tr>`);
  // The candidate's name is the link (keyboard, new tab, its own address); a click anywhere on the row follows it.
  document.querySelectorAll("#sessions tr[data-id]").forEach(tr => tr.onclick = event => {
    if (event.target.closest("a")) return;
    tr.querySelector("a").click();
  });
}
const CHECK_REASONS = {checkin: FG.t("check-in"), periodic: FG.t("periodic"), face_returned: FG.t("face returned"), logout: FG.t("logout")};
// The session on a time axis: checks (a dot: passed or not), flags (a bar from start to end, by severity) and
// evidence (a tick), from its start to its end (or now). Each flag's bar links to its row below.
function timeline(s) {
  const t0 = Date.parse(s.started_at), t1 = Math.max(Date.parse(s.ended_at || new Date().toISOString()), t0 + 1000);
  const x = iso => (20 + 960 * Math.min(1, Math.max(0, (Date.parse(iso) - t0) / (t1 - t0)))).toFixed(1);
  const minutes = Math.round((t1 - t0) / 60000);
  const ticks = Array.from({length: 6}, (_, i) => new Date(t0 + i * (t1 - t0) / 5).toISOString());
  return FG.html`<figure class="timeline"><svg viewBox="0 0 1000 120" role="group"
    aria-label="${FG.t("Timeline: {checks} checks, {flags} flags, {minutes} min", {checks: s.checks.length, flags: s.flag_list.length, minutes})}">
    <line x1="20" y1="60" x2="980" y2="60" class="axis"></line>
    ${ticks.map((t, i) => FG.html`<text x="${x(t)}" y="115" class="tick" text-anchor="${i === 0 ? "start" : i === ticks.length - 1 ? "end" : "middle"}">${t1 - t0 < 600000 ? FG.time(t) : FG.time(t).slice(0, 5)}</text>`)}
    ${s.checks.map(c => FG.html`<circle cx="${x(c.at)}" cy="60" r="5" class="${c.passed ? "pass" : "fail"}"><title>${FG.time(c.at)} ${CHECK_REASONS[c.reason] || c.reason}: ${c.passed ? FG.t("pass") : FG.t("FAIL")}</title></circle>`)}
    ${s.flag_list.map((f, i) => FG.html`<a href="#flag-${f.id}"><rect x="${x(f.start)}" y="${18 + (i % 3) * 10}" height="8"
      width="${Math.max(4, x(f.end || new Date(t1).toISOString()) - x(f.start))}" class="flag ${f.severity}"><title>${FLAGS[f.kind] || f.kind}, ${FG.time(f.start)}–${f.end ? FG.time(f.end) : FG.t("open")}</title></rect></a>`)}
    ${s.evidence_list.map(e => FG.html`<line x1="${x(e.received_at)}" x2="${x(e.received_at)}" y1="72" y2="84" class="evidence-tick"><title>${FG.t("evidence")} ${FG.time(e.received_at)}</title></line>`)}
  </svg><figcaption class="muted">${FG.t("check-in, checks (dots), flags (bars) and evidence (ticks) from {start} to {end}",
    {start: FG.time(s.started_at), end: s.ended_at ? FG.time(s.ended_at) : FG.t("now")})}</figcaption></figure>`;
}
// Earlier reviews or verdicts, oldest first, each with who and when.
const history = (list, name) => (list || []).map(h => FG.html`<br><span class="muted">${FG.t("earlier: {decision} — {note} ({user}, {when})",
  {decision: name(h), note: h.note, user: h.by, when: FG.dateTime(h.at)})}</span>`);
async function show(id) {
  const s = await FG.api(`/api/exam/sessions/${encodeURIComponent(id)}`);
  const evidence = ids => ids.map(e => FG.html`<a href="/api/exam/evidence/${encodeURIComponent(e)}" target="_blank"><img
    src="/api/exam/evidence/${encodeURIComponent(e)}" alt="${FG.t("evidence {id}", {id: e})}"></a>`);
  const shots = (label, reason) => {
    const ids = s.evidence_list.filter(e => e.reason === reason).map(e => e.id);
    return ids.length ? FG.html`${label} ${evidence(ids)}` : "";
  };
  FG.fill(document.getElementById("detail"), FG.html`<h2>${light(s.status)} — ${s.candidate_name || s.candidate} <span class="muted">(${s.candidate})</span></h2>
    <p>${s.exam_type === s.stage ? part(s.exam_type) : `${part(s.exam_type)} / ${part(s.stage)}`}, ${FG.t("seat")} ${s.seat || "—"}, ${FG.t("device")} ${s.device}<br>
    ${FG.dateTime(s.started_at)} – ${s.ended_at ? FG.time(s.ended_at) : s.status === "not started" ? FG.t("not started") : FG.t("running")};
    ${FG.t("check-in")} <b>${CHECKIN[s.checkin] || s.checkin}</b> (${FG.t("score")} ${s.checkin_score ?? "—"}${s.checkin_chip_score != null ? FG.html`; ${FG.t("chip card portrait")} ${s.checkin_chip_score}` : ""}); ${FG.t("{n} checks", {n: s.checks_total})}
    · <a href="/api/exam/sessions/${encodeURIComponent(s.id)}/report" target="_blank">${FG.t("printable report")}</a>
    · <a href="/api/exam/sessions/${encodeURIComponent(s.id)}/report.pdf" id="report-pdf">${FG.t("download PDF")}</a></p>
    ${timeline(s)}
    <div class="evidence">${shots(FG.t("check-in"), "checkin")} ${shots(FG.t("logout"), "logout")}</div>
    <h2>${FG.t("Flags")}</h2><table><thead><tr><th>${FG.t("flag")}</th><th>${FG.t("when")}</th><th>${FG.t("evidence")}</th><th>${FG.t("review")}</th></tr></thead><tbody>
    ${s.flag_list.length ? s.flag_list.map(f => FG.html`<tr id="flag-${f.id}"><td><b>${FLAGS[f.kind] || f.kind}</b><br><span class="muted">${SEVERITY[f.severity] || f.severity}, ${detail(f.detail)}</span></td>
      <td>${FG.time(f.start)}–${f.end ? FG.time(f.end) : FG.t("open")}${f.duration_s != null ? FG.html`<br>${Math.round(f.duration_s)} s` : ""}</td>
      <td class="evidence">${evidence(f.evidence)}</td>
      <td>${f.review ? FG.html`<b>${DECISIONS[f.review] || f.review}</b> ${FG.t("by {user}", {user: f.reviewed_by})}, ${FG.dateTime(f.reviewed_at)}<br>${f.review_note}
          ${history(f.review_history, h => DECISIONS[h.decision] || h.decision)}
          <br><button type="button" class="amend" aria-expanded="false" aria-controls="review-${f.id}">${FG.t("amend")}</button>` : ""}
        <form class="review" id="review-${f.id}" data-flag="${f.id}"${f.review ? FG.html` hidden` : ""}><label>${FG.t("decision")} <select name="decision"><option value="confirmed">${FG.t("confirm")}</option><option value="dismissed">${FG.t("dismiss")}</option></select></label>
         <label>${FG.t("note")} <input name="note" placeholder="${FG.t("note (required)")}" required></label> <button type="submit">${FG.t("save")}</button></form></td></tr>`) :
      FG.html`<tr><td colspan="4" class="muted">${FG.t("no flags")}</td></tr>`}</tbody></table>
    <h2>${FG.t("Verdict")}</h2>${s.verdict ? FG.html`<p><b>${VERDICTS[s.verdict] || s.verdict}</b> ${FG.t("by {user}", {user: s.verdict_by})}, ${FG.dateTime(s.verdict_at)}: ${s.verdict_note}
      ${history(s.verdict_history, h => VERDICTS[h.verdict] || h.verdict)}
      <br><button type="button" class="amend" aria-expanded="false" aria-controls="verdict">${FG.t("amend")}</button></p>` : ""}
      ${s.status === "not started" ? FG.html`<form id="cancel"><p class="muted">${FG.t("The device has not run this session: it can be cancelled (its command is withdrawn).")}</p>
       <label>${FG.t("note")} <input name="note" placeholder="${FG.t("why (required)")}" required></label> <button type="submit">${FG.t("cancel the session")}</button></form>`
      : FG.html`<form id="verdict"${s.verdict ? FG.html` hidden` : ""}><label>${FG.t("verdict")} <select name="verdict" required><option value="">${FG.t("choose…")}</option>${Object.entries(VERDICTS).map(([v, name]) => FG.html`<option value="${v}">${name}</option>`)}</select></label>
       <label>${FG.t("note")} <input name="note" placeholder="${FG.t("note (required)")}" required></label> <button type="submit">${FG.t("set verdict")}</button></form>`}
    <p id="message" class="error" role="alert"></p>`);
  // A review or verdict already given can be corrected: its form opens beside it; the earlier one is kept.
  document.querySelectorAll("#detail button.amend").forEach(button => button.onclick = () => {
    const form = document.getElementById(button.getAttribute("aria-controls"));
    form.hidden = !form.hidden;
    button.setAttribute("aria-expanded", String(!form.hidden));
    if (!form.hidden) form.querySelector("input[name=note]").focus();
  });
  const send = async (path, body) => {
    try { await FG.api(path, {method: "POST", body: JSON.stringify(body)}); show(id); sessions(); }
    catch (e) { document.getElementById("message").textContent = e.message; }
  };
  document.querySelectorAll("form.review").forEach(form => form.onsubmit = event => {
    event.preventDefault();
    const data = new FormData(form);
    send(`/api/exam/flags/${encodeURIComponent(form.dataset.flag)}/review`, {decision: data.get("decision"), note: data.get("note")});
  });
  const cancel = document.getElementById("cancel");
  if (cancel) cancel.onsubmit = event => {
    event.preventDefault();
    send(`/api/exam/sessions/${encodeURIComponent(id)}/cancel`, {note: new FormData(cancel).get("note")});
  };
  const verdict = document.getElementById("verdict");
  if (verdict) verdict.onsubmit = event => {
    event.preventDefault();
    const data = new FormData(verdict);
    send(`/api/exam/sessions/${encodeURIComponent(id)}/verdict`, {verdict: data.get("verdict"), note: data.get("note")});
  };
}
(async () => {
  await FG.header("/exam");
  await sessions();
  if (address.get("session")) await show(address.get("session"));
})();
