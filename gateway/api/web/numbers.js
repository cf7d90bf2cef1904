// The day in numbers (issue 28): a site's visitors by hour, day, gate and ticket type, the peak inside and the
// refusals by reason, for a day or a range of days on the sites' clock, as charts (Chart.js, served by the gateway)
// and the same figures as tables for a screen reader, with the XLSX the Department gets. The filters live in the
// address. Gate ids and ticket type names are the sites' own: they reach the page through FG.html or Chart.js's
// canvas, never as HTML.
"use strict";
const $ = id => document.getElementById(id);
const form = $("filters");
const address = new URLSearchParams(location.search);
const REASONS = {unknown: FG.t("unknown"), spoof_suspected: FG.t("spoof suspected"), passback: FG.t("passback"),
  no_pass: FG.t("no valid pass"), wrong_gate: FG.t("not valid at this gate"), used: FG.t("already used"),
  forged: FG.t("forged ticket"), full: FG.t("site full")};
const METHODS = {face: FG.t("face"), qr: FG.t("QR ticket")};
const COLOURS = ["#1f5f99", "#c25b00", "#2e7d32", "#8e24aa", "#b71c1c", "#00796b", "#5d4037", "#546e7a"];
const charts = {};

function isoDay(text) {  // dd/mm/yyyy -> yyyy-mm-dd
  const parsed = FG.parseLocal(text);
  return parsed ? `${parsed[0]}-${String(parsed[1]).padStart(2, "0")}-${String(parsed[2]).padStart(2, "0")}` : null;
}
function shownDay(iso) { const [y, m, d] = iso.split("-"); return `${d}/${m}/${y}`; }

function bar(id, labels, values, label, horizontal = false) {
  charts[id]?.destroy();
  const canvas = $(id);
  canvas.setAttribute("aria-label", `${label}: ${labels.map((l, i) => `${l} ${values[i]}`).join(", ") || FG.t("none")}`);
  charts[id] = new Chart(canvas, {
    type: "bar",
    data: {labels, datasets: [{label, data: values, maxBarThickness: 48, backgroundColor: labels.map((_, i) => COLOURS[horizontal ? i % COLOURS.length : 0])}]},
    options: {indexAxis: horizontal ? "y" : "x", animation: false, maintainAspectRatio: false,
      plugins: {legend: {display: false}}, scales: {[horizontal ? "x" : "y"]: {beginAtZero: true, ticks: {precision: 0}}}},
  });
}

function table(title, rows, heading) {
  return FG.html`<table><caption>${title}</caption><thead><tr><th>${heading}</th><th>${FG.t("count")}</th></tr></thead>
    <tbody>${rows.map(([label, n]) => FG.html`<tr><td>${label}</td><td>${n}</td></tr>`)}</tbody></table>`;
}

async function show() {
  const q = new URLSearchParams();
  for (const name of ["site", "from", "to"]) {
    const value = address.get(name);
    if (value) q.set(name, name === "site" ? value : isoDay(value) || value);
  }
  $("export").href = "/api/numbers.xlsx?" + q;
  let n;
  try {
    n = await FG.api("/api/numbers?" + q);
  } catch (e) {
    $("problem").textContent = e.message;
    $("problem").hidden = false;
    return;
  }
  const refused = Object.values(n.refusals).reduce((a, b) => a + b, 0);
  const days = Object.keys(n.by_day);
  FG.fill($("totals"), FG.html`
    <div class="card">${FG.t("visitors let in")}<b id="n-visitors">${n.visitors}</b></div>
    <div class="card">${FG.t("let out")}<b>${n.left}</b></div>
    <div class="card">${FG.t("most inside at once")}<b id="n-peak">${n.peak}</b>${n.peak_day && days.length > 1 ? FG.html`<small>${shownDay(n.peak_day)}</small>` : ""}</div>
    <div class="card">${FG.t("refused")}<b class="unknown">${refused}</b></div>
    ${Object.entries(n.by_method).map(([m, count]) => FG.html`<div class="card">${METHODS[m] || m}<b>${count}</b></div>`)}`);
  const hours = n.by_hour.map((_, h) => `${String(h).padStart(2, "0")}:00`);
  const tickets = Object.entries(n.by_ticket_type).map(([code, count]) => [code ? (n.ticket_names[code] || code) : FG.t("no ticket (consent)"), count]);
  const gates = Object.entries(n.by_gate);
  const reasons = Object.entries(n.refusals).map(([v, count]) => [REASONS[v] || v, count]);
  bar("by-hour", hours, n.by_hour, FG.t("Visitors by hour"));
  $("days-part").hidden = days.length < 2;
  bar("by-day", days.map(shownDay), Object.values(n.by_day), FG.t("Visitors by day"));
  bar("by-gate", gates.map(g => g[0]), gates.map(g => g[1]), FG.t("Visitors by gate"), true);
  bar("by-ticket", tickets.map(t => t[0]), tickets.map(t => t[1]), FG.t("Visitors by ticket type"), true);
  bar("refusals", reasons.map(r => r[0]), reasons.map(r => r[1]), FG.t("Refusals by reason"), true);
  FG.fill($("tables"), FG.html`${table(FG.t("Visitors by hour"), hours.map((h, i) => [h, n.by_hour[i]]), FG.t("hour"))}
    ${days.length > 1 ? table(FG.t("Visitors by day"), days.map(d => [shownDay(d), n.by_day[d]]), FG.t("day")) : ""}
    ${table(FG.t("Visitors by gate"), gates, FG.t("gate"))}${table(FG.t("Visitors by ticket type"), tickets, FG.t("ticket type"))}
    ${table(FG.t("Refusals by reason"), reasons, FG.t("reason"))}`);
}

(async () => {
  await FG.header("/numbers");
  const sites = await FG.api("/api/sites");
  for (const s of sites) form.elements.site.append(new Option(s.name || s.id, s.id));
  if (!address.get("from")) address.set("from", FG.date(new Date().toISOString()));
  for (const [name, value] of address) if (form.elements[name]) form.elements[name].value = value;
  FG.dayFields(form);
  await show();
})();
