"""Shared fixtures: a real livepanel server in its own process on a free loopback port."""

from __future__ import annotations

from pathlib import Path

import pytest
from serverproc import ServerProcess


@pytest.fixture
def server(tmp_path: Path):
    """A running server with the SQLite store in a fresh data directory."""
    srv = ServerProcess(tmp_path / "data").start()
    yield srv
    srv.stop()


@pytest.fixture
def server_factory(tmp_path: Path):
    """Start servers with extra CLI arguments; all are stopped at the end."""
    started: list[ServerProcess] = []

    def make(*extra: str, store: str = "sqlite", data_dir: Path | None = None, start: bool = True) -> ServerProcess:
        srv = ServerProcess(data_dir or tmp_path / f"data{len(started)}", *extra, store=store)
        started.append(srv)
        return srv.start() if start else srv

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture(scope="module")
def redis_server():
    """A real redis-server on a free loopback port for the module's tests (tests/redisproc.py)."""
    import redisproc

    if redisproc.binary() is None:  # .ci/setup installs it
        pytest.skip("Redis is not installed (no redis-server)")
    srv = redisproc.RedisServer().start()
    yield srv
    srv.remove()


@pytest.fixture(scope="module")
def postgres():
    """A real PostgreSQL on a free loopback port for the module's tests (tests/pg.py)."""
    import pg

    if pg.binaries() is None:  # .ci/setup installs it
        pytest.skip("PostgreSQL is not installed")
    server = pg.PgServer().start()
    yield server
    server.remove()


@pytest.fixture
def db(postgres) -> str:
    """A new, empty database on the module's PostgreSQL: its URL."""
    return postgres.new_database()
