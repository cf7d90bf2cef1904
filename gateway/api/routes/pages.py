"""The web pages: HTML templates and a little JavaScript shipped in the package (no build step, no CDN).

Each page is a shell rendered in the user's language (gateway/i18n: their own
choice, else the language cookie the login page sets, else the gateway's
default) with that language's messages and the site's time zone handed to its
script; its data comes from the JSON API, so the API's
role checks are the ones that count. The server also refuses to serve a page to
a role it is not for (an operator gets a 403 page for /admin), and sends
someone not logged in to /login, which brings them back afterwards (and says
so when their session expired or was revoked). Pages use the login cookie; their changes echo
the CSRF cookie in a header (gateway/api/deps.py). The API documentation is
served from the package too (Swagger UI's files, as fastapi-offline ships them).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from gateway.api.deps import current_session, gateway, request_token
from gateway.services.devices.kiosks import kiosk_setup
from gateway.services.security.auth import KIOSK
from gateway.api.templates import LANGUAGE_COOKIE, WEB, reader_language, render_page
from gateway.i18n import LANGUAGES, catalogue, pick_language

router = APIRouter(include_in_schema=False)

DOCS = Path(str(files("fastapi_offline") / "static"))
VENDOR = Path(__file__).resolve().parent.parent / "vendor"  # pinned third-party scripts (vendor/README.md)
PAGES = {  # path -> (file, roles)
    "/gate": ("gate.html", ("operator", "supervisor", "admin")),
    "/kiosk": ("kiosk.html", ("operator", "supervisor", "admin", KIOSK)),
    "/exam": ("exam.html", ("supervisor", "admin")),
    "/exam/day": ("day.html", ("supervisor", "admin")),
    "/door": ("door.html", ("supervisor", "admin", KIOSK)),
    "/admin": ("admin.html", ("admin",)),
    "/audit": ("audit.html", ("auditor", "admin")),
    "/numbers": ("numbers.html", ("operator", "supervisor", "admin", "auditor")),
}
HOME = {"operator": "/gate", "supervisor": "/exam", "admin": "/admin", "auditor": "/audit", KIOSK: "/kiosk"}
STATIC = {"style.css": (WEB, "text/css"), **{f"{name}.js": (WEB, "text/javascript") for name in (
              "app", "docs", "login", "gate", "kiosk", "door", "exam", "day", "admin", "audit", "numbers")},
          "chart.umd.min.js": (VENDOR, "text/javascript"),
          "swagger-ui-bundle.js": (DOCS, "text/javascript"), "swagger-ui.css": (DOCS, "text/css")}


@router.get("/")
def home(request: Request) -> Response:
    session = current_session(request)
    return RedirectResponse(HOME[session.user.role] if session else "/login", status_code=303)


@router.get("/login")
def login_page(request: Request, lang: str | None = None) -> HTMLResponse:
    """The login page, in the language picked on it (`?lang=`, remembered in a cookie) or the default."""
    language = pick_language(lang, default=reader_language(request, None))

    def query(code: str) -> str:  # this page's own address in another language, keeping where to return
        return urlencode([(k, v) for k, v in request.query_params.items() if k != "lang"] + [("lang", code)])

    response = render_page(request, "login.html", language, languages=LANGUAGES, query=query)
    if lang in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, lang, max_age=365 * 86400, samesite="strict")
    return response


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
        language = reader_language(request, session)
        if session.user.role == KIOSK:
            return _kiosk_screen(request, session, file, language)
        if session.user.role not in roles:
            words = catalogue(language)
            return render_page(request, "forbidden.html", language, status_code=403, home=HOME[session.user.role],
                          role=words.gettext(session.user.role), roles=", ".join(words.gettext(r) for r in roles))
        return render_page(request, file, language)
    return page


def _kiosk_screen(request: Request, session, file: str, language: str) -> Response:
    """A kiosk's own login sees its kiosk's screen and nothing else -- the visitor's (/kiosk), or the candidate's at
    an exam room's door (/door) when it is set up as one -- in the language the visitor picks on it (`?lang=`, kept
    in the browser until the next visitor's start puts the kiosk's own back)."""
    own = "door.html" if kiosk_setup(gateway(request).store, session.user.device,
                                     gateway(request).config.time_zone).mode == "checkin" else "kiosk.html"
    if file != own:
        return RedirectResponse("/door" if own == "door.html" else HOME[KIOSK], status_code=303)
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        language = asked
    kiosk = gateway(request).config.kiosk
    response = render_page(request, file, language, page_data={"kiosk": session.user.device,
                                                                "back_s": kiosk.back_to_start_s, "idle_s": kiosk.idle_s})
    if asked in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, asked, max_age=365 * 86400, samesite="strict")
    return response


for _path, (_file, _roles) in PAGES.items():
    router.add_api_route(_path, _page(_file, _roles), methods=["GET"])

