"""A PostgreSQL cluster in a folder of its own, for `facegate demo --scale` and the tests.

Production runs the distribution's PostgreSQL service (see docs/deploy.md); this
starts the same server binaries (Debian's `postgresql-15`) on a free local port
with its data, socket and log under one folder, so a demo or a test run needs
no system configuration and leaves nothing behind.

- The cluster is created with the C collation: FaceGate orders ids and
  timestamps as text and pages with (captured_at, id) cursors, which must sort
  the same way in every database and in Python.
- TCP connections need a password (SCRAM), generated at `initdb` and kept in
  the folder, owner-only; the URL carries it.
- PostgreSQL refuses to run as root: when we are root, the server runs as the
  `postgres` system user (which Debian's package creates) and owns the folder.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
from pathlib import Path

SUPERUSER = "facegate"


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are not installed, or the cluster would not start."""


def server_binaries() -> Path:
    """The folder holding initdb and pg_ctl: $FACEGATE_PG_BIN, else the newest /usr/lib/postgresql/*/bin."""
    if os.environ.get("FACEGATE_PG_BIN"):
        return Path(os.environ["FACEGATE_PG_BIN"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    if shutil.which("initdb"):
        return Path(shutil.which("initdb")).parent
    raise PostgresUnavailable("PostgreSQL's server is not installed: apt-get install postgresql-15 "
                              "(or set FACEGATE_PG_BIN to the folder holding initdb and pg_ctl)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalPostgres:
    """One cluster: `start()` creates it on first use, `url(name)` connects to one of its databases."""

    def __init__(self, folder: Path, port: int | None = None):
        self.folder = Path(folder).resolve()
        self.data = self.folder / "data"
        self.port = port or free_port()
        self.bin = server_binaries()
        self._as_other = os.geteuid() == 0
        self._user = pwd.getpwnam("postgres") if self._as_other else None

    @property
    def password(self) -> str:
        return (self.folder / "password").read_text().strip()

    def url(self, database: str = "facegate") -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def start(self, timeout_s: float = 60) -> LocalPostgres:
        """Start the cluster (creating it on first use); if it is already running, use it where it listens."""
        if not (self.data / "PG_VERSION").exists():
            self._init()
        pid = self.pid()
        if pid and _alive(pid):
            self.port = int((self.data / "postmaster.pid").read_text().splitlines()[3])
            return self
        self._pg_ctl("start", "-w", "-t", str(int(timeout_s)), "-l", str(self.folder / "server.log"), "-o",
                     f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=200")
        return self

    def stop(self, mode: str = "fast") -> None:
        """Shut down (`fast`: roll back open transactions and close connections, as a service restart does)."""
        if (self.data / "postmaster.pid").exists():
            self._pg_ctl("stop", "-w", "-m", mode)

    def restart(self) -> None:
        self.stop()
        self.start()

    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database (a copy of `template` if given); its URL."""
        import psycopg  # only the gateway's PostgreSQL users need the driver loaded

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def copy_database(self, source: str, target: str) -> str:
        """A copy of database `source` as `target`, taken while others use it (pg_dump into psql); its URL."""
        url = self.create_database(target)
        dump = subprocess.Popen([str(self.bin / "pg_dump"), "--no-owner", self.url(source)], stdout=subprocess.PIPE)
        restore = subprocess.run([str(self.bin / "psql"), "-q", "-v", "ON_ERROR_STOP=1", url], stdin=dump.stdout,
                                 capture_output=True, text=True)
        dump.stdout.close()
        if dump.wait() or restore.returncode:
            raise PostgresUnavailable(f"copying {source} to {target} failed: {restore.stderr.strip()}")
        return url

    def _init(self) -> None:
        if self._as_other:
            for parent in self.folder.parents:
                if parent.exists() and not parent.stat().st_mode & 0o001:
                    raise PostgresUnavailable(f"PostgreSQL runs as the postgres user, who cannot enter {parent} "
                                              f"(mode {parent.stat().st_mode & 0o777:o}): put the cluster in a "
                                              f"folder others may pass through, e.g. under /tmp or /var/lib")
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        password_file = self.folder / "password"
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(24) + "\n")
        if self._as_other:
            for path in (self.folder, password_file):
                os.chown(path, self._user.pw_uid, self._user.pw_gid)
        self._run(self.bin / "initdb", "-D", str(self.data), "-U", SUPERUSER, "--locale=C", "-E", "UTF8",
                  "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={password_file}")

    def _pg_ctl(self, *args: str) -> None:
        self._run(self.bin / "pg_ctl", "-D", str(self.data), *args)

    def _run(self, *cmd) -> None:
        cmd = [str(c) for c in cmd]
        if self._as_other:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, cwd="/")
        if result.returncode:
            log = self.folder / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise PostgresUnavailable(f"{' '.join(cmd)} failed: {result.stderr.strip() or result.stdout.strip()}"
                                      + (f"\n{tail}" if tail else ""))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
