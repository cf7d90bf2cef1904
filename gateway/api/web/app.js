// FaceGate pages: a few helpers shared by every page. No framework, nothing from a CDN.
"use strict";
// The login cookie (HttpOnly) authenticates every call; a change also echoes the CSRF cookie in a header,
// which another site's page cannot read.
class SafeHTML { constructor(text) { this.text = text; } }  // HTML known to be safe: only FG.html makes it
// The page's one Trusted Types policy (its CSP names no other, and allows it once): the only way HTML reaches the
// page, and only FG.fill uses it. Browsers without Trusted Types fall back to the plain assignment.
const HTML_POLICY = window.trustedTypes ? trustedTypes.createPolicy("facegate", {createHTML: text => text}) : null;
// What the server rendered the page with: its language, that language's messages, the sites' time zone.
const FG_PAGE = JSON.parse(document.getElementById("fg-page").textContent);
// dd/mm/yyyy and 24-hour, in the sites' zone whatever the PC is set to.
const CLOCK = new Intl.DateTimeFormat("en-GB", {timeZone: FG_PAGE.tz, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"});
const FG = {
  // A message in the page's language (the English text is the key: gateway/i18n), placeholders {name} filled.
  t(message, params = {}) {
    return (FG_PAGE.messages[message] || message).replace(/\{(\w+)\}/g, (all, name) => name in params ? String(params[name]) : all);
  },
  csrf() { return (document.cookie.split("; ").find(c => c.startsWith("facegate_csrf=")) || "").slice(14); },
  async api(path, options = {}) {
    const headers = Object.assign({"Content-Type": "application/json"}, options.headers || {});
    if ((options.method || "GET") !== "GET") headers["X-CSRF-Token"] = FG.csrf();
    // A page refreshing itself is not someone working: it must not keep an idle session alive.
    if (options.background) headers["X-FaceGate-Background"] = "1";
    const {background, ...init} = options;
    const response = await fetch(path, Object.assign(init, {headers}));
    if (response.status === 401 && path !== "/api/auth/token") { FG.toLogin(true); throw new Error("not logged in"); }
    const body = response.headers.get("content-type")?.includes("json") ? await response.json() : await response.text();
    if (!response.ok) {
      const error = new Error(typeof body === "object" ? FG.plainError(body.detail) : body);
      error.status = response.status;
      error.body = body;  // e.g. a refused list's problems, by row and field
      throw error;
    }
    return body;
  },
  // An API refusal in words: a validator's list becomes "note: String should have at least 1 character".
  plainError(detail) {
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) return detail.map(d => (d.loc ? d.loc[d.loc.length - 1] + ": " : "") + d.msg).join("; ");
    return JSON.stringify(detail);
  },
  // A refusal beside what it is about: under each field the server named (marked invalid for a screen reader), or
  // else beside the form's button (or the element given) -- never at the foot of a long page. `FG.cleared` takes
  // them away again: the next success.
  refused(where, err) {
    const form = where.tagName === "FORM" ? where : null;
    FG.cleared(where);
    const detail = err.body && err.body.detail;
    const named = form && Array.isArray(detail) ? detail.filter(d => d.loc && form.elements[d.loc[d.loc.length - 1]]) : [];
    const say = (after, text) => {
      const note = document.createElement("span");
      note.className = "refusal error";
      note.setAttribute("role", "alert");
      note.textContent = text;
      after.after(note);
    };
    for (const d of named) {
      const field = form.elements[d.loc[d.loc.length - 1]];
      const input = field instanceof RadioNodeList ? field[0] : field;
      input.setAttribute("aria-invalid", "true");
      say(input.closest("label") || input, d.msg);
    }
    if (!named.length) say(form ? (form.querySelector("button[type=submit]") || form.lastElementChild) : where, err.message);
  },
  cleared(where) {
    const scope = where.tagName === "FORM" ? where : where.parentElement;
    for (const note of scope.querySelectorAll(".refusal")) note.remove();
    for (const field of scope.querySelectorAll("[aria-invalid]")) field.removeAttribute("aria-invalid");
  },
  // The login page, which comes back here afterwards (and says the session expired, when it did).
  toLogin(expired) {
    if (FG.leaving) return;  // the stream and a request may both find the session over: go once
    FG.leaving = true;
    const query = new URLSearchParams({next: location.pathname + location.search});
    if (expired) query.set("expired", "1");
    location.replace("/login?" + query);
  },
  esc(value) { return String(value ?? "").replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c])); },
  // HTML is only ever built with this tag: every ${value} is escaped -- whoever typed it, a device, a visitor or an
  // operator -- unless it is a fragment this tag made (or an array of them), which is inserted as it is.
  html(strings, ...values) {
    const piece = v => v instanceof SafeHTML ? v.text : Array.isArray(v) ? v.map(piece).join("") : FG.esc(v);
    return new SafeHTML(strings.reduce((out, s, i) => out + piece(values[i - 1]) + s));
  },
  // ... and only ever put into a page with this one, which takes nothing else.
  fill(element, fragment) {
    if (!(fragment instanceof SafeHTML)) throw new TypeError("FG.fill takes HTML made with FG.html");
    element.innerHTML = HTML_POLICY ? HTML_POLICY.createHTML(fragment.text) : fragment.text;
  },
  // The parts of an instant on the sites' clock: {day, month, year, hour, minute, second}.
  clock(iso) { return Object.fromEntries(CLOCK.formatToParts(new Date(iso)).map(p => [p.type, p.value])); },
  time(iso) { if (!iso) return ""; const c = FG.clock(iso); return `${c.hour}:${c.minute}:${c.second}`; },
  date(iso) { if (!iso) return ""; const c = FG.clock(iso); return `${c.day}/${c.month}/${c.year}`; },
  dateTime(iso) { return iso ? `${FG.date(iso)} ${FG.time(iso)}` : ""; },
  // A day, and optionally a time, typed the way the sites write them: "02/12/2026" or "02/12/2026 07:30"
  // (24-hour); [year, month, day, hour, minute] as numbers, or null if it is not one.
  parseLocal(text) {
    const m = /^\s*(\d{1,2})\/(\d{1,2})\/(\d{4})(?:\s+(\d{1,2}):(\d{2}))?\s*$/.exec(text || "");
    if (!m) return null;
    const [d, mo, y, h = 0, mi = 0] = m.slice(1).map(v => Number(v || 0));
    const check = new Date(Date.UTC(y, mo - 1, d, h, mi));
    return check.getUTCDate() === d && check.getUTCMonth() === mo - 1 && h < 24 && mi < 60 ? [y, mo, d, h, mi] : null;
  },
  // Fields for a day or a time in that form: the browser says what is wrong, in the page's words.
  dayFields(form) {
    for (const input of form.querySelectorAll("input.when")) {
      input.oninput = () => input.setCustomValidity(!input.value || FG.parseLocal(input.value) ? "" :
        input.dataset.day ? FG.t("a day as dd/mm/yyyy, e.g. 02/12/2026") : FG.t("a time as dd/mm/yyyy hh:mm, e.g. 02/12/2026 07:30"));
      input.oninput();
    }
  },
  // A wall-clock time typed on a page (the sites' zone) as the instant it names (ISO, UTC).
  siteInstant(text) {
    const [y, mo, d, h, mi] = FG.parseLocal(text);
    const guess = Date.UTC(y, mo - 1, d, h, mi), c = FG.clock(new Date(guess).toISOString());  // its offset there
    const shown = Date.UTC(+c.year, +c.month - 1, +c.day, +c.hour, +c.minute, +c.second);
    return new Date(guess - (shown - guess)).toISOString();
  },
  // Role names, looked up by value.
  role(name) { return {operator: FG.t("operator"), supervisor: FG.t("supervisor"), admin: FG.t("admin"), auditor: FG.t("auditor"), kiosk: FG.t("kiosk"), ticketing: FG.t("ticketing")}[name] || name; },
  async header(active) {
    const me = await FG.api("/api/me");
    const gate = [FG.t("Live gate"), "/gate"], exam = [FG.t("Exam review"), "/exam"], kiosk = [FG.t("Kiosk"), "/kiosk"];
    const day = [FG.t("Exam day"), "/exam/day"], door = [FG.t("Exam door"), "/door"];
    const numbers = [FG.t("Numbers"), "/numbers"];
    const links = {operator: [gate, numbers, kiosk], supervisor: [gate, numbers, day, exam, door, kiosk],
      admin: [gate, numbers, day, exam, door, kiosk, [FG.t("Devices & people"), "/admin"], [FG.t("Audit"), "/audit"]],
      auditor: [numbers, [FG.t("Audit"), "/audit"]]}[me.role] || [];
    FG.fill(document.querySelector("header"), FG.html`<strong>FaceGate</strong><nav aria-label="${FG.t("Pages")}">${
      links.map(([name, href]) => FG.html`<a href="${href}" class="${href === active ? "active" : ""}"${href === active ? FG.html` aria-current="page"` : ""}>${name}</a>`)
    }</nav><span class="who">${me.name} (${FG.role(me.role)}) · <label><span class="sr-only">${FG.t("Language")}</span><select id="language">${
      Object.entries(FG_PAGE.languages).map(([code, name]) => FG.html`<option value="${code}" lang="${code}"${code === FG_PAGE.lang ? FG.html` selected` : ""}>${name}</option>`)
    }</select></label> · <button type="button" class="link" id="logout">${FG.t("log out")}</button></span>`);
    document.getElementById("language").onchange = async (event) => {  // kept with the user, on every PC they use
      await FG.api("/api/me/language", {method: "PUT", body: JSON.stringify({language: event.target.value})});
      location.reload();
    };
    document.getElementById("logout").onclick = async () => {  // the server revokes the session and clears the cookies
      try { await FG.api("/api/auth/logout", {method: "POST"}); } finally { location.href = "/login"; }
    };
    return me;
  },
  beep() {
    try { const ctx = new AudioContext(), osc = ctx.createOscillator(); osc.frequency.value = 880; osc.connect(ctx.destination); osc.start(); osc.stop(ctx.currentTime + 0.25); } catch (e) { /* no audio device */ }
  },
};
