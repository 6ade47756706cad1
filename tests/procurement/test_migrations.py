"""Schema changes go through Alembic: upgrade in place, agree with the models, round-trip."""

import datetime as dt

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

import procurement.models  # noqa: F401  (registers every table on SQLModel.metadata)
from procurement.db import (
    alembic_config,
    current_revision,
    make_engine,
    open_database,
    table_names,
    transaction,
    upgrade,
)
from procurement.models import Scenario, ScenarioRun

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
SCENARIO_TABLES = ["scenario", "scenariorun"]
# Later revisions add tables; at head the database has exactly the models' tables.
HEAD_TABLES = sorted(["alembic_version", *SQLModel.metadata.tables])


def head(engine) -> str:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def test_the_revisions_form_one_line_from_0001():
    script = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://")))
    assert len(script.get_heads()) == 1, "two migration heads: merge them"
    chain = [rev.revision for rev in script.walk_revisions()][::-1]
    assert chain[:2] == ["0001", "0002"]
    assert set(TABLES_0001 + SCENARIO_TABLES) <= set(SQLModel.metadata.tables)


def test_a_database_at_0001_upgrades_in_place_keeping_its_rows(db_url, snapshot):
    engine = make_engine(db_url)
    upgrade(engine, "0001")
    assert current_revision(engine) == "0001"
    assert table_names(engine) == sorted(["alembic_version", *TABLES_0001])
    # A region's work at revision 0001, written as that schema's SQL (today's importers
    # read and write tables of later revisions).
    with engine.begin() as connection:
        for code in ("RXA", "RXB", "RXC"):
            connection.execute(text("INSERT INTO trust (code, name, region) VALUES (:c, :c, 'NW')"), {"c": code})
        for code in ("SUP-A", "SUP-B"):
            connection.execute(text("INSERT INTO supplier (code, name) VALUES (:c, :c)"), {"c": code})
        connection.execute(
            text(
                "INSERT INTO dataimport (kind, file_name, sha256, version, imported_at, imported_by, rows_read,"
                " rows_accepted, rows_rejected, new_lines, price_changes)"
                " VALUES ('trusts', 'trusts.csv', 'abc', 1, '2026-01-01 00:00:00', 'me', 3, 3, 0, 0, 0)"
            )
        )
    before = snapshot(engine)
    assert len(before["trust"]) == 3 and len(before["supplier"]) == 2 and len(before["dataimport"]) == 1
    engine.dispose()

    engine = open_database(db_url)  # what every command does: upgrade to head in place
    assert current_revision(engine) == head(engine) != "0001"
    assert table_names(engine) == HEAD_TABLES
    after = snapshot(engine)
    assert {name: after[name] for name in TABLES_0001} == {name: before[name] for name in TABLES_0001}
    assert all(after[name] == [] for name in set(after) - {"alembic_version", "replacedrows", *TABLES_0001})
    # 0007 marks the imports made before it: they kept nothing to revert with.
    assert [(r[1], r[3]) for r in after["replacedrows"]] == [(1, "untracked")]
    # The new tables work alongside the old rows.
    with transaction(engine) as session:
        scenario = Scenario(name="all trusts", parameters='{"range_cap": 2}')
        session.add(scenario)
        session.flush()
        session.add(ScenarioRun(scenario_id=scenario.id, solver="highs", status="optimal", objective=1.5e6))
    with Session(engine) as session:
        run = session.get(ScenarioRun, 1)
        assert (run.status, run.objective) == ("optimal", 1.5e6)
        assert run.started_at.tzinfo is not None
        assert abs(run.started_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


def test_the_migrations_and_the_models_describe_the_same_schema(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_downgrade_to_base_and_upgrade_again(engine, count):
    config = alembic_config(engine)
    command.downgrade(config, "0001")
    assert current_revision(engine) == "0001"
    assert table_names(engine) == sorted(["alembic_version", *TABLES_0001])
    command.downgrade(config, "base")
    assert current_revision(engine) is None
    assert table_names(engine) == ["alembic_version"]
    upgrade(engine)
    assert current_revision(engine) == head(engine)
    assert table_names(engine) == HEAD_TABLES
    assert count(engine, "trust") == 0


def test_opening_twice_is_harmless_and_foreign_keys_are_enforced(db_url):
    first = open_database(db_url)
    with transaction(first) as session:
        session.execute(text("INSERT INTO trust (code, name, region) VALUES ('RXA', 'Alpha', '')"))
    first.dispose()
    second = open_database(db_url)
    assert current_revision(second) == head(second)
    with second.connect() as connection:
        assert connection.execute(text("SELECT code FROM trust")).scalars().all() == ["RXA"]
        assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    with pytest.raises(IntegrityError), transaction(second) as session:
        session.execute(text("INSERT INTO equivalencegroup (code, name, category_id) VALUES ('X', 'X', 999)"))
    second.dispose()


def test_transaction_rolls_back_on_error(engine, count):
    with pytest.raises(RuntimeError), transaction(engine) as session:
        session.execute(text("INSERT INTO trust (code, name, region) VALUES ('RXA', 'Alpha', '')"))
        raise RuntimeError("boom")
    assert count(engine, "trust") == 0
