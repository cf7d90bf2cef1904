"""The gateway's database: one engine, versioned migrations, and write transactions that carry their audit.

Guarantees:
- **Every change is audited in its own transaction.** `transaction()` yields a
  `Tx`; its `audit()` appends to the hash chain on the same connection, so the
  change and the entry recording it commit together or not at all. A write
  transaction that records no entry is refused at commit (`UnauditedChange`)
  unless it says why it is technical (`unaudited="..."`: a device's online
  flag, a gallery's publish mark).
- **The schema is versioned.** Opening a database applies the migrations it
  lacks (Alembic, `migrations/versions`); a database whose schema is newer
  than this code knows is refused (`SchemaTooNew`) rather than misread.
- **A commit is durable.** Ingest acknowledges a message to the broker only
  after the commit holding it.
- **Writers take turns; readers never wait.** The audit chain is one chain,
  so every write transaction holds the database's write lock from its first
  statement: the chain's head it reads is the head it extends, and checks
  such as "is this event id already stored?" hold until it commits -- across
  every process writing to the database, gateway replicas included.

Two engines, one code path:
- **SQLite** (a path; the embedded default): the file is created 0600 in a
  0700 folder (SQLite gives its -wal and -shm files the same mode); WAL with
  synchronous=FULL; the write lock is `BEGIN IMMEDIATE` with a 30 s busy
  timeout, so writers queue rather than fail.
- **PostgreSQL** (a `postgresql://` URL; a province): a pooled engine that
  checks a connection before use (so a restarted server costs one retry, not a
  crash); the write lock is a transaction-level advisory lock
  (`pg_advisory_xact_lock`), released by commit, rollback or a dead
  connection; reads run at REPEATABLE READ, so `read()` is one snapshot as on
  SQLite. Events are partitioned by kind and month (`postgres/partitions.py`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Table, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DataError

from gateway.errors import Invalid

from gateway.storage.audit import AuditEntry, ChainWriter
from wire.events import utc_text

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


class UnauditedChange(RuntimeError):
    """A write transaction recorded no audit entry and did not say why it need not."""


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer release than this one."""


# The key of PostgreSQL's advisory lock that write transactions hold (any 64-bit number no other application on
# the same database uses; these are the bytes of "FaceGate").
WRITE_LOCK = 0x4661636547617465


def is_url(location: Path | str) -> bool:
    """A database URL (PostgreSQL), as opposed to an SQLite file's path."""
    return "://" in str(location)


class Tx:
    """One write transaction: statements on `conn`, and the audit entries recording them."""

    def __init__(self, conn: Connection, now: str):
        self.conn = conn
        self.now = now  # one timestamp for everything this change records
        self._chain = ChainWriter(conn)
        self._after_commit: list[Callable[[], None]] = []

    @property
    def postgres(self) -> bool:
        return self.conn.dialect.name == "postgresql"

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run `fn` once this transaction has committed (not at all if it rolls back)."""
        self._after_commit.append(fn)

    def execute(self, statement, parameters=None):
        return self.conn.execute(statement, parameters)

    def _driver_sql(self) -> tuple[Callable[[str], str], str]:
        """(quote an identifier, a parameter placeholder) in the driver's own dialect, for hand-written SQL."""
        return self.conn.dialect.identifier_preparer.quote, "?" if self.conn.dialect.paramstyle == "qmark" else "%s"

    def insert_many(self, table: Table, columns: Sequence[str], rows: list[tuple]) -> None:
        """Many rows through the driver's own executemany: ingest's path, where per-row overhead is the cost."""
        if rows:
            quote, mark = self._driver_sql()
            self.conn.exec_driver_sql(f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
                                      f"VALUES ({', '.join([mark] * len(columns))})", rows)

    def update_many(self, table: Table, key: str, columns: Sequence[str], rows: list[tuple]) -> None:
        """`columns` set to each row's values where `key` equals its last value, through the driver's executemany
        (ingest's path: one statement compiled once, not one per device)."""
        if rows:
            quote, mark = self._driver_sql()
            sets = ", ".join(f"{quote(c)} = {mark}" for c in columns)
            self.conn.exec_driver_sql(f"UPDATE {quote(table.name)} SET {sets} WHERE {quote(key)} = {mark}", rows)

    def select_in(self, sql: str, values: Sequence, first: tuple = ()) -> list[tuple]:
        """Rows of `sql` (cheap, for hot paths): `{mark}` is a placeholder for each of `first`, in order, and
        `IN ({marks})` holds placeholders for `values`."""
        _, mark = self._driver_sql()
        text = sql.format(mark=mark, marks=", ".join([mark] * len(values)))
        return list(self.conn.exec_driver_sql(text, (*first, *values)))

    def audit(self, actor: str, action: str, target: str | None = None, detail: dict | None = None,
              at: str | None = None) -> int:
        """Append an entry to the audit chain in this transaction; its sequence number."""
        return self._chain.append(AuditEntry(at or self.now, actor, action, target, detail or {}))

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A part of the transaction that an exception undoes -- its statements and its audit entries -- alone."""
        mark = self._chain.mark()
        nested = self.conn.begin_nested()
        try:
            yield
        except BaseException:
            nested.rollback()
            self._chain.rollback_to(mark)
            raise
        nested.commit()

    @property
    def audited(self) -> int:
        return self._chain.count

    def _finish(self) -> tuple[int, str] | None:
        return self._chain.flush(self.insert_many)


def _now() -> str:
    return utc_text(datetime.now(timezone.utc))


def create_owner_only(path: Path) -> None:
    """Create `path` (and its folder) readable by the owner only, if it does not exist yet."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


class Database:
    """The gateway's database: an SQLite file's path, or a PostgreSQL URL."""

    def __init__(self, location: Path | str, *, migrate: bool = True):
        self.location = location  # as given: what `--db` takes (a URL keeps its password)
        if is_url(location):
            url = make_url(str(location))
            if url.get_backend_name() != "postgresql":
                raise ValueError(f"unsupported database {url.render_as_string()}: give an SQLite file's path "
                                 f"or a postgresql:// URL")
            self.path: Path | None = None
            self.engine = _postgres_engine(url.set(drivername="postgresql+psycopg"))
            self.name = url.render_as_string(hide_password=True)
        else:
            self.path = Path(location)
            create_owner_only(self.path)
            self.engine = _sqlite_engine(self.path)
            self.name = str(self.path)
        self._commit_hooks: list[Callable[[int, str], None]] = []
        if migrate:
            migrate_to_head(self.engine)

    @property
    def postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def on_commit(self, hook: Callable[[int, str], None]) -> None:
        """Call `hook(seq, hash)` with the chain's new head after every commit that appended to it."""
        self._commit_hooks.append(hook)

    @contextmanager
    def transaction(self, unaudited: str | None = None) -> Iterator[Tx]:
        """A write transaction; it must record at least one audit entry unless `unaudited` says why not."""
        with self.engine.connect().execution_options(write=True) as conn:
            conn.begin()
            tx = Tx(conn, _now())
            try:
                yield tx
                if not tx.audited and unaudited is None:
                    raise UnauditedChange("a change must be recorded in the audit log (tx.audit) in its transaction")
                head = tx._finish()
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
        for fn in tx._after_commit:
            fn()
        if head:
            for hook in self._commit_hooks:
                try:
                    hook(*head)
                except Exception:  # the change is committed; a hook that fails must say so, not undo nothing
                    log.exception("after commit (audit head %d): %s failed", head[0], getattr(hook, "__name__", hook))

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads (a consistent snapshot for as long as it is held)."""
        with self.engine.connect().execution_options(**self._snapshot) as conn:
            yield conn

    @property
    def _snapshot(self) -> dict:
        return {"isolation_level": "REPEATABLE READ"} if self.postgres else {}

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}", pool_size=10, max_overflow=40, pool_timeout=60,
                           connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin (the driver's own
        # handling defers BEGIN and breaks transactional DDL).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # Writers take the write lock up front, so two writers queue instead of one failing half-way.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")

    return engine


def _postgres_engine(url) -> Engine:
    # pool_pre_ping: after a server restart every pooled connection is dead; each is tested (and replaced)
    # before use instead of failing the request that drew it.
    engine = create_engine(url, pool_size=10, max_overflow=20, pool_timeout=60, pool_pre_ping=True,
                           pool_recycle=1800, connect_args={"connect_timeout": 10})

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        if conn.get_execution_options().get("write"):
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")

    @event.listens_for(engine, "handle_error")
    def _refused(context) -> Exception | None:
        # A value PostgreSQL cannot hold (text with a NUL character, which SQLite takes) is the sender's error,
        # not the gateway's: the API answers 422, ingest quarantines the one message.
        if isinstance(context.sqlalchemy_exception, DataError):
            return Invalid("a value the database cannot store: {error}", error=str(context.original_exception))
        return None

    return engine


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def schema_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate_to_head(engine: Engine) -> None:
    """Apply the migrations the database lacks, in one transaction; refuse a newer schema."""
    config = _alembic_config()
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    with engine.connect().execution_options(write=True) as conn:
        with conn.begin():
            current = MigrationContext.configure(conn).get_current_revision()
            if current == head:
                return
            try:
                script.get_revision(current)
            except CommandError:
                raise SchemaTooNew(f"the database is at schema revision {current}, which this release does not "
                                   f"know (it knows up to {head}): it was written by a newer FaceGate; "
                                   f"run that release, or restore a backup made for this one") from None
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    log.info("database schema migrated from %s to %s", current or "(none)", head)
