"""Scenario management: define refuses an existing name unless --replace; delete, copy,
diff; list and show flag a run that the settings or the data have overtaken."""

import json
import shutil

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from cli import main
from procurement.db import open_database


@pytest.fixture
def url(demo_region_db, tmp_path):
    copy = tmp_path / "procure.db"
    shutil.copy(demo_region_db, copy)
    return f"sqlite:///{copy}"


def procure(url: str, *args: str):
    return CliRunner().invoke(main, ["--db", url, *args])


def table(url: str, sql: str) -> list[tuple]:
    engine = open_database(url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text(sql)).all()]
    engine.dispose()
    return rows


def test_redefining_is_refused_unless_replace_and_says_what_changes(url):
    assert procure(url, "scenario", "define", "a", "--range-cap", "2", "--odep-floor", "7A").exit_code == 0
    before = table(url, "SELECT name, parameters FROM scenario")
    result = procure(url, "scenario", "define", "a", "--range-cap", "1")
    assert result.exit_code == 1
    assert "scenario 'a' exists; --replace to change it" in result.output
    assert "range_cap: 2 -> 1" in result.output and "odep_floor: 7A -> 10A" in result.output
    assert table(url, "SELECT name, parameters FROM scenario") == before
    assert procure(url, "scenario", "define", "a", "--range-cap", "1", "--replace").exit_code == 0
    assert json.loads(table(url, "SELECT parameters FROM scenario")[0][0])["range_cap"] == 1


def test_copy_diff_and_delete(url):
    assert procure(url, "scenario", "define", "base").exit_code == 0
    result = procure(url, "scenario", "copy", "base", "two", "--set", "range_cap=2", "--set", "trusts=RXA+RXB")
    assert result.exit_code == 0, result.output
    result = procure(url, "scenario", "diff", "base", "two", "--json")
    rows = {r["setting"]: (r["base"], r["two"]) for r in json.loads(result.output)["settings"]}
    assert rows == {"trusts": ("all", "RXA+RXB"), "range_cap": (3, 2)}
    bad = procure(url, "scenario", "copy", "base", "three", "--set", "range_cap=0", "--set", "nope=1")
    assert bad.exit_code == 2 and "range_cap" in bad.output and "nope: unknown setting" in bad.output
    assert procure(url, "scenario", "copy", "base", "two").exit_code == 1  # exists
    assert procure(url, "scenario", "run", "two").exit_code == 0
    result = procure(url, "scenario", "delete", "two")
    assert result.exit_code == 0 and "1 run(s)" in result.output
    assert table(url, "SELECT name FROM scenario") == [("base",)]
    assert table(url, "SELECT count(*) FROM scenariorun") == [(0,)]
    assert table(url, "SELECT count(*) FROM runsaving") == [(0,)]
    assert procure(url, "scenario", "delete", "two").exit_code == 3


def test_a_run_is_stale_when_its_settings_or_its_data_change(url):
    assert procure(url, "scenario", "define", "s").exit_code == 0
    assert procure(url, "scenario", "run", "s").exit_code == 0
    shown = json.loads(procure(url, "scenario", "show", "s", "--json").output)
    assert shown["stale"] == ""
    listed = json.loads(procure(url, "scenario", "list", "--json").output)
    assert [r["stale"] for r in listed] == [""]
    # The data change: a usage row's quantity (as a revert or a new import would).
    engine = open_database(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE usage SET quantity = quantity + 7 WHERE id = (SELECT min(id) FROM usage)"))
    engine.dispose()
    assert json.loads(procure(url, "scenario", "show", "s", "--json").output)["stale"] == "data changed"
    assert procure(url, "scenario", "define", "s", "--range-cap", "2", "--replace").exit_code == 0
    result = procure(url, "scenario", "show", "s")
    assert "stale: settings changed" in result.output
    listed = json.loads(procure(url, "scenario", "list", "--json").output)
    assert listed[0]["stale"] == "settings changed"


def test_names_with_brackets_print_literally_and_errors_are_json_with_json(url):
    assert procure(url, "scenario", "define", "base[range_cap=1]", "--range-cap", "1").exit_code == 0
    result = procure(url, "scenario", "run", "base[range_cap=1]")
    assert result.exit_code == 0 and "base[range_cap=1] (run #" in result.output
    listed = procure(url, "scenario", "list")
    assert "base[range_cap=1]" in listed.output
    result = procure(url, "scenario", "show", "nope", "--json")
    assert result.exit_code == 3
    assert json.loads(result.stdout) == {"error": json.loads(result.stdout)["error"], "exit_code": 3}
    assert "no scenario named 'nope'" in result.stderr
    csv = procure(url, "scenario", "list", "--format", "csv")
    assert csv.output.splitlines()[0] == "name,run,status,objective,run_at,stale"
    as_json = json.loads(procure(url, "scenario", "list", "--format", "json").output)
    assert isinstance(as_json[0]["run_id"], int)
