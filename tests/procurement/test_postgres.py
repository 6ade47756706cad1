"""The engine on PostgreSQL: migrations, a whole region, a scenario run, concurrency.

Every test here runs on the session's throwaway PostgreSQL server (``postgres_server``
in tests/conftest.py: the machine's initdb/pg_ctl, run as an unprivileged account when
the tests run as root). Without PostgreSQL binaries they are skipped, under CI=true
they fail.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import func, select, text
from sqlmodel import Session, SQLModel

import procurement.models  # noqa: F401  (registers every table on SQLModel.metadata)
from cli import main
from procurement import importers as imp
from procurement.db import alembic_config, current_revision, make_engine, open_database, table_names, upgrade
from procurement.demo import run_demo
from procurement.models import DataImport, RunSaving, Scenario, ScenarioRun
from procurement.scenarios import ScenarioSettings, manage, runs

pytestmark = pytest.mark.postgres

TABLES_0001 = [
    "approval",
    "catalogueitem",
    "category",
    "clinicalrating",
    "contract",
    "dataimport",
    "equivalencegroup",
    "itemprice",
    "productline",
    "rejectedrow",
    "supplier",
    "trust",
    "usage",
    "volumetier",
]
HEAD_TABLES = sorted(["alembic_version", *SQLModel.metadata.tables])
PROCURE = [sys.executable, "-c", "import sys; from cli import main; sys.exit(main())"]


def head(engine) -> str:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def row_counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: connection.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one()
            for name in table_names(engine)
            if name != "alembic_version"
        }


# --------------------------------------------------------------------------- migrations


def test_migrations_create_the_schema_the_models_describe_and_round_trip(pg_url):
    engine = open_database(pg_url)
    assert engine.dialect.name == "postgresql"
    assert current_revision(engine) == head(engine)
    assert table_names(engine) == HEAD_TABLES
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []
    config = alembic_config(engine)
    command.downgrade(config, "base")
    assert table_names(engine) == ["alembic_version"]
    upgrade(engine)
    assert table_names(engine) == HEAD_TABLES
    engine.dispose()


def test_a_postgres_database_at_0001_upgrades_in_place_keeping_its_rows(
    pg_url, reference_files, files, catalogue_items, snapshot
):
    engine = make_engine(pg_url)
    upgrade(engine, "0001")
    assert table_names(engine) == sorted(["alembic_version", *TABLES_0001])
    # Rows written as revision 0001's SQL (today's importers use tables of later revisions).
    with engine.begin() as connection:
        for code in ("RXA", "RXB", "RXC"):
            connection.execute(text("INSERT INTO trust (code, name, region) VALUES (:c, :c, 'NW')"), {"c": code})
        for code in ("SUP-A", "SUP-B", "SUP-C"):
            connection.execute(text("INSERT INTO supplier (code, name) VALUES (:c, :c)"), {"c": code})
        for kind in ("trusts", "suppliers", "notes"):
            connection.execute(
                text(
                    "INSERT INTO dataimport (kind, file_name, sha256, version, imported_at, imported_by, rows_read,"
                    " rows_accepted, rows_rejected, new_lines, price_changes)"
                    " VALUES (:k, 'f.csv', :k, 1, now(), 'me', 3, 3, 0, 0, 0)"
                ),
                {"k": kind},
            )
    profile = str(files.profile())
    before = snapshot(engine)
    engine.dispose()

    engine = open_database(pg_url)
    assert current_revision(engine) == head(engine) != "0001"
    after = snapshot(engine)
    assert {name: after[name] for name in TABLES_0001} == {name: before[name] for name in TABLES_0001}
    # Sequences carry on after the upgrade: new rows get the next ids.
    report = imp.import_catalogue(
        engine, files.catalogue("b.xlsx", catalogue_items["SUP-B"]), supplier="SUP-B", profile=profile
    )
    assert report.import_id == 4 and report.rows_accepted == 6
    manage.define_scenario(engine, "after upgrade", ScenarioSettings())
    with Session(engine) as session:
        assert session.scalars(select(Scenario.id)).all() == [1]
    engine.dispose()


def test_a_blank_optional_value_is_stored_as_null_not_nan(pg_url, reference_files):
    """pandas' NaN bound to a text column became the string 'NaN' on PostgreSQL (SQLite: NULL)."""
    engine = open_database(pg_url)
    imp.import_suppliers(engine, reference_files["suppliers"])
    with engine.connect() as connection:
        prefixes = connection.execute(text("SELECT code, gs1_prefix FROM supplier ORDER BY code")).all()
    assert prefixes == [("SUP-A", "5012345"), ("SUP-B", "5098765"), ("SUP-C", None)]
    engine.dispose()


# --------------------------------------------------------------------------- a whole region


@pytest.fixture(scope="module")
def pg_region(postgres_server, tmp_path_factory) -> str:
    """The size-S demo region imported into PostgreSQL (not solved), once for this module."""
    url = postgres_server.create_database("demo_region")
    run_demo(tmp_path_factory.mktemp("pg-demo"), size="S", db_url=url, echo=None, solve=False)
    return url


def test_the_demo_region_imports_into_postgres_as_into_sqlite(pg_region, demo_region_db):
    pg = open_database(pg_region)
    lite = open_database(f"sqlite:///{demo_region_db}")
    assert row_counts(pg) == row_counts(lite)
    with Session(pg) as a, Session(lite) as b:
        query = select(DataImport.kind, DataImport.file_name, DataImport.sha256, DataImport.rows_accepted).order_by(
            DataImport.id
        )
        assert a.execute(query).all() == b.execute(query).all()
    pg.dispose()
    lite.dispose()


def test_a_scenario_run_on_postgres_equals_the_same_run_on_sqlite(pg_region, demo_region_db, tmp_path):
    copy = tmp_path / "procure.db"
    shutil.copy(demo_region_db, copy)
    settings = ScenarioSettings(start_date="2027-04-01", trusts=("RXA", "RXB", "RXC", "RXD"))
    results = {}
    for backend, url in (("postgresql", pg_region), ("sqlite", f"sqlite:///{copy}")):
        engine = open_database(url)
        manage.define_scenario(engine, "four", settings)
        results[backend] = runs.run_scenario(engine, "four", quality=False)
        engine.dispose()
    pg, lite = results["postgresql"], results["sqlite"]
    assert pg["status"] == lite["status"] == "optimal"
    assert pg["input_hash"] == lite["input_hash"]
    assert round(pg["objective_gbp"], 2) == round(lite["objective_gbp"], 2)
    assert round(pg["in_year_gbp"], 2) == round(lite["in_year_gbp"], 2)
    assert pg["savings_by_cause"] == pytest.approx(lite["savings_by_cause"], abs=0.005)
    assert pg["savings_by_trust"] == pytest.approx(lite["savings_by_trust"], abs=0.005)
    assert pg["range_size"] == lite["range_size"]
    assert (
        pg["joins"]
        .sort_values(["trust", "category"])
        .reset_index(drop=True)
        .equals(lite["joins"].sort_values(["trust", "category"]).reset_index(drop=True))
    )


# --------------------------------------------------------------------------- concurrency


def _procure(url: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PROCURE_USER": "concurrency-test"}
    return subprocess.Popen(
        [*PROCURE, "--db", url, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_two_scenario_runs_at_once_both_store_complete_separate_results(pg_region):
    engine = open_database(pg_region)
    manage.define_scenario(engine, "pair", ScenarioSettings(start_date="2027-04-01", trusts=("RXA", "RXB")))
    started = time.perf_counter()
    workers = [_procure(pg_region, "scenario", "run", "pair", "--json") for _ in range(2)]
    outputs = [w.communicate(timeout=120) for w in workers]
    wall = time.perf_counter() - started
    for worker, (_, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr
        assert "Traceback" not in stderr
    summaries = [json.loads(stdout) for stdout, _ in outputs]
    assert {s["status"] for s in summaries} == {"optimal"}
    run_ids = sorted(s["run_id"] for s in summaries)
    assert len(set(run_ids)) == 2
    with Session(engine) as session:
        stored = session.scalars(select(ScenarioRun).where(ScenarioRun.id.in_(run_ids))).all()
        assert len(stored) == 2
        for run in stored:
            total = session.execute(select(func.sum(RunSaving.amount)).where(RunSaving.run_id == run.id)).scalar_one()
            assert total == pytest.approx(run.objective, abs=0.01)
            assert run.run_by == "concurrency-test" and len(run.input_hash) == 64
        assert stored[0].objective == pytest.approx(stored[1].objective, abs=0.01)
    engine.dispose()
    print(f"two concurrent `procure scenario run` processes: {wall:.1f} s wall")


def test_the_audit_trail_on_postgres(pg_region):
    result = CliRunner().invoke(main, ["--db", pg_region, "audit", "--kind", "import", "--json"])
    assert result.exit_code == 0, result.output
    imports = json.loads(result.stdout)["imports"]
    assert len(imports) == 23 and all(len(i["sha256"]) == 64 and i["who"] for i in imports)
