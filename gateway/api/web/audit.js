// The audit page (served as a file: the pages' CSP admits no inline script).
"use strict";
async function entries() {
  let all = [], after = 0;
  for (;;) { const page = await FG.api(`/api/audit?after=${after}&limit=1000`); all = all.concat(page); if (page.length < 1000) break; after = page[page.length - 1].seq; }
  FG.fill(document.getElementById("entries"), FG.html`${all.slice(-200).reverse().map(e => FG.html`<tr><td>${e.seq}</td><td>${new Date(e.at).toLocaleString()}</td>
    <td>${e.actor}</td><td>${e.action}</td><td>${e.target ?? ""}</td><td class="muted">${JSON.stringify(e.detail)}</td></tr>`)}`);
}
document.getElementById("verify").onclick = async () => {
  const r = await FG.api("/api/audit/verify");
  const out = document.getElementById("result");
  out.className = r.ok ? "ok" : "error";
  out.textContent = r.ok ? `intact: ${r.entries} entries, ${r.events} events checked` : `BROKEN at entry ${r.first_broken}: ${r.reason}`;
  entries();
};
(async () => { await FG.header("/audit"); entries(); })();
