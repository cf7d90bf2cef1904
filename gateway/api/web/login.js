// The login page (served as a file: the pages' CSP admits no inline script).
"use strict";
document.getElementById("login").onsubmit = async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    await FG.api("/api/auth/token", {method: "POST", body: JSON.stringify({username: form.get("username"), password: form.get("password")})});
    location.href = "/";
  } catch (e) { document.getElementById("message").textContent = e.message; }
};
