"""Users of the pages and the API, and their login tokens (stored as hashes only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, insert, select, update

from gateway.storage.schema import tokens, users

if TYPE_CHECKING:
    from gateway.storage.database import Database, Tx


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str
    disabled: bool
    language: str | None = None  # None: the gateway's default
    device: str | None = None  # a kiosk login's kiosk device
    site: str | None = None  # a ticketing login's site


@dataclass(frozen=True)
class Session:
    """A logged-in user as one token presents them."""

    user: User
    token_hash: str
    expires_at: str
    used_at: str | None  # when the token was last presented (kept to the minute)


class Users:
    def __init__(self, db: Database):
        self.db = db

    def add(self, tx: Tx, name: str, role: str, password_hash: str, device: str | None = None,
            site: str | None = None) -> None:
        tx.execute(insert(users).values(name=name, role=role, password_hash=password_hash, created_at=tx.now,
                                        disabled=0, device=device, site=site))

    def set_password(self, tx: Tx, name: str, password_hash: str) -> None:
        tx.execute(update(users).where(users.c.name == name).values(password_hash=password_hash))

    def get(self, name: str) -> User | None:
        with self.db.read() as conn:
            row = conn.execute(select(users.c.name, users.c.role, users.c.password_hash, users.c.disabled,
                                      users.c.language, users.c.device, users.c.site)
                               .where(users.c.name == name)).first()
        return User(row[0], row[1], row[2], bool(row[3]), row[4], row[5], row[6]) if row else None

    def all(self) -> list[User]:
        """Every user, by name (their password hashes too: the service shows none of them)."""
        with self.db.read() as conn:
            rows = conn.execute(select(users.c.name, users.c.role, users.c.password_hash, users.c.disabled,
                                       users.c.language, users.c.device, users.c.site)
                                .order_by(users.c.name)).fetchall()
        return [User(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6]) for r in rows]

    def set_role(self, tx: Tx, name: str, role: str) -> None:
        tx.execute(update(users).where(users.c.name == name).values(role=role))

    def set_disabled(self, tx: Tx, name: str, disabled: bool) -> None:
        tx.execute(update(users).where(users.c.name == name).values(disabled=int(disabled)))

    def count_admins(self, tx: Tx) -> int:
        """Admins who can log in."""
        return tx.execute(select(func.count()).select_from(users).where(users.c.role == "admin",
                                                                         users.c.disabled == 0)).scalar_one()

    def revoke_tokens_of(self, tx: Tx, name: str) -> int:
        """End every session of the user (a disabled account, a reset password, a new role)."""
        return tx.execute(delete(tokens).where(tokens.c.user == name)).rowcount

    def set_language(self, tx: Tx, name: str, language: str) -> None:
        tx.execute(update(users).where(users.c.name == name).values(language=language))

    def add_token(self, tx: Tx, token_hash: str, user: str, expires_at: str) -> None:
        tx.execute(insert(tokens).values(hash=token_hash, user=user, expires_at=expires_at, used_at=tx.now))

    def mark_used(self, tx: Tx, token_hash: str) -> None:
        tx.execute(update(tokens).where(tokens.c.hash == token_hash).values(used_at=tx.now))

    def revoke_token(self, tx: Tx, token_hash: str) -> bool:
        return tx.execute(delete(tokens).where(tokens.c.hash == token_hash)).rowcount > 0

    def session(self, token_hash: str, now: str) -> Session | None:
        """The user a live token belongs to."""
        with self.db.read() as conn:
            row = conn.execute(
                select(users.c.name, users.c.role, users.c.password_hash, users.c.disabled, users.c.language,
                       users.c.device, users.c.site, tokens.c.expires_at, tokens.c.used_at)
                .join(tokens, tokens.c.user == users.c.name)
                .where(tokens.c.hash == token_hash, tokens.c.expires_at > now)).first()
        if row is None:
            return None
        return Session(User(row[0], row[1], row[2], bool(row[3]), row[4], row[5], row[6]), token_hash, row[7], row[8])

    def delete_expired_tokens(self, tx: Tx) -> int:
        return tx.execute(delete(tokens).where(tokens.c.expires_at <= tx.now)).rowcount
