"""HTML rendered by the server: the page shells and the exam report, in the reader's language.

Jinja2 with autoescape on (every value is escaped unless marked), templates in
`web/`, and `_` the reader's catalogue (gateway/i18n). Pages carry their
language's messages and the sites' time zone for their script.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from gateway.api.deps import gateway
from gateway.api.security import PAGE_CSP
from gateway.errors import Unavailable
from gateway.i18n import LANGUAGES, Catalogue, catalogue, pick_language
from gateway.storage import Session

WEB = Path(__file__).resolve().parent / "web"
TEMPLATES = Environment(loader=FileSystemLoader(WEB), autoescape=True, undefined=StrictUndefined)
PAGE_HEADERS = {"Cache-Control": "no-store", "Content-Security-Policy": PAGE_CSP}  # SecurityHeaders keeps a route's CSP
LANGUAGE_COOKIE = "facegate_lang"  # the login page's choice, for a browser whose user has not chosen (or logged in)


def reader_language(request: Request, session: Session | None, accept_language: bool = False) -> str:
    """The user's language, else the browser's cookie, else (with `accept_language`: for API clients, which say
    what they read in their Accept-Language header) the first of ours the client accepts, else the default."""
    asked = _accepted(request.headers.get("accept-language", "")) if accept_language else []
    return pick_language(session.user.language if session else None, request.cookies.get(LANGUAGE_COOKIE), *asked,
                         default=gateway(request).config.default_language)


def reader_words(request: Request, session: Session | None, accept_language: bool = False) -> Catalogue:
    """The catalogue of the reader's language (`reader_language`): what an answer in their words is written with."""
    return catalogue(reader_language(request, session, accept_language))


def _accepted(header: str) -> list[str]:
    """The languages of an Accept-Language header, most wanted first ("en-US,en;q=0.9,vi;q=0.8" -> en, en, vi)."""
    ranked = []
    for i, part in enumerate(header.split(",")):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            continue
        ranked.append((-weight, i, tag.split("-")[0].strip().lower()))
    return [tag for _w, _i, tag in sorted(ranked) if tag]


def render_text(template: str, language: str, **context) -> str:
    """`template` in `language` (its `_` translates)."""
    return TEMPLATES.get_template(template).render(_=catalogue(language).gettext, lang=language, **context)


def html_to_pdf(text: str) -> bytes:
    """An A4 PDF of a self-contained HTML document (WeasyPrint). Nothing is fetched: only inline `data:`
    pictures are read, so a value in the document can never make the gateway load an address."""
    try:
        from weasyprint import HTML  # Pango, a system library, is only needed here
        from weasyprint.urls import URLFetcher
    except OSError as exc:  # the library is there, Pango is not
        raise Unavailable("PDF needs the Pango library on the gateway's machine (Debian: libpango-1.0-0); "
                          "print the HTML report instead") from exc
    return HTML(string=text, url_fetcher=URLFetcher(allowed_protocols={"data"})).write_pdf()


def render_page(request: Request, template: str, language: str, status_code: int = 200,
                page_data: dict | None = None, **context) -> HTMLResponse:
    """A page in `language`, carrying (language, its messages, the sites' time zone, and `page_data`) for its
    script."""
    page = {"lang": language, "languages": LANGUAGES, "tz": gateway(request).config.time_zone,
            "messages": catalogue(language).messages, "default_lang": gateway(request).config.default_language,
            **(page_data or {})}
    return HTMLResponse(render_text(template, language, page=page, **context), status_code=status_code,
                        headers=PAGE_HEADERS)
