"""HTTP hardening applied to every response and request, before any route runs.

- `BodyLimit`: a request body larger than its route allows is refused with 413
  while it arrives -- before it is parsed or held in memory -- whether or not
  it says its length up front.
- `LoginGate`: a client address backing off after failed logins is answered
  429 before its request is read or parsed, so a flood of logins costs the
  server next to nothing and the rest of the API stays quick.
- `SecurityHeaders`: a Content-Security-Policy that admits only the gateway's
  own scripts, styles and images (no inline script: a string a device or a
  visitor smuggles into a page cannot run), no framing, no MIME sniffing, no
  referrer; and no caching of API answers.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# FaceGate's own pages (not the vendored API docs): the browser itself refuses to parse HTML into a page except
# through the one Trusted Types policy, `facegate`, which FG.fill holds (web/app.js) and which takes only what
# FG.html escaped. A sink added anywhere else throws instead of rendering.
PAGE_CSP = CSP + "; require-trusted-types-for 'script'; trusted-types facegate"
HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
           (b"x-frame-options", b"DENY"), (b"referrer-policy", b"no-referrer"),
           (b"cross-origin-opener-policy", b"same-origin")]


class BodyTooLarge(HTTPException):
    """Raised while the body arrives; an HTTPException so that a route parsing the body answers 413 with it."""

    def __init__(self, limit: int):
        super().__init__(413, f"request body too large (at most {limit} bytes here)")


class BodyLimit:
    """Refuse request bodies over `default` bytes, or over `per_route[(method, path)]` for the routes named."""

    def __init__(self, app: ASGIApp, default: int, per_route: dict[tuple[str, str], int] | None = None):
        self.app, self.default, self.per_route = app, default, per_route or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.per_route.get((scope["method"], scope["path"]), self.default)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await _too_large(send, limit)
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _too_large(send, limit)


async def _too_large(send: Send, limit: int) -> None:
    body = b'{"detail":"request body too large (at most %d bytes here)"}' % limit
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class LoginGate:
    """Refuse logins from an address in back-off (gateway.services.security.auth.LoginThrottle) at the door."""

    PATH = "/api/auth/token"

    def __init__(self, app: ASGIApp, throttle):
        self.app, self.throttle = app, throttle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.PATH and scope["method"] == "POST":
            address = (scope.get("client") or ("unknown", 0))[0]
            wait = self.throttle.wait_s(f"address:{address}")
            if wait > 0:
                body = b'{"detail":"too many failed logins from this address; try again in %d s"}' % max(1, round(wait))
                await send({"type": "http.response.start", "status": 429, "headers": [
                    (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(max(1, round(wait))).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """Add the security headers to every response (a route may set its own CSP; it is kept)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        # Whatever a token reads -- the API, and /metrics with its device names and sites -- no cache may keep.
        api = scope["path"].startswith("/api/") or scope["path"] == "/metrics"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in HEADERS if n not in present]
                if api and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
