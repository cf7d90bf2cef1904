// FaceGate pages: a few helpers shared by every page. No framework, nothing from a CDN.
"use strict";
// The login cookie (HttpOnly) authenticates every call; a change also echoes the CSRF cookie in a header,
// which another site's page cannot read.
const FG = {
  csrf() { return (document.cookie.split("; ").find(c => c.startsWith("facegate_csrf=")) || "").slice(14); },
  async api(path, options = {}) {
    const headers = Object.assign({"Content-Type": "application/json"}, options.headers || {});
    if ((options.method || "GET") !== "GET") headers["X-CSRF-Token"] = FG.csrf();
    const response = await fetch(path, Object.assign({}, options, {headers}));
    if (response.status === 401 && path !== "/api/auth/token") { location.href = "/login"; throw new Error("not logged in"); }
    const body = response.headers.get("content-type")?.includes("json") ? await response.json() : await response.text();
    if (!response.ok) throw new Error(typeof body === "object" ? (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail)) : body);
    return body;
  },
  esc(value) { return String(value ?? "").replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c])); },
  time(iso) { return iso ? new Date(iso).toLocaleTimeString() : ""; },
  async header(active) {
    const me = await FG.api("/api/me");
    const links = {operator: [["Live gate", "/gate"]], supervisor: [["Live gate", "/gate"], ["Exam review", "/exam"]],
      admin: [["Live gate", "/gate"], ["Exam review", "/exam"], ["Devices & people", "/admin"], ["Audit", "/audit"]],
      auditor: [["Audit", "/audit"]]}[me.role] || [];
    document.querySelector("header").innerHTML = "<strong>FaceGate</strong>" +
      links.map(([name, href]) => `<a href="${href}" class="${href === active ? "active" : ""}">${name}</a>`).join("") +
      `<span class="who">${FG.esc(me.name)} (${me.role}) · <a href="#" id="logout">log out</a></span>`;
    document.getElementById("logout").onclick = async (event) => {  // the server revokes the session and clears the cookies
      event.preventDefault();
      try { await FG.api("/api/auth/logout", {method: "POST"}); } finally { location.href = "/login"; }
    };
    return me;
  },
  beep() {
    try { const ctx = new AudioContext(), osc = ctx.createOscillator(); osc.frequency.value = 880; osc.connect(ctx.destination); osc.start(); osc.stop(ctx.currentTime + 0.25); } catch (e) { /* no audio device */ }
  },
};
