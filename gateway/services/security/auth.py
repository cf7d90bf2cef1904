"""Users, roles, passwords, login tokens and login throttling.

Passwords are hashed with Argon2id (argon2-cffi's defaults: 64 MiB, 3 passes).
That cost is the point against a stolen database, and a weapon against the
server if anyone may spend it at will, so:
- a password is checked on a small pool of its own (`HASH_WORKERS` threads,
  at most `HASH_QUEUE` logins waiting): logins never take the threads the rest
  of the API runs on, and a flood of them is answered "busy" at once;
- failed logins back off per user name and per client address: after
  `FREE_FAILURES` failures, each further one doubles the wait (30 s up to
  15 min). Each lockout is one audit entry; refused attempts while locked
  cost no hashing.

A login returns a random bearer token; only its SHA-256 is stored, with an
expiry. Logging out deletes it, so a revoked token fails everywhere at once,
including an open live stream (which re-checks it). A session also ends when
it has not been used for its role's idle limit (`SESSION_IDLE_S`): an
operator's lasts the 12 h shift at a shared gate PC, an admin's half an hour.
Use is recorded at most once a minute, so a busy page costs no write per call.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gateway.errors import Conflict, Invalid, NotFound, TooManyAttempts
from gateway.i18n import LANGUAGES
from gateway.storage import Session, Store, User
from wire.events import utc_text

STAFF = ("admin", "supervisor", "operator", "auditor")
KIOSK = "kiosk"  # a kiosk's own login: bound to its kiosk device, it may show the kiosk page and nothing else
TICKETING = "ticketing"  # a site's ticketing system: bound to its site, it may sell that site's passes, nothing else
ROLES = (*STAFF, KIOSK, TICKETING)
MIN_PASSWORD_LENGTH = 10
HASH_WORKERS = 2
HASH_QUEUE = 8
FREE_FAILURES = 5
FIRST_LOCKOUT_S = 30.0
MAX_LOCKOUT_S = 15 * 60.0
FORGET_AFTER_S = 3600.0
# How long a session may go unused, by role (configurable: GatewayConfig.session_idle_s).
SESSION_IDLE_S = {"operator": 12 * 3600.0, "supervisor": 2 * 3600.0, "admin": 30 * 60.0, "auditor": 60 * 60.0,
                  KIOSK: 12 * 3600.0, TICKETING: 24 * 3600.0}
USE_RECORDED_EVERY_S = 60.0


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _age_s(text: str, now: datetime) -> float:
    return (now - datetime.fromisoformat(text.replace("Z", "+00:00"))).total_seconds()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token(token: str) -> str:
    """The value a cookie-authenticated write must echo in X-CSRF-Token: derived from the session's token,
    which another site's page can neither read nor guess."""
    return hmac.new(token.encode("utf-8"), b"facegate-csrf", hashlib.sha256).hexdigest()[:32]


@dataclass
class _Failures:
    count: int = 0
    locked_until: float = 0.0
    last: float = 0.0


class LoginThrottle:
    """Failed logins per key (a user name, an address) and the back-off they earn. In memory, per process."""

    def __init__(self, free: int = FREE_FAILURES, first_s: float = FIRST_LOCKOUT_S, max_s: float = MAX_LOCKOUT_S):
        self.free, self.first_s, self.max_s = free, first_s, max_s
        self._lock = threading.Lock()
        self._keys: dict[str, _Failures] = {}

    def wait_s(self, key: str) -> float:
        """Seconds until `key` may try again (0: now)."""
        with self._lock:
            entry = self._keys.get(key)
            return max(0.0, entry.locked_until - time.monotonic()) if entry else 0.0

    def failed(self, key: str) -> float | None:
        """Count a failure; the lockout it starts, in seconds, or None."""
        now = time.monotonic()
        with self._lock:
            if len(self._keys) > 100_000:  # a spray of names must not grow this without bound
                self._keys = {k: v for k, v in self._keys.items() if now - v.last < FORGET_AFTER_S}
            entry = self._keys.setdefault(key, _Failures())
            if now - entry.last > FORGET_AFTER_S:
                entry.count = 0
            entry.count += 1
            entry.last = now
            if entry.count <= self.free:
                return None
            lockout = min(self.max_s, self.first_s * 2 ** (entry.count - self.free - 1))
            entry.locked_until = now + lockout
            return lockout

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._keys.pop(key, None)


def _check_role_and_password(role: str | None, password: str | None) -> None:
    """Invalid for a role FaceGate does not have or a password too short (None: not being set)."""
    if role is not None and role not in ROLES:
        raise Invalid("role must be one of {roles}, not '{role}'", roles=", ".join(ROLES), role=role)
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid("password must have at least {n} characters", n=MIN_PASSWORD_LENGTH)


class Auth:
    def __init__(self, store: Store, token_ttl_s: float = 12 * 3600, throttle: LoginThrottle | None = None,
                 idle_s: dict[str, float] | None = None):
        self.store = store
        self.token_ttl_s = token_ttl_s
        self.idle_s = SESSION_IDLE_S | (idle_s or {})
        self.throttle = throttle or LoginThrottle()
        self._hasher = PasswordHasher()
        # Verifying against this keeps a login for an unknown user as slow as for a known one.
        self._dummy_hash = self._hasher.hash(secrets.token_hex(8))
        self._pool = ThreadPoolExecutor(HASH_WORKERS, thread_name_prefix="password")
        self._waiting = threading.BoundedSemaphore(HASH_WORKERS + HASH_QUEUE)

    def add_user(self, name: str, role: str, password: str, actor: str = "system", device: str | None = None,
                 site: str | None = None) -> None:
        """A new user; a kiosk login (role `kiosk`) names its kiosk device, which must be an active kiosk, and a
        ticketing system's (role `ticketing`) names its site."""
        _check_role_and_password(role, password)
        if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise Invalid("user name: 1-64 letters, digits, '-', '_' or '.'")
        if (role == KIOSK) != (device is not None):
            raise Invalid("a kiosk login, and only a kiosk login, is bound to a kiosk device")
        if device is not None:
            kiosk = self.store.devices.get(device)
            if kiosk is None or kiosk.kind != "kiosk" or not kiosk.active:
                raise Invalid("{device} is not an active kiosk", device=device)
        if (role == TICKETING) != (site is not None):
            raise Invalid("a ticketing login, and only a ticketing login, is bound to a site")
        if site is not None and site not in self.store.people.site_ids():
            raise Invalid("unknown site(s): {sites}", sites=site)
        if self.store.users.get(name):
            raise Conflict("user '{name}' already exists", name=name)
        password_hash = self._hasher.hash(password)
        with self.store.db.transaction() as tx:
            self.store.users.add(tx, name, role, password_hash, device, site)
            tx.audit(actor, "user.added", name, {"role": role} | ({"device": device} if device else {})
                     | ({"site": site} if site else {}))

    def users(self) -> list[User]:
        return self.store.users.all()

    def change_user(self, name: str, actor: str, role: str | None = None, disabled: bool | None = None,
                    password: str | None = None) -> User:
        """Change a user's role, disable or enable them, or set a new password -- each ends their sessions (they
        log in again under the new terms) and is audited. The last admin who can log in stays one."""
        _check_role_and_password(role, password)
        password_hash = self._hasher.hash(password) if password is not None else None
        with self.store.db.transaction(unaudited="nothing asked for differs from what is") as tx:
            user = self.store.users.get(name)
            if user is None:
                raise NotFound("no user '{name}'", name=name)
            if role is not None and role != user.role and KIOSK in (role, user.role):
                raise Invalid("a kiosk login is made with its kiosk and stays one; add a user for another role")
            if role is not None and role != user.role and TICKETING in (role, user.role):
                raise Invalid("a ticketing login is made with its site and stays one; add a user for another role")
            losing_admin = user.role == "admin" and not user.disabled and (
                (role is not None and role != "admin") or disabled)
            if losing_admin and self.store.users.count_admins(tx) <= 1:
                raise Conflict("{name} is the last admin: make another admin first", name=name)
            changes: dict[str, object] = {}
            if role is not None and role != user.role:
                self.store.users.set_role(tx, name, role)
                changes["role"] = role
            if disabled is not None and disabled != user.disabled:
                self.store.users.set_disabled(tx, name, disabled)
                changes["disabled"] = disabled
            if password_hash is not None:
                self.store.users.set_password(tx, name, password_hash)
                changes["password"] = "reset"  # never the password itself
            if changes:
                self.store.users.revoke_tokens_of(tx, name)
                tx.audit(actor, "user.changed", name, changes)
        return self.store.users.get(name)

    def set_language(self, session: Session, language: str) -> None:
        """The language the user's pages and reports are in from now on (one of gateway.i18n.LANGUAGES)."""
        if language not in LANGUAGES:
            raise Invalid("language must be one of {languages}, not '{language}'", languages=", ".join(LANGUAGES),
                          language=language)
        with self.store.db.transaction() as tx:
            self.store.users.set_language(tx, session.user.name, language)
            tx.audit(f"user:{session.user.name}", "user.language", session.user.name, {"language": language})

    async def login(self, name: str, password: str, address: str) -> tuple[str, str] | None:
        """(token, expires_at) for a right password, else None; TooManyAttempts while backing off or busy."""
        keys = (f"user:{name}", f"address:{address}")
        wait = max(self.throttle.wait_s(k) for k in keys)
        if wait > 0:
            raise TooManyAttempts("too many failed logins; try again in {seconds} s", wait, seconds=f"{wait:.0f}")
        if not self._waiting.acquire(blocking=False):
            raise TooManyAttempts("the server is busy checking other logins; try again in a few seconds", 2.0)
        try:
            user, ok = await asyncio.get_running_loop().run_in_executor(self._pool, self._check, name, password)
        finally:
            self._waiting.release()
        return await asyncio.get_running_loop().run_in_executor(None, self._conclude, name, address, user, ok, password)

    def _check(self, name: str, password: str) -> tuple[User | None, bool]:
        user = self.store.users.get(name)
        try:
            self._hasher.verify(user.password_hash if user else self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return user, False
        return user, user is not None and not user.disabled

    def _conclude(self, name: str, address: str, user: User | None, ok: bool, password: str) -> tuple[str, str] | None:
        """Record the attempt (and any lockout it starts) with the token it earns, in one transaction."""
        now = _now()
        token = secrets.token_urlsafe(32) if ok else None
        expires = utc_text(now + timedelta(seconds=self.token_ttl_s))
        lockouts = {} if ok else {key: s for key in (f"user:{name}", f"address:{address}")
                                  if (s := self.throttle.failed(key))}
        with self.store.db.transaction() as tx:
            tx.audit(f"user:{name}", "user.login", name, {"ok": ok, "address": address})
            for key, seconds in lockouts.items():
                tx.audit("system", "user.login.locked_out", key, {"seconds": seconds})
            if ok:
                if self._hasher.check_needs_rehash(user.password_hash):
                    self.store.users.set_password(tx, name, self._hasher.hash(password))
                self.store.users.add_token(tx, token_hash(token), name, expires)
        if not ok:
            return None
        self.throttle.succeeded(f"user:{name}")
        self.throttle.succeeded(f"address:{address}")
        return token, expires

    def logout(self, session: Session) -> None:
        """Revoke the session's token now, everywhere."""
        with self.store.db.transaction() as tx:
            self.store.users.revoke_token(tx, session.token_hash)
            tx.audit(f"user:{session.user.name}", "user.logout", session.user.name)

    def session_for(self, token: str) -> Session | None:
        """The live session a token belongs to (None: unknown, expired, idle too long, revoked, or its user
        disabled)."""
        now = _now()
        session = self.store.users.session(token_hash(token), utc_text(now))
        if session is None or session.user.disabled:
            return None
        if session.used_at and _age_s(session.used_at, now) > self.idle_s[session.user.role]:
            return None
        return session

    def needs_use_recorded(self, session: Session) -> bool:
        """Whether `used` has something to record: the last record is over a minute old (or a quarter of the
        role's idle limit, if that is shorter, so a session in use never lapses between records)."""
        every = min(USE_RECORDED_EVERY_S, self.idle_s[session.user.role] / 4)
        return not session.used_at or _age_s(session.used_at, _now()) >= every

    def used(self, session: Session) -> None:
        """Record that the session was just used (it is someone working, not a page left open)."""
        with self.store.db.transaction(unaudited="a session's last use") as tx:
            self.store.users.mark_used(tx, session.token_hash)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
