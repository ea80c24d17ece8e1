"""The narrow interface between the store and its persistence, and the choice of one by where it lives.

The store (livepanel/server/store/__init__.py) needs only this of a persistence: read the committed
state back at start-up (`load`), encode a batch's write actions before it is accepted (`prepare`,
raising if one cannot be stored), take jobs (`submit`) that a writer thread commits in order and
reports done only once committed (`start`, `close`), and the store's id. A persistence that can come
back after a storage failure (PostgreSQL after a lost connection) adds `recover` and `resume`.
Optional backends import their drivers here, lazily: a server without one never loads its driver.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from livepanel.server.store.model import State
from livepanel.server.store.persist import Job

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class Backend(Protocol):
    store_id: str

    def load(self, state: State) -> dict[str, int]:
        """Rebuild `state` from what is committed; return the last committed batch seq per client id."""

    def prepare(self, actions: list[tuple]) -> list[tuple]:
        """Encode write actions on the caller's thread; raise if a value cannot be stored."""

    def submit(self, job: Job) -> None:
        """Queue a job; `job.done(job)` is called on the writer thread once it is committed or failed."""

    def start(self) -> None:
        """Start the writer."""

    def close(self) -> None:
        """Commit every job submitted, then stop."""


class Recovering(Backend, Protocol):
    def recover(self, make_state: Callable[[], State], done: Callable[[State, dict[str, int]], None]) -> None:
        """After a storage failure: come back, read the state back, then call `done` (on the writer thread)."""

    def resume(self) -> None:
        """The store took the state over: write again, refusing the jobs submitted before."""


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


def is_postgres(where: object) -> bool:
    return isinstance(where, str) and where.startswith(POSTGRES_SCHEMES)


def open_backend(where: Path | str) -> Backend:
    """SQLite in a data directory, or PostgreSQL for a postgresql:// URL."""
    if is_postgres(where):
        from livepanel.server.store.persist_pg import PgPersistence

        return PgPersistence(str(where))
    from livepanel.server.store.persist import Persistence

    return Persistence(Path(where))
