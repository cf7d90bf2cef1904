"""Every error the API answers with, mapped in one place.

Service errors map by kind (gateway/errors.py); a request that does not fit a
route's model gets 422 naming the field and the problem -- never echoing the
value sent, which may be a password.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from gateway.errors import Conflict, GatewayError, Invalid, NotFound, TooManyAttempts, Unavailable

STATUS = {NotFound: 404, Conflict: 409, Invalid: 422, Unavailable: 503, TooManyAttempts: 429}


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def gateway_error(request: Request, exc: GatewayError) -> JSONResponse:
        status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
        headers = {"Retry-After": str(max(1, round(exc.retry_after_s)))} if isinstance(exc, TooManyAttempts) else None
        return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "invalid"),
                                         "type": e.get("type", "value_error")} for e in exc.errors()]},
                            status_code=422)
