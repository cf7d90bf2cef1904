"""The web pages: plain HTML and a little JavaScript shipped in the package (no build step, no CDN).

Each page is a static shell; its data comes from the JSON API, so the API's
role checks are the ones that count. The server also refuses to serve a page to
a role it is not for (an operator gets a 403 page for /admin), and sends
someone not logged in to /login. Pages read with the login cookie; changes are
sent with the bearer token the login page keeps in the tab's sessionStorage.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from gateway.auth import request_token

WEB = Path(__file__).parent / "web"
PAGES = {  # path -> (file, roles)
    "/gate": ("gate.html", ("operator", "supervisor", "admin")),
    "/exam": ("exam.html", ("supervisor", "admin")),
    "/admin": ("admin.html", ("admin",)),
    "/audit": ("audit.html", ("auditor", "admin")),
}
HOME = {"operator": "/gate", "supervisor": "/exam", "admin": "/admin", "auditor": "/audit"}
STATIC = {"app.js": "text/javascript", "style.css": "text/css"}


def add_pages(app: FastAPI) -> None:
    def user_of(request: Request):
        token = request_token(request)
        return request.app.state.auth.user_for(token) if token else None

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        user = user_of(request)
        return RedirectResponse(HOME[user.role] if user else "/login", status_code=303)

    @app.get("/login", include_in_schema=False)
    def login_page() -> FileResponse:
        return FileResponse(WEB / "login.html", media_type="text/html")

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in STATIC:
            return Response(status_code=404)
        return FileResponse(WEB / name, media_type=STATIC[name], headers={"Cache-Control": "no-cache"})

    for path, (file, roles) in PAGES.items():
        def page(request: Request, file=file, roles=roles) -> Response:
            user = user_of(request)
            if user is None:
                return RedirectResponse("/login", status_code=303)
            if user.role not in roles:
                return HTMLResponse(_forbidden(user.role, roles), status_code=403)
            return FileResponse(WEB / file, media_type="text/html")
        app.add_api_route(path, page, methods=["GET"], include_in_schema=False)


def _forbidden(role: str, roles: tuple[str, ...]) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Not for your role</title>'
            f'<link rel="stylesheet" href="/static/style.css"></head><body><main class="narrow">'
            f'<h1>Not for your role</h1><p>This page is for {", ".join(roles)}; you are logged in as {role}.</p>'
            f'<p><a href="{HOME[role]}">Back to your page</a></p></main></body></html>')
