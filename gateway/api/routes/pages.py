"""The web pages: plain HTML and a little JavaScript shipped in the package (no build step, no CDN).

Each page is a static shell; its data comes from the JSON API, so the API's
role checks are the ones that count. The server also refuses to serve a page to
a role it is not for (an operator gets a 403 page for /admin), and sends
someone not logged in to /login, which brings them back afterwards (and says
so when their session expired or was revoked). Pages use the login cookie; their changes echo
the CSRF cookie in a header (gateway/api/deps.py). The API documentation is
served from the package too (Swagger UI's files, as fastapi-offline ships them).
"""

from __future__ import annotations

import html
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from gateway.api.deps import current_session, request_token
from gateway.api.security import PAGE_CSP

router = APIRouter(include_in_schema=False)

WEB = Path(__file__).resolve().parents[1] / "web"
DOCS = Path(str(files("fastapi_offline") / "static"))
PAGES = {  # path -> (file, roles)
    "/gate": ("gate.html", ("operator", "supervisor", "admin")),
    "/exam": ("exam.html", ("supervisor", "admin")),
    "/admin": ("admin.html", ("admin",)),
    "/audit": ("audit.html", ("auditor", "admin")),
}
PAGE_HEADERS = {"Cache-Control": "no-store", "Content-Security-Policy": PAGE_CSP}  # SecurityHeaders keeps a route's CSP
HOME = {"operator": "/gate", "supervisor": "/exam", "admin": "/admin", "auditor": "/audit"}
STATIC = {"style.css": (WEB, "text/css"), **{f"{name}.js": (WEB, "text/javascript") for name in (
              "app", "docs", "login", "gate", "exam", "admin", "audit")},
          "swagger-ui-bundle.js": (DOCS, "text/javascript"), "swagger-ui.css": (DOCS, "text/css")}


@router.get("/")
def home(request: Request) -> Response:
    session = current_session(request)
    return RedirectResponse(HOME[session.user.role] if session else "/login", status_code=303)


@router.get("/login")
def login_page() -> FileResponse:
    return FileResponse(WEB / "login.html", media_type="text/html", headers=PAGE_HEADERS)


@router.get("/docs")
def api_docs() -> HTMLResponse:
    """Swagger UI from the package's own files: nothing is fetched from elsewhere."""
    return HTMLResponse('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>FaceGate API</title>'
                        '<link rel="stylesheet" href="/static/swagger-ui.css"></head><body><div id="swagger-ui"></div>'
                        '<script src="/static/swagger-ui-bundle.js"></script><script src="/static/docs.js"></script>'
                        '</body></html>')


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in STATIC:
        return Response(status_code=404)
    folder, media_type = STATIC[name]
    return FileResponse(folder / name, media_type=media_type, headers={"Cache-Control": "no-cache"})


def _login_url(request: Request) -> str:
    """The login page, coming back here afterwards; saying the session expired if the browser still held one."""
    token, _ = request_token(request)
    query = {"next": request.url.path + (f"?{request.url.query}" if request.url.query else "")}
    return "/login?" + urlencode(({"expired": "1"} if token else {}) | query)


def _page(file: str, roles: tuple[str, ...]):
    def page(request: Request) -> Response:
        session = current_session(request)
        if session is None:
            return RedirectResponse(_login_url(request), status_code=303)
        if session.user.role not in roles:
            return HTMLResponse(_forbidden(session.user.role, roles), status_code=403)
        return FileResponse(WEB / file, media_type="text/html", headers=PAGE_HEADERS)
    return page


for _path, (_file, _roles) in PAGES.items():
    router.add_api_route(_path, _page(_file, _roles), methods=["GET"])


def _forbidden(role: str, roles: tuple[str, ...]) -> str:
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1"><title>Not for your role</title>'
            f'<link rel="stylesheet" href="/static/style.css"></head><body><main class="narrow">'
            f'<h1>Not for your role</h1><p>This page is for {html.escape(", ".join(roles))}; you are logged in as '
            f'{html.escape(role)}.</p><p><a href="{HOME[role]}">Back to your page</a></p></main></body></html>')
