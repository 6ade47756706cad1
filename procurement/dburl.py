"""Opening the database a command names, with clear refusals for configuration mistakes.

* A command that only reads refuses a SQLite file that does not exist, rather than
  creating an empty database and printing empty tables (a mistyped ``--db`` path):
  the message says how to create one (``procure db init``, an import, ``procure demo``).
* Configuration errors get their own message and exit 1, never "internal error": a
  URL that is not a database URL, an unknown database kind, a missing driver (the
  PostgreSQL driver is an extra: ``pip install -e ".[postgres]"``), a file that is not
  a database.
"""

from pathlib import Path

from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError, OperationalError

from procurement.db import open_database, resolve_url
from procurement.errors import ProcureError

EXAMPLES = "e.g. sqlite:///procure.db or postgresql+psycopg://user@host/procure"


class DatabaseConfigError(ProcureError):
    """The database URL or the database it names cannot be used (a setup problem, not a bug)."""

    exit_code = 1


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names; None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    name = parsed.database or ""
    if name in ("", ":memory:") or name.startswith("file:"):
        return None
    return Path(name)


def _how_to_create(url: str) -> str:
    return (
        f"create one with `procure --db {url} db init`, or by importing into it "
        f"(`procure --db {url} import trusts FILE`), or try the demo region (`procure demo --out DIR`)"
    )


def connect(url: str | None = None, *, create: bool) -> Engine:
    """An engine on the database ``url`` names (see ``procurement.db.resolve_url``), schema upgraded.

    ``create`` False (a command that only reads): a SQLite file that does not exist is
    refused and not created. Configuration errors are ``DatabaseConfigError``.
    """
    url = resolve_url(url)
    try:
        path = sqlite_file(url)
    except ArgumentError as exc:
        raise DatabaseConfigError(f"--db {url!r} is not a database URL ({EXAMPLES})") from exc
    if path is not None and not create and not path.exists():
        raise DatabaseConfigError(
            f"no database at {path} (from {url}); nothing was created. Check the path, or {_how_to_create(url)}."
        )
    try:
        return open_database(url)
    except NoSuchModuleError as exc:
        raise DatabaseConfigError(f"--db {url!r}: unknown kind of database ({EXAMPLES})") from exc
    except ArgumentError as exc:
        raise DatabaseConfigError(f"--db {url!r} is not a usable database URL: {exc} ({EXAMPLES})") from exc
    except ImportError as exc:
        name = getattr(exc, "name", None) or str(exc)
        hint = ' (pip install -e ".[postgres]")' if "psycopg" in str(name) else ""
        raise DatabaseConfigError(
            f"--db {url!r} needs the database driver {name!r}, which is not installed{hint}"
        ) from exc
    except OperationalError:
        raise  # a lock, a server that does not answer: the CLI says so in its own words
    except DatabaseError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip()
        raise DatabaseConfigError(
            f"{path or url} cannot be used as a procure database ({detail}); point --db at a procure database, "
            f"or {_how_to_create(url)}"
        ) from exc
