"""Two commands on one database at once: imports, first imports, a locked SQLite file.

Each race test runs on SQLite and, marked ``postgres``, on the session's throwaway
PostgreSQL server. The races are made deterministic: both threads pass a barrier, and
each pauses between the duplicate check and its first write, so without the locks of
``procurement.db.lock_for_write`` both would find "not imported yet".
"""

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlmodel import Session

from cli import main
from procurement import importers as imp
from procurement.db import lock_timeout, make_engine, open_database
from procurement.errors import ProcureError
from procurement.importers import core as importer_core
from procurement.models import Category, DataImport

ROOT = Path(__file__).resolve().parents[2]
PROCURE = [sys.executable, "-c", "import sys; from cli import main; sys.exit(main())"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request, db_url) -> str:
    """A database with trusts and suppliers, on each backend."""
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else db_url
    engine = open_database(url)
    paths = request.getfixturevalue("reference_files")
    imp.import_trusts(engine, paths["trusts"])
    imp.import_suppliers(engine, paths["suppliers"])
    engine.dispose()
    return url


def race(monkeypatch, first, second, delay: float = 0.5) -> list:
    """Run ``first`` and ``second`` in two threads at once; each pauses ``delay`` s just
    before writing its ``DataImport`` row. Returns their results (or exceptions)."""
    original = importer_core.record_import

    def slow_record(*args, **kwargs):
        time.sleep(delay)
        return original(*args, **kwargs)

    monkeypatch.setattr(importer_core, "record_import", slow_record)
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def worker(i: int, call) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except Exception as exc:  # returned, and the test asserts there is none
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate((first, second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_two_imports_of_the_same_file_at_once_store_it_once(url, files, catalogue_items, monkeypatch):
    engine = open_database(url)
    profile = str(files.profile())
    # Another supplier's catalogue first: the taxonomy is in place, only the file check is raced.
    imp.import_catalogue(engine, files.catalogue("b.xlsx", catalogue_items["SUP-B"]), supplier="SUP-B", profile=profile)
    path = files.catalogue("a.csv", catalogue_items["SUP-A"])

    def call():
        return imp.import_catalogue(engine, path, supplier="SUP-A", profile=profile)

    results = race(monkeypatch, call, call)
    assert not [r for r in results if isinstance(r, Exception)], results
    winner = [r for r in results if r.duplicate_of is None]
    loser = [r for r in results if r.duplicate_of is not None]
    assert len(winner) == len(loser) == 1
    assert loser[0].duplicate_of == winner[0].import_id
    assert "already imported" in loser[0].notes[0]
    with Session(engine) as session:
        stored = session.scalars(select(DataImport.id).where(DataImport.sha256 == winner[0].sha256)).all()
    assert stored == [winner[0].import_id]
    engine.dispose()


def test_two_first_catalogues_at_once_both_import(url, files, catalogue_items, monkeypatch):
    """The first catalogue import adds the taxonomy's groups: two at once must not both add them."""
    engine = open_database(url)
    profile = str(files.profile())
    a = files.catalogue("a.csv", catalogue_items["SUP-A"])
    b = files.catalogue("b.xlsx", catalogue_items["SUP-B"])
    results = race(
        monkeypatch,
        lambda: imp.import_catalogue(engine, a, supplier="SUP-A", profile=profile),
        lambda: imp.import_catalogue(engine, b, supplier="SUP-B", profile=profile),
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert [r.rows_accepted for r in results] == [7, 6]
    with Session(engine) as session:
        codes = session.scalars(select(Category.code)).all()
    assert len(codes) == len(set(codes)) >= 3
    engine.dispose()


def test_two_versions_of_one_suppliers_catalogue_at_once_become_versions_1_and_2(
    url, files, catalogue_items, monkeypatch
):
    engine = open_database(url)
    profile = str(files.profile())
    imp.import_catalogue(engine, files.catalogue("b.xlsx", catalogue_items["SUP-B"]), supplier="SUP-B", profile=profile)
    v1 = files.catalogue("a-2026.csv", catalogue_items["SUP-A"])
    repriced = [(*row[:6], "999.00") for row in catalogue_items["SUP-A"]]
    v2 = files.catalogue("a-2027.csv", repriced)
    results = race(
        monkeypatch,
        lambda: imp.import_catalogue(engine, v1, supplier="SUP-A", profile=profile),
        lambda: imp.import_catalogue(engine, v2, supplier="SUP-A", profile=profile),
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(r.version for r in results) == [1, 2]
    engine.dispose()


def test_two_cli_imports_at_once_one_says_already_imported(url, files, catalogue_items):
    path = files.catalogue("a.csv", catalogue_items["SUP-A"])
    args = ["--db", url, "import", "catalogue", str(path), "--supplier", "SUP-A", "--profile", str(files.profile())]
    workers = [
        subprocess.Popen([*PROCURE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=60) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    stdout = "".join(out for out, _ in outputs)
    assert "Traceback" not in stdout + "".join(err for _, err in outputs)
    assert stdout.count("7 rows read") == 1
    assert stdout.count("already imported, nothing written") == 1


# --------------------------------------------------------------------------- SQLite lock waits


def test_the_lock_timeout_comes_from_procure_db_timeout(db_url, monkeypatch):
    monkeypatch.delenv("PROCURE_DB_TIMEOUT", raising=False)
    assert lock_timeout() == 30
    monkeypatch.setenv("PROCURE_DB_TIMEOUT", "2.5")
    engine = make_engine(db_url)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA busy_timeout")).scalar_one() == 2500
    engine.dispose()
    monkeypatch.setenv("PROCURE_DB_TIMEOUT", "soon")
    with pytest.raises(ProcureError, match="PROCURE_DB_TIMEOUT='soon' is not a number of seconds"):
        make_engine(db_url)


def test_a_locked_sqlite_database_waits_then_says_so(region, db_url, files, monkeypatch, count):
    """Another process holds the write lock: the command waits PROCURE_DB_TIMEOUT, then says why."""
    monkeypatch.setenv("PROCURE_DB_TIMEOUT", "0.5")
    trusts = files.csv("more-trusts.csv", [("code", "name"), ("RXD", "Delta Hospitals NHS Trust")])
    holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # what a long import in another process holds
    try:
        started = time.perf_counter()
        result = CliRunner().invoke(main, ["--db", db_url, "import", "trusts", str(trusts)])
        waited = time.perf_counter() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    message = " ".join(result.output.split())
    assert "the database is locked by another command" in message
    assert "waited 0.5 s" in message and "PROCURE_DB_TIMEOUT" in message
    assert 0.4 <= waited < 10
    assert count(region, "trust") == 3
    # Once the lock is released the same command goes through.
    result = CliRunner().invoke(main, ["--db", db_url, "import", "trusts", str(trusts)])
    assert result.exit_code == 0, result.output
    assert count(region, "trust") == 4


@pytest.mark.postgres
def test_a_locked_postgres_table_waits_then_says_so(pg_url, reference_files, monkeypatch):
    """On PostgreSQL the same setting is each session's lock_timeout."""
    import psycopg

    engine = open_database(pg_url)
    imp.import_trusts(engine, reference_files["trusts"])
    engine.dispose()
    monkeypatch.setenv("PROCURE_DB_TIMEOUT", "0.5")
    engine = make_engine(pg_url)
    with engine.connect() as connection:
        assert connection.execute(text("SHOW lock_timeout")).scalar_one() == "500ms"
    engine.dispose()
    plain = pg_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as holder:
        holder.execute("LOCK TABLE dataimport IN ACCESS EXCLUSIVE MODE")  # a migration, say
        started = time.perf_counter()
        result = CliRunner().invoke(main, ["--db", pg_url, "import", "suppliers", str(reference_files["suppliers"])])
        waited = time.perf_counter() - started
        holder.rollback()
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    message = " ".join(result.output.split())
    assert "the database is locked by another command" in message and "waited 0.5 s" in message
    assert 0.4 <= waited < 10
