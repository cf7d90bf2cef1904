// The login page (served as a file: the pages' CSP admits no inline script).
"use strict";
const params = new URLSearchParams(location.search);
// Back to the page the user was on -- a path on this site only, never another site's address.
const next = params.get("next") || "";
const target = /^\/(?![\/\\])/.test(next) && !next.startsWith("/login") ? next : "/";
if (params.get("expired") === "1") {
  const notice = document.getElementById("notice");
  notice.textContent = FG.t("Your session expired or was ended. Log in again to go back to where you were.");
  notice.hidden = false;
}
document.getElementById("login").onsubmit = async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    await FG.api("/api/auth/token", {method: "POST", body: JSON.stringify({username: form.get("username"), password: form.get("password")})});
    location.replace(target);
  } catch (e) { document.getElementById("message").textContent = e.message; }
};
