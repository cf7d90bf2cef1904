// The audit page (served as a file: the pages' CSP admits no inline script). The filters live in the page's
// address, so a search has its own URL (to share, to come back to); the server pages and filters, newest first.
"use strict";
const PAGE = 100;
const form = document.getElementById("filters");
const shown = new URLSearchParams(location.search);
// people's actions, apart from the pages' own reads and the devices' stream of events
if (!shown.has("who")) shown.set("who", "people");
for (const [name, value] of shown) if (form.elements[name]) form.elements[name].value = value;
let names = {};  // action code -> its name in the page's language

// The actions to choose from, by name; an address's action that is not one of them (a prefix such as exam.flag.*,
// typed into the address) is kept as a choice of its own.
async function actionChoices() {
  const actions = await FG.api("/api/audit/actions");
  names = Object.fromEntries(actions.map(a => [a.code, a.name]));
  const asked = shown.get("action");
  if (asked && !Object.hasOwn(names, asked)) actions.unshift({code: asked, name: asked});
  const select = form.elements.action;
  for (const a of actions) select.append(new Option(a.name, a.code));
}

// The API's query: the address's filters, with the form's local times as instants.
function apiQuery() {
  const q = new URLSearchParams();
  for (const [name, value] of shown) {
    if (!value || !["who", "actor", "action", "target", "device", "since", "until"].includes(name)) continue;
    q.set(name, name === "since" || name === "until" ? FG.siteInstant(value) : value);  // typed on the sites' clock
  }
  return q;
}
FG.dayFields(form);
document.getElementById("export").href = "/api/audit/export.csv?" + apiQuery();

let before = null;
async function more() {
  const q = apiQuery();
  q.set("limit", PAGE);
  if (before) q.set("before", before);
  const status = document.getElementById("status");
  status.textContent = FG.t("loading…");
  const rows = await FG.api("/api/audit?" + q);
  const body = document.getElementById("entries");
  const targetLink = t => FG.html`<a href="/audit?${new URLSearchParams({who: "all", target: t}).toString()}"
    title="${FG.t("everything about {target}", {target: t})}">${t}</a>`;
  const fragment = FG.html`${rows.map(e => FG.html`<tr><td>${e.seq}</td><td>${FG.dateTime(e.at)}</td>
    <td>${e.actor}</td><td title="${e.action}">${names[e.action] || e.action}</td>
    <td>${e.target ? targetLink(e.target) : ""}</td>
    <td class="muted detail">${JSON.stringify(e.detail)}</td></tr>`)}`;
  const holder = document.createElement("tbody");  // FG.fill replaces; the rows already shown stay, these join them
  FG.fill(holder, fragment);
  body.append(...holder.children);
  before = rows.length ? rows[rows.length - 1].seq : before;
  document.getElementById("older").hidden = rows.length < PAGE;
  status.textContent = body.children.length ? FG.t("{n} entries shown", {n: body.children.length}) : FG.t("no entry matches");
}
document.getElementById("older").onclick = () => more();
document.getElementById("verify").onclick = async () => {
  const r = await FG.api("/api/audit/verify");
  const out = document.getElementById("result");
  out.className = r.ok ? "ok" : "error";
  out.textContent = r.ok ? FG.t("intact: {entries} entries, {events} events checked", {entries: r.entries, events: r.events})
    : FG.t("BROKEN at entry {seq}: {reason}", {seq: r.first_broken, reason: r.reason});
};
(async () => {
  await FG.header("/audit");
  await actionChoices();
  form.elements.action.value = shown.get("action") || "";
  more();
})();
