"""Every error the API answers with, mapped in one place, in the asker's language.

Service errors map by kind (gateway/errors.py); a request that does not fit a
route's model gets 422 naming the field and the problem -- never echoing the
value sent, which may be a password. Messages are translated here (the
asker's language: theirs, else the language cookie, else what the client's
Accept-Language asks for, else the default); a message missing from the
catalogue stays in English.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from gateway.api.deps import current_session
from gateway.api.templates import reader_words
from gateway.errors import (Conflict, GatewayError, Invalid, NotAuthenticated, NotFound, RowsInvalid, TooManyAttempts,
                            Unavailable)
from gateway.i18n import N_, Catalogue, catalogue

STATUS = {NotFound: 404, Conflict: 409, Invalid: 422, Unavailable: 503, TooManyAttempts: 429, NotAuthenticated: 401}
# A field's problem in words, by pydantic's error type; others keep pydantic's own (English) message.
FIELD_PROBLEMS = {
    "missing": N_("required"),
    "string_pattern_mismatch": N_("not in the expected form"),
    "literal_error": N_("not one of the choices"),
    "enum": N_("not one of the choices"),
    "int_parsing": N_("must be a whole number"),
    "float_parsing": N_("must be a number"),
    "bool_parsing": N_("must be true or false"),
    "datetime_from_date_parsing": N_("not a date and time"),
    "datetime_parsing": N_("not a date and time"),
    "date_from_datetime_parsing": N_("not a date"),
    "date_parsing": N_("not a date"),
    "json_invalid": N_("not valid JSON"),
}


def _problem(error: dict, words: Catalogue) -> str:
    """One field's problem in the asker's words."""
    kind, limits = error.get("type"), error.get("ctx") or {}
    if kind == "string_too_short":
        n = limits.get("min_length", 1)
        return words.gettext("must not be empty") if n == 1 else words.gettext("must have at least {n} characters", n=n)
    if kind == "string_too_long":
        return words.gettext("must have at most {n} characters", n=limits.get("max_length", "?"))
    return words.gettext(FIELD_PROBLEMS.get(kind, error.get("msg", "invalid")))


def _words(request: Request) -> Catalogue:
    try:
        return reader_words(request, current_session(request), accept_language=True)
    except Exception:  # an error page must never fail for want of a language: the default's words then
        return catalogue("en")


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def gateway_error(request: Request, exc: GatewayError) -> JSONResponse:
        status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
        headers = {"Retry-After": str(max(1, round(exc.retry_after_s)))} if isinstance(exc, TooManyAttempts) else None
        words = _words(request)
        body = {"detail": words.gettext(exc.message, **exc.params)}
        if isinstance(exc, RowsInvalid):  # a file's problems, each by row and field, in the asker's words
            body["problems"] = [{"row": p.row, "field": words.gettext(p.field), "message": words.gettext(
                p.message, **p.params)} for p in exc.problems]
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        if isinstance(exc.detail, str):
            exc.detail = _words(request).gettext(exc.detail)
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        words = _words(request)
        return JSONResponse({"detail": [{"loc": list(e.get("loc", ())),
                                         "msg": _problem(e, words),
                                         "type": e.get("type", "value_error")} for e in exc.errors()]},
                            status_code=422)
