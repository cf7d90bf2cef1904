"""Secrets taken out of URLs before anything is shown or logged.

A camera's source (`rtsp://admin:PASSWORD@10.0.0.5/stream1`), a door controller's
or a webhook's address (`https://user:pw@door.local/hook?token=...`) carry
credentials. Whatever FaceGate puts in a heartbeat, an event, a log line or an
error message about them goes through `redact`: the password of the URL's login
and the values of query parameters that name a secret become `***`
(`rtsp://admin:***@10.0.0.5/stream1`). The URLs themselves, with their secrets,
stay in the device's configuration and are used as they are.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"
# Query parameters whose values are secrets (compared lower-case, without - and _).
SECRET_PARAMETERS = frozenset({"token", "accesstoken", "apikey", "key", "password", "passwd", "pwd", "pass", "secret",
                               "sig", "signature", "auth", "authorization", "credentials", "session", "sessionid",
                               "code", "jwt"})
# A URL in running text: a scheme, "://", then everything up to a space, a quote or a bracket.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>()\[\]{}]+")


def redact_url(url: str) -> str:
    """`url` with the password of its login and its secret query values masked; unchanged if it holds neither."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        login, host = netloc.rsplit("@", 1)
        # A user name alone may itself be a token (https://TOKEN@host): only a name with a password is kept.
        netloc = f"{login.split(':', 1)[0]}:{MASK}@{host}" if ":" in login else f"{MASK}@{host}"
    # Each parameter as written: only a secret's value changes.
    query = "&".join(f"{field.split('=', 1)[0]}={MASK}" if "=" in field and _secret(unquote(field.split("=", 1)[0]))
                     else field for field in parts.query.split("&")) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact(text: str) -> str:
    """`text` (a message, an error, a source) with every URL in it passed through `redact_url`."""
    return _URL.sub(lambda match: redact_url(match.group(0)), text) if "://" in text else text


def _secret(name: str) -> bool:
    return name.lower().replace("-", "").replace("_", "") in SECRET_PARAMETERS
