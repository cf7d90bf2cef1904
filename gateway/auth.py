"""Users, roles, passwords and bearer tokens.

Passwords are hashed with Argon2id (memory-hard, argon2-cffi's defaults:
64 MiB, 3 passes). A login returns a random bearer token; only its SHA-256 is
stored, with an expiry. Every API route declares the roles it admits with
`require(...)`: no or bad token -> 401, a role not in the list -> 403.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import HTTPException, Request

from gateway.audit import AuditEntry
from gateway.storage import Storage, User
from wire.events import utc_text

ROLES = ("admin", "supervisor", "operator", "auditor")
MIN_PASSWORD_LENGTH = 10


class AuthError(ValueError):
    """A user cannot be created as asked."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Auth:
    def __init__(self, storage: Storage, token_ttl_s: float = 8 * 3600):
        self.storage = storage
        self.token_ttl_s = token_ttl_s
        self._hasher = PasswordHasher()
        # Verifying against this keeps a login for an unknown user as slow as for a known one.
        self._dummy_hash = self._hasher.hash(secrets.token_hex(8))

    def add_user(self, name: str, role: str, password: str, actor: str = "system") -> None:
        if role not in ROLES:
            raise AuthError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise AuthError("user name: 1-64 letters, digits, '-', '_' or '.'")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise AuthError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
        if self.storage.user(name):
            raise AuthError(f"user {name!r} already exists")
        now = utc_text(_now())
        self.storage.add_user(name, role, self._hasher.hash(password), now)
        self.storage.append_audit(AuditEntry(now, actor, "user.added", name, {"role": role}))

    def login(self, name: str, password: str) -> tuple[str, str] | None:
        """(token, expires_at) for a right password, else None."""
        user = self.storage.user(name)
        try:
            self._hasher.verify(user.password_hash if user else self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None or user.disabled:
            return None
        if self._hasher.check_needs_rehash(user.password_hash):
            self.storage.set_password(name, self._hasher.hash(password))
        token = secrets.token_urlsafe(32)
        now = _now()
        expires = utc_text(now + timedelta(seconds=self.token_ttl_s))
        self.storage.add_token(_token_hash(token), name, expires, utc_text(now))
        return token, expires

    def user_for(self, token: str) -> User | None:
        user = self.storage.token_user(_token_hash(token), utc_text(_now()))
        return None if user is None or user.disabled else user


COOKIE = "facegate_token"


def request_token(request: Request) -> str | None:
    """The bearer token; for reads (GET) also the login cookie, which pages, the live stream and
    evidence images rely on. Writes need the header, so a forged cross-site form cannot act (CSRF)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    if request.method in ("GET", "HEAD"):
        return request.cookies.get(COOKIE) or None
    return None


def require(*roles: str):
    """A FastAPI dependency admitting a valid bearer token of one of `roles`; yields the User."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown roles {unknown}")

    def dependency(request: Request) -> User:
        token = request_token(request)
        if not token:
            raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        user = request.app.state.auth.user_for(token)
        if user is None:
            raise HTTPException(401, "token unknown or expired", headers={"WWW-Authenticate": "Bearer"})
        if user.role not in roles:
            raise HTTPException(403, f"role {user.role} may not use this; needs one of: {', '.join(roles)}")
        return user

    dependency.roles = roles  # read by the route table test: every route must declare its roles
    return dependency
