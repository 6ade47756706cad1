"""Sweeps: a grid of scenarios run in worker processes or on Dask, and the sensitivity view.

One demo region per module (the session's imported demo database, copied): a sweep of
``range_cap`` run through the CLI on two worker processes is checked against the same
scenarios run one by one with ``run_scenario`` (objective to the penny, same input
hash); a sweep of ``trusts`` runs on a Dask ``LocalCluster`` when Dask is installed.
"""

import importlib.util
import json
import os
import shutil
import sqlite3
import sys
import threading
import time
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlmodel import Session

from cli import main
from procurement.db import open_database
from procurement.export.finance import SHEETS, write_finance_workbook
from procurement.models import Scenario, ScenarioRun
from procurement.scenarios import (
    ScenarioSettings,
    SweepError,
    build_grid,
    manage,
    parse_vary,
    run_sweep,
    runs,
    sensitivity,
    sweeps,
    worker_url,
)

PENNY = 0.01
CAPS = [1, 2, 3]
DASK = importlib.util.find_spec("distributed") is not None


def _copy_region(demo_region_db: Path, folder: Path) -> tuple[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "procure.db"
    shutil.copy(demo_region_db, path)
    return f"sqlite:///{path}", path


def procure(url: str, *args: str):
    result = CliRunner().invoke(main, ["--db", url, *args])
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture(scope="module")
def region(demo_region_db, tmp_path_factory):
    """A sweep of range_cap 1,2,3 through the CLI on two worker processes, and the same
    three scenarios run one by one in this process."""
    url, path = _copy_region(demo_region_db, tmp_path_factory.mktemp("sweep"))
    engine = open_database(url)
    manage.define_scenario(engine, "base", ScenarioSettings())
    tick = time.perf_counter()
    swept = procure(url, "scenario", "sweep", "base", "--vary", "range_cap=1,2,3", "--workers", "2", "--json")
    sweep_seconds = time.perf_counter() - tick
    assert swept.exit_code == 0, swept.output
    singles = {}
    for cap in CAPS:
        manage.define_scenario(engine, f"single-{cap}", ScenarioSettings(range_cap=cap))
        singles[cap] = runs.run_scenario(engine, f"single-{cap}", quality=False)  # the bounds are not compared
    yield {"url": url, "path": path, "engine": engine, "sweep": json.loads(swept.stdout), "singles": singles,
           "sweep_seconds": sweep_seconds}  # fmt: skip
    engine.dispose()


# --------------------------------------------------------------------------- the grid


def test_vary_is_parsed_and_typed_and_names_are_readable():
    vary = parse_vary(["range_cap=1,2", "odep_floor=7A,none", "trusts=RXB+RXA,all", "switching_cost=0,15000.5"])
    assert vary["trusts"] == ["RXB+RXA", "all"]
    grid = build_grid("base", ScenarioSettings(), vary)
    assert len(grid) == 2 * 2 * 2 * 2
    first = grid[0]
    assert first.name == "base[range_cap=1,odep_floor=7A,trusts=RXA+RXB,switching_cost=0]"
    assert first.settings.range_cap == 1 and first.settings.trusts == ("RXA", "RXB")
    assert first.settings.switching_cost == 0.0 and isinstance(first.settings.switching_cost, float)
    last = grid[-1]
    assert last.name == "base[range_cap=2,odep_floor=none,trusts=all,switching_cost=15000.5]"
    assert last.settings.odep_floor is None and last.settings.trusts == ()
    # Python values from a library caller are checked, not parsed.
    typed = build_grid("b", ScenarioSettings(min_suppliers=1), {"trust_range_cap": [None, 1], "year_one_cap": [0.5]})
    assert [g.name for g in typed] == [
        "b[trust_range_cap=none,year_one_cap=0.5]",
        "b[trust_range_cap=1,year_one_cap=0.5]",
    ]
    assert all(g.settings.min_suppliers == 1 for g in typed)  # the rest comes from the base


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["range_cap"], "expected SETTING=V1,V2"),
        (["=1,2"], "expected SETTING=V1,V2"),
        (["range_cap="], "an empty value"),
        (["range_cap=1,,2"], "an empty value"),
        (["range_cap=1", "range_cap=2"], "given twice"),
        (["range_kap=1,2"], "unknown setting(s) range_kap"),
        (["range_cap=1,x"], "'x' is not a whole number"),
        (["range_cap=1,1"], "the value 1 is given twice"),
        (["switching_cost=cheap"], "is not a number"),
        (["switching_cost=nan"], "finite"),
        (["require_approval=maybe"], "true or false"),
        (["trusts=RXA++RXB"], "'+'-joined list"),
        (["odep_floor=11Z"], "not an ODEP rating"),
        (["participation=sometimes"], "'sometimes' is not one of all, optional"),
        (["range_cap_by_group=1"], "cannot be varied from the command line"),
    ],
)
def test_bad_vary_is_a_clear_error(items, message):
    with pytest.raises(SweepError) as caught:
        build_grid("base", ScenarioSettings(), parse_vary(items))
    assert message in str(caught.value)
    assert caught.value.exit_code == 2


def test_worker_url_is_absolute_and_memory_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert worker_url("sqlite:///region.db") == f"sqlite:///{tmp_path / 'region.db'}"
    assert worker_url("postgresql+psycopg://u:secret@h/db") == "postgresql+psycopg://u:secret@h/db"
    with pytest.raises(SweepError, match="in-memory"):
        worker_url("sqlite://")


# --------------------------------------------------------------------------- runs


def test_a_process_sweep_equals_the_same_scenarios_run_one_by_one(region):
    payload = region["sweep"]
    assert payload["backend"] == "processes" and payload["workers"] == 2
    rows = payload["scenarios"]
    assert [r["scenario"] for r in rows] == [f"base[range_cap={c}]" for c in CAPS]
    assert [r["range_cap"] for r in rows] == CAPS
    for row, cap in zip(rows, CAPS, strict=True):
        single = region["singles"][cap]
        assert row["status"] == single["status"] == "optimal"
        assert row["objective_gbp"] == pytest.approx(single["objective_gbp"], abs=PENNY)
        assert row["in_year_gbp"] == pytest.approx(single["in_year_gbp"], abs=PENNY)
        assert row["full_year_gbp"] == pytest.approx(single["full_year_gbp"], abs=PENNY)
        assert row["input_hash"] == single["input_hash"]
        assert row["range_size"] == single["range_size"]
    # Solved in worker processes, not in this one.
    pids = {int(r["worker"].rsplit(":", 1)[1]) for r in rows}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    # A tighter cap never saves more: the standardisation frontier rises with the cap.
    objectives = [r["objective_gbp"] for r in rows]
    assert objectives == sorted(objectives)


def test_sweep_runs_are_ordinary_scenarios_and_runs(region):
    engine = region["engine"]
    with Session(engine) as session:
        for row in region["sweep"]["scenarios"]:
            run = session.get(ScenarioRun, row["run_id"])
            scenario = session.get(Scenario, run.scenario_id)
            assert scenario.name == row["scenario"]
            assert json.loads(run.settings)["range_cap"] == row["range_cap"]
    shown = json.loads(procure(region["url"], "scenario", "show", "base[range_cap=2]", "--json").stdout)
    assert shown["objective_gbp"] == pytest.approx(region["singles"][2]["objective_gbp"], abs=PENNY)
    listed = {r["name"] for r in json.loads(procure(region["url"], "scenario", "list", "--json").stdout)}
    assert {f"base[range_cap={c}]" for c in CAPS} <= listed


def test_compare_sweep_shows_net_savings_against_the_one_setting_that_differs(region):
    url = region["url"]
    compared = procure(url, "scenario", "compare", "--sweep", "base", "--json")
    assert compared.exit_code == 0, compared.output
    payload = json.loads(compared.stdout)
    assert [s["scenario"] for s in payload["scenarios"]] == [f"base[range_cap={c}]" for c in CAPS]
    sens = payload["sensitivity"]
    assert sens["setting"] == "range_cap"
    assert [r["range_cap"] for r in sens["rows"]] == CAPS
    for row, cap in zip(sens["rows"], CAPS, strict=True):
        single = region["singles"][cap]
        assert row["net_savings_gbp"] == pytest.approx(single["objective_gbp"], abs=PENNY)
        assert row["in_year_gbp"] == pytest.approx(single["in_year_gbp"], abs=PENNY)
        assert row["full_year_gbp"] == pytest.approx(single["full_year_gbp"], abs=PENNY)
    assert sens["rows"][0]["change_in_net_gbp"] is None
    assert sens["rows"][1]["change_in_net_gbp"] == pytest.approx(
        sens["rows"][1]["net_savings_gbp"] - sens["rows"][0]["net_savings_gbp"]
    )
    # Named out of order: the table is still in the setting's order.
    table = procure(url, "scenario", "compare", "base[range_cap=3]", "base[range_cap=1]", "base[range_cap=2]")
    assert table.exit_code == 0
    assert "Sensitivity: net savings against range_cap" in table.stdout
    section = table.stdout.split("Sensitivity")[1]
    assert section.index("base[range_cap=1]") < section.index("base[range_cap=2]") < section.index("base[range_cap=3]")
    # The same settings twice (no setting differs): no sensitivity table.
    same = json.loads(procure(url, "scenario", "compare", "base[range_cap=1]", "single-1", "--json").stdout)
    assert same["sensitivity"] is None
    missing = procure(url, "scenario", "compare", "--sweep", "nope")
    assert missing.exit_code == 3 and "no sweep of scenario 'nope'" in missing.output
    assert procure(url, "scenario", "compare").exit_code == 2


def _summary(name, settings, objective, in_year=1.0, full_year=2.0, trusts=("RXA",)):
    return {"scenario": name, "status": "optimal", "objective_gbp": objective, "in_year_gbp": in_year,
            "full_year_gbp": full_year, "range_size": 3, "suppliers_kept": ["S1"], "settings": settings,
            "savings_by_trust": dict.fromkeys(trusts, 1.0)}  # fmt: skip


def test_sensitivity_needs_exactly_one_differing_setting_and_orders_its_values():
    trusts = sensitivity(
        [
            _summary("all", {"trusts": []}, 30.0, trusts=("RXA", "RXB", "RXC", "RXD")),
            _summary("three", {"trusts": ["RXA", "RXB", "RXC"]}, 20.0),
            _summary("two", {"trusts": ["RXA", "RXB"]}, 10.0),
        ]
    )
    assert trusts["setting"] == "trusts"
    table = trusts["table"]
    assert list(table["trusts"]) == ["RXA+RXB", "RXA+RXB+RXC", "all"]
    assert list(table["trusts_taking_part"]) == [2, 3, 4]
    assert list(table["change_in_net_gbp"].iloc[1:]) == [10.0, 10.0]
    caps = sensitivity([_summary("none", {"trust_range_cap": None}, 3.0), _summary("one", {"trust_range_cap": 1}, 1.0)])
    assert list(caps["table"]["scenario"]) == ["one", "none"]  # no cap last
    assert sensitivity([_summary("a", {"range_cap": 1}, 1.0)]) is None  # one scenario
    two_settings = [_summary("a", {"range_cap": 1}, 1.0), _summary("b", {"range_cap": 2, "min_suppliers": 1}, 2.0)]
    assert sensitivity(two_settings) is None
    # A setting missing from an older run's stored settings counts as its default (3).
    assert sensitivity([_summary("a", {}, 1.0), _summary("b", {"range_cap": 3}, 1.0)]) is None


def test_cli_sweep_errors_are_clear_with_an_exit_code_and_no_traceback(region, monkeypatch):
    url = region["url"]
    cases = [
        (["base", "--vary", "range_cap"], 2, "expected SETTING=V1,V2"),
        (["base", "--vary", "range_kap=1,2"], 2, "unknown setting(s) range_kap"),
        (["base", "--vary", "range_cap=one"], 2, "'one' is not a whole number"),
        (["base", "--vary", "range_cap=1", "--workers", "0"], 2, "--workers must be 1 or more"),
        (
            ["base", "--vary", "range_cap=1", "--scheduler", "nonsense"],
            *((2, "not a Dask scheduler address") if DASK else (1, "pip install 'procure[dask]'")),
        ),
        (["base", "--vary", "trusts=RXA+RXZ"], 3, "RXZ has no usage imported"),
        (["nope", "--vary", "range_cap=1"], 3, "no scenario named 'nope'"),
        (["base"], 2, "Missing option '--vary'"),
    ]
    with Session(region["engine"]) as session:
        before = session.scalar(select(func.count()).select_from(Scenario))
    for args, code, message in cases:
        result = procure(url, "scenario", "sweep", *args)
        assert result.exit_code == code, (args, result.output)
        assert message in result.output, (args, result.output)
    # Without Dask installed, --scheduler says how to install it.
    monkeypatch.setitem(sys.modules, "distributed", None)
    result = procure(url, "scenario", "sweep", "base", "--vary", "range_cap=1", "--scheduler", "tcp://127.0.0.1:8786")
    assert result.exit_code == 1 and "pip install 'procure[dask]'" in result.output
    with Session(region["engine"]) as session:
        assert session.scalar(select(func.count()).select_from(Scenario)) == before  # nothing defined


def test_one_worker_runs_the_sweep_in_this_process(region, tmp_path):
    url, _ = _copy_region(region["path"], tmp_path / "serial")
    seen = []
    table = run_sweep(url, "base", {"range_cap": ["2"]}, workers=1, quality=False, progress=seen.append)
    assert table.attrs["backend"] == "serial" and table.attrs["workers"] == 1
    assert [r["scenario"] for r in seen] == ["base[range_cap=2]"]
    assert table.loc[0, "worker"].endswith(f":{os.getpid()}")
    assert table.loc[0, "objective_gbp"] == pytest.approx(region["singles"][2]["objective_gbp"], abs=PENNY)
    assert table.loc[0, "input_hash"] == region["singles"][2]["input_hash"]


def test_workers_store_their_runs_while_another_writer_holds_the_sqlite_lock(region, tmp_path):
    """Storing begins with its first write, so a worker that finds the database locked
    waits (busy timeout) instead of failing."""
    url, path = _copy_region(region["path"], tmp_path / "locked")
    engine = open_database(url)
    names = ["base[range_cap=1]", "base[range_cap=2]"]
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # the write lock, held for 4 s
    releaser = threading.Timer(4.0, lambda: holder.execute("COMMIT"))
    results: dict[str, dict] = {}

    def worker(name: str) -> None:
        results[name] = sweeps.run_one(url, name, quality=False)

    threads = [threading.Thread(target=worker, args=(n,)) for n in names]
    releaser.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    releaser.join()
    holder.close()
    for name in names:
        assert results[name]["status"] == "optimal", results[name]
        assert results[name]["wall_seconds"] >= 3.5  # it could store only once the lock was released
        assert results[name]["run_id"] is not None
    with Session(engine) as session:
        ids = [r["run_id"] for r in results.values()]
        assert len(session.scalars(select(ScenarioRun.id).where(ScenarioRun.id.in_(ids))).all()) == 2
    engine.dispose()


# --------------------------------------------------------------------------- the finance workbook


def _evaluate(ws, coordinate: str):
    """A Sensitivity cell's value: numbers, and the SUM/minus formulas it uses (not Summary's)."""
    value = ws[coordinate].value
    if not (isinstance(value, str) and value.startswith("=")):
        return value
    expr = value[1:]
    if expr.startswith("SUM("):
        first, last = expr[4:-1].split(":")
        row = int("".join(ch for ch in first if ch.isdigit()))
        lo, hi = (openpyxl.utils.column_index_from_string(c.rstrip("0123456789")) for c in (first, last))
        return sum(ws.cell(row=row, column=c).value for c in range(lo, hi + 1))
    left, right = expr.split("-")
    return _evaluate(ws, left) - _evaluate(ws, right)


def test_the_finance_workbook_gets_a_sensitivity_sheet_with_a_chart(region, tmp_path):
    engine = region["engine"]
    names = ["base[range_cap=3]", "base[range_cap=1]", "base[range_cap=2]"]
    summary = write_finance_workbook(engine, names, tmp_path / "sweep.xlsx")
    wb = openpyxl.load_workbook(summary["path"])
    assert wb.sheetnames == summary["sheets"] == [SHEETS[0], "Sensitivity", *SHEETS[1:]]
    ws = wb["Sensitivity"]
    header = [c.value for c in ws[4]]
    assert header[0] == "Max product lines per group (region)" and header[1] == "Scenario"
    col = {label: openpyxl.utils.get_column_letter(i) for i, label in enumerate(header, start=1)}
    rows = range(5, 8)
    assert [ws[f"A{r}"].value for r in rows] == CAPS  # numbers, in the setting's order
    assert [ws[f"B{r}"].value for r in rows] == [f"base[range_cap={c}]" for c in CAPS]
    net, change, check = col["Net savings over the horizon"], col[header[-2]], col[header[-1]]
    cells = {f["scenario"]: f["cells"] for f in summary["scenarios"]}
    for r, cap in zip(rows, CAPS, strict=True):
        single = region["singles"][cap]
        assert ws[f"{net}{r}"].value == f"=SUM(E{r}:K{r})"  # the total is a formula over the seven causes
        assert _evaluate(ws, f"{net}{r}") == pytest.approx(single["objective_gbp"], abs=PENNY)
        assert isinstance(ws[f"{col['In-year savings (first 12 months)']}{r}"].value, float)
        assert ws[f"{col['Full-year run rate']}{r}"].value == pytest.approx(single["full_year_gbp"], abs=PENNY)
        assert ws[f"{check}{r}"].value == f"={cells[f'base[range_cap={cap}]']['net']}-{net}{r}"
        assert "£" in ws[f"{net}{r}"].number_format
    assert ws[f"{change}5"].value is None and ws[f"{change}6"].value == f"={net}6-{net}5"
    assert _evaluate(ws, f"{change}7") == pytest.approx(
        region["singles"][3]["objective_gbp"] - region["singles"][2]["objective_gbp"], abs=PENNY
    )
    (chart,) = ws._charts
    assert type(chart).__name__ == "LineChart" and len(chart.series) == 3
    assert chart.series[0].val.numRef.f == f"'Sensitivity'!${net}$5:${net}$7"
    assert chart.series[0].cat.numRef.f == "'Sensitivity'!$A$5:$A$7"
    # Scenarios that differ in nothing, or a single scenario: no Sensitivity sheet.
    plain = write_finance_workbook(engine, ["base[range_cap=1]", "single-1"], tmp_path / "plain.xlsx")
    assert plain["sheets"] == list(SHEETS)
    assert region["sweep_seconds"] > 0


def test_libreoffice_recalculates_the_sensitivity_sheet(region, tmp_path, recalculate_in_libreoffice):
    names = [f"base[range_cap={c}]" for c in CAPS]
    summary = write_finance_workbook(region["engine"], names, tmp_path / "sweep.xlsx")
    converted = recalculate_in_libreoffice(summary["path"])
    ws = openpyxl.load_workbook(converted, data_only=True)["Sensitivity"]
    for r, cap in zip(range(5, 8), CAPS, strict=True):
        assert ws[f"L{r}"].value == pytest.approx(region["singles"][cap]["objective_gbp"], abs=PENNY)
        assert ws[f"P{r}"].value == pytest.approx(0.0, abs=PENNY)  # Summary agrees


# --------------------------------------------------------------------------- Dask


@pytest.mark.skipif(not DASK, reason="Dask is not installed: pip install -e '.[test]' (or '.[dask]') to run on Dask")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_dask_sweep_of_trusts_equals_one_by_one_and_exports_a_column_chart(demo_region_db, tmp_path):
    import logging

    from distributed import LocalCluster

    url, _ = _copy_region(demo_region_db, tmp_path / "dask")
    engine = open_database(url)
    manage.define_scenario(engine, "base", ScenarioSettings())
    sets = ["RXA+RXB", "RXA+RXB+RXC"]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster:  # fmt: skip
        table = run_sweep(url, "base", {"trusts": sets}, scheduler=cluster.scheduler_address, quality=False)
    assert table.attrs["backend"] == "dask" and table.attrs["workers"] == 2
    assert list(table["scenario"]) == [f"base[trusts={s}]" for s in sets]
    assert list(table["trusts"]) == sets
    assert not any(w.endswith(f":{os.getpid()}") for w in table["worker"])
    for row, trusts in zip(table.itertuples(), sets, strict=True):
        name = f"one-{trusts}"
        manage.define_scenario(engine, name, ScenarioSettings(trusts=tuple(trusts.split("+"))))
        single = runs.run_scenario(engine, name, quality=False)
        assert row.status == single["status"] == "optimal"
        assert row.objective_gbp == pytest.approx(single["objective_gbp"], abs=PENNY)
        assert row.input_hash == single["input_hash"]
    compared = json.loads(procure(url, "scenario", "compare", "--sweep", "base", "--json").stdout)
    assert compared["sensitivity"]["setting"] == "trusts"
    assert [r["trusts_taking_part"] for r in compared["sensitivity"]["rows"]] == [2, 3]
    summary = write_finance_workbook(engine, list(table["scenario"]), tmp_path / "trusts.xlsx")
    ws = openpyxl.load_workbook(summary["path"])["Sensitivity"]
    assert ws["A4"].value == "Participating trusts" and ws["A5"].value == "RXA, RXB"
    (chart,) = ws._charts
    assert type(chart).__name__ == "BarChart" and chart.type == "col" and len(chart.series) == 3
    engine.dispose()
