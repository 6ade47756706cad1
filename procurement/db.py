"""Database engine and sessions; schema through Alembic migrations.

The database is named by a SQLAlchemy URL: the global ``--db`` option, else the
``PROCURE_DB`` environment variable, else ``sqlite:///procure.db`` in the current
directory (the embedded default). PostgreSQL works through
``postgresql+psycopg://user:pass@host/dbname`` (``pip install -e ".[postgres]"``).

Waiting for locks is bounded: a command that finds the database locked by another
one waits up to ``PROCURE_DB_TIMEOUT`` seconds (default 30; SQLite's busy timeout,
PostgreSQL's ``lock_timeout``) and then fails with "database is locked", which the
CLI turns into a sentence. Schema upgrades on PostgreSQL hold an advisory lock, so
two commands opening a new database at once do not both create the tables.
"""

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Table, event, inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine

from procurement.errors import ProcureError

DEFAULT_URL = "sqlite:///procure.db"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
DEFAULT_TIMEOUT_S = 30.0
TIMEOUT_ENV = "PROCURE_DB_TIMEOUT"
CACHE_KIB = 65_536  # SQLite page cache per connection (see _sqlite_pragmas)
# pg_advisory_lock key held while migrating a PostgreSQL database (any fixed bigint).
MIGRATION_LOCK_KEY = 7_361_200_004


def table_of(model: type[SQLModel]) -> Table:
    """The Core ``Table`` of SQLModel table class ``model``, for Core inserts of whole rows.

    The same object as ``model.__table__``, which SQLModel does not declare for type checkers.
    """
    table = inspect(model).local_table
    assert isinstance(table, Table), f"{model.__name__} is not a table class"
    return table


def resolve_url(url: str | None = None) -> str:
    """The database URL: explicit, else ``PROCURE_DB``, else the SQLite default."""
    return url or os.environ.get("PROCURE_DB") or DEFAULT_URL


def lock_timeout() -> float:
    """Seconds to wait for a lock held by another command: ``PROCURE_DB_TIMEOUT``, else 30."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also rejects nan
        raise ProcureError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds (e.g. 30)")
    return seconds


def _sqlite_pragmas(timeout_ms: int):
    def on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        # Foreign keys are off by default in SQLite; the schema relies on them.
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={timeout_ms}")
        # A page cache of up to 64 MiB (SQLite's default is 2 MiB), used only as pages are
        # read: one import's inserts touch pages all over the usage indexes, and with the
        # default cache a national usage file spilled them to the database file in the
        # middle of its transaction, each spill syncing the rollback journal first.
        cursor.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        cursor.close()

    return on_connect


def _postgres_settings(timeout_ms: int):
    def on_connect(dbapi_connection, _record) -> None:
        # A SET outside any transaction, so that it lasts for the session.
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        cursor = dbapi_connection.cursor()
        # 0 would mean "wait forever" to PostgreSQL: 1 ms stands for "do not wait".
        cursor.execute(f"SET lock_timeout = {max(timeout_ms, 1)}")
        cursor.close()
        dbapi_connection.autocommit = autocommit

    return on_connect


def make_engine(url: str | None = None, **kwargs) -> Engine:
    """Create an engine for ``url`` (see ``resolve_url``); SQLite gets FK enforcement.

    Lock waits are bounded by ``lock_timeout()`` on SQLite and PostgreSQL.
    """
    url = resolve_url(url)
    timeout_ms = int(lock_timeout() * 1000)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas(timeout_ms))
    elif engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _postgres_settings(timeout_ms))
    return engine


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema in place to ``revision`` through the migrations.

    On PostgreSQL a session advisory lock serialises concurrent upgrades: the second
    command waits, then finds the schema already at ``revision``.
    """
    if engine.dialect.name != "postgresql":
        command.upgrade(alembic_config(engine), revision)
        return
    with engine.connect() as lock:
        lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        lock.commit()
        try:
            command.upgrade(alembic_config(engine), revision)
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
            lock.commit()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def open_database(url: str | None = None) -> Engine:
    """Engine for ``url`` with the schema migrated to the latest revision."""
    engine = make_engine(url)
    upgrade(engine)
    return engine


def table_names(engine: Engine) -> list[str]:
    return sorted(inspect(engine).get_table_names())


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One session, one transaction: commit on success, roll back on any error."""
    with Session(engine) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def lock_for_write(session: Session, name: str) -> None:
    """Serialise writers that use the same ``name`` until the session's transaction ends.

    For check-then-insert steps (is this file imported already? are the taxonomy's
    groups there?): take the lock, then check, then write. PostgreSQL: a transaction
    advisory lock keyed by ``name``; the second writer waits, and its next statement
    sees what the first one committed (READ COMMITTED). SQLite: a no-op UPDATE takes the
    database's single write lock now rather than at the first insert. Waits are bounded
    by ``lock_timeout()``.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    elif dialect == "sqlite":
        session.execute(text("UPDATE alembic_version SET version_num = version_num WHERE 1 = 0"))
