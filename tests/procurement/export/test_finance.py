"""The finance workbook: sheets, live formulas that recompute to the engine's figures, safe text.

One demo region is built and solved per module (three scenarios, plus a fourth that
starts in January and has a trust that waits for its contract to end); the tests read
the workbooks back with openpyxl. The LibreOffice test recalculates the workbook in a
real spreadsheet engine and compares the Summary with the engine's figures.
"""

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import text, update
from sqlmodel import Session

from cli import main
from procurement.db import open_database
from procurement.demo import run_demo
from procurement.errors import ProcureError
from procurement.export.finance import SHEETS, in_year_from_contracts, write_finance_workbook
from procurement.export.safe import is_neutralised
from procurement.models import Contract, ProductLine, RejectedRow, ScenarioRun, Trust
from procurement.scenarios import CAUSES, ScenarioError, ScenarioSettings, define_scenario, run_scenario, show_scenario

NAMES = ["all-trusts", "top-four", "one-line-per-group"]
LATE = "late-joiner"
EVIL = '=HYPERLINK("http://x")'
PENNY = 0.01


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The solved demo region; RXA's hip contracts made too dear to leave; a January-start scenario."""
    root = tmp_path_factory.mktemp("finance")
    result = run_demo(root, size="S", echo=None)
    engine = open_database(result["database"])
    with Session(engine) as session:
        rxa = session.execute(text("SELECT id FROM trust WHERE code = 'RXA'")).scalar_one()
        hip = session.execute(text("SELECT id FROM category WHERE code = 'hip'")).scalar_one()
        session.execute(
            update(Contract).where(Contract.trust_id == rxa, Contract.category_id == hip).values(exit_fee=50_000_000.0)
        )
        session.commit()
    define_scenario(engine, LATE, ScenarioSettings(start_date="2027-01-01"))
    run_scenario(engine, LATE, quality=False)
    # Text from suppliers, trusts and files that a spreadsheet would run.
    with Session(engine) as session:
        line = session.execute(text("SELECT MIN(id) FROM productline")).scalar_one()
        session.execute(update(ProductLine).where(ProductLine.id == line).values(brand=EVIL))
        session.execute(update(Trust).where(Trust.code == "RXB").values(name="+RXB cmd|' /C calc'!A0"))
        first_reject = session.execute(text("SELECT MIN(id) FROM rejectedrow")).scalar_one()
        session.execute(
            update(RejectedRow).where(RejectedRow.id == first_reject).values(value=EVIL, reason="@SUM(1+1)")
        )
        session.commit()
    yield engine, root
    engine.dispose()


@pytest.fixture(scope="module")
def workbook(demo):
    engine, root = demo
    summary = write_finance_workbook(engine, NAMES, root / "out" / "savings-case.xlsx")
    return summary, openpyxl.load_workbook(summary["path"])


@pytest.fixture(scope="module")
def engine_figures(demo):
    engine, _ = demo
    return {name: show_scenario(engine, name) for name in [*NAMES, LATE]}


def table(ws, header_row: int = 1) -> pd.DataFrame:
    """A sheet's table as a frame of raw cell values (formulas as their text)."""
    rows = list(ws.iter_rows(min_row=header_row, values_only=True))
    header = [h for h in rows[0] if h is not None]
    body = [r[: len(header)] for r in rows[1:] if r[0] is not None]
    return pd.DataFrame(body, columns=header)


# --------------------------------------------------------------------------- a formula evaluator for what Summary uses

REF = re.compile(r"(?:(?P<sheet>'[^']+'|\w+)!)?\$?(?P<col>[A-Z]+)\$?(?P<row>\d+)")


def _cells(wb, sheet: str, rng: str) -> list[tuple[str, str]]:
    """(sheet, coordinate) of each cell of a one-column range such as Trusts!$J$2:$J$40."""
    if "!" in rng:
        sheet, rng = rng.split("!")
        sheet = sheet.strip("'")
    first, last = (REF.fullmatch(part) for part in rng.split(":"))
    col = first["col"]
    return [(sheet, f"{col}{r}") for r in range(int(first["row"]), int(last["row"]) + 1)]


def evaluate(wb, sheet: str, coordinate: str):
    """The value of a cell, evaluating the SUMPRODUCT / SUM / minus forms the workbook's totals use."""
    value = wb[sheet][coordinate].value
    if not (isinstance(value, str) and value.startswith("=")):
        return value
    expr = value[1:]
    minus = 0.0
    if m := re.fullmatch(r"(.*\))-(\$?[A-Z]+\$?\d+)", expr):
        expr, subtract = m.group(1), m.group(2)
        minus = evaluate(wb, sheet, subtract.replace("$", ""))
    if m := re.fullmatch(r"SUMPRODUCT\((.*)\)", expr):
        # (range=criterion)*(range=criterion)*values: an exact-match conditional sum.
        *tests, values_range = m.group(1).split("*")
        values = [evaluate(wb, s, c) for s, c in _cells(wb, sheet, values_range)]
        keep = np.ones(len(values), dtype=bool)
        for test in tests:
            crit_range, crit = test.strip("()").split("=")
            wanted = evaluate(wb, sheet, crit.replace("$", ""))
            keep &= np.array([evaluate(wb, s, c) == wanted for s, c in _cells(wb, sheet, crit_range)])
        return float(sum(v for v, k in zip(values, keep, strict=True) if k and v is not None)) - minus
    if m := re.fullmatch(r"SUM\(([A-Z]+)(\d+):([A-Z]+)(\d+)\)", expr):
        c1, r1, c2, r2 = m.groups()
        lo, hi = openpyxl.utils.column_index_from_string(c1), openpyxl.utils.column_index_from_string(c2)
        total = 0.0
        for c in range(lo, hi + 1):
            for r in range(int(r1), int(r2) + 1):
                v = evaluate(wb, sheet, f"{openpyxl.utils.get_column_letter(c)}{r}")
                total += v if isinstance(v, int | float) else 0.0
        return total - minus
    raise AssertionError(f"the test's evaluator does not know {value!r}")


def at(wb, address: str):
    sheet, coordinate = address.split("!")
    return evaluate(wb, sheet, coordinate)


# --------------------------------------------------------------------------- structure


def test_the_workbook_has_every_sheet(workbook):
    summary, wb = workbook
    assert wb.sheetnames == list(SHEETS) == summary["sheets"]
    assert [s["scenario"] for s in summary["scenarios"]] == NAMES
    assert Path(summary["path"]).exists()
    assert summary["warnings"] == []


def test_every_summary_figure_is_a_formula(workbook):
    summary, wb = workbook
    ws = wb["Summary"]
    for figures in summary["scenarios"]:
        for key, address in figures["cells"].items():
            cell = ws[address.split("!")[1]]
            assert cell.data_type == "f", (key, address, cell.value)
            assert str(cell.value).startswith("=")
    # Nothing numeric on Summary is a typed-in value.
    constants = [c.coordinate for row in ws.iter_rows() for c in row if isinstance(c.value, int | float)]
    assert constants == []
    # Net: the column after the seven causes
    net = ws[summary["scenarios"][0]["cells"]["net"].split("!")[1]].value
    assert net.startswith("=SUMPRODUCT((Trusts!$A$2:$A$") and "=B$4)*Trusts!$K$2:$K$" in net


def test_summary_has_a_waterfall_and_a_chart_by_year(workbook):
    _, wb = workbook
    charts = wb["Summary"]._charts
    assert len(charts) == 2
    waterfall, by_year = charts
    assert waterfall.grouping == "stacked" and len(waterfall.series) == 3
    assert waterfall.series[0].graphicalProperties.noFill  # the invisible base
    assert by_year.grouping == "clustered" and len(by_year.series) == len(NAMES)


def test_numbers_dates_and_percentages_are_typed(workbook):
    _, wb = workbook
    trusts = wb["Trusts"]
    for cell in trusts["D"][1:]:
        assert isinstance(cell.value, int | float) and "£" in cell.number_format
    assert all(c.data_type == "f" for c in trusts["K"][1:])
    contracts = wb["Contracts"]
    joined = [r for r in contracts.iter_rows(min_row=2) if r[3].value == "yes"]
    assert joined and all(isinstance(r[4].value, dt.datetime) and "yy" in r[4].number_format for r in joined)
    solver = wb["Solver"]
    # A gap of exactly 0 reads back from the file as the integer 0.
    assert isinstance(solver["H2"].value, int | float) and solver["H2"].number_format.endswith("%")
    assert isinstance(solver["V2"].value, dt.datetime)


def test_detail_sheets_have_frozen_headers_filters_and_print_setup(workbook):
    _, wb = workbook
    for name in SHEETS[1:]:
        ws = wb[name]
        assert ws.freeze_panes, name
        assert ws.page_setup.orientation == "landscape", name
        assert ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage, name
        if name != "Assumptions":
            assert ws.auto_filter.ref or ws.tables, name
    assert wb["Trusts"].auto_filter.ref.startswith(
        "A1:R"
    )  # + off-contract cause, spend today and on the plan; P to R: switching
    assert set(wb["Data quality"].tables) == {"Imports", "RejectedRows", "Unclassified"}
    assert wb["Trusts"].column_dimensions["C"].width > 20


# --------------------------------------------------------------------------- figures


def test_summary_formulas_recompute_to_the_engine_figures(workbook, engine_figures):
    summary, wb = workbook
    for figures in summary["scenarios"]:
        engine = engine_figures[figures["scenario"]]
        cells = figures["cells"]
        assert at(wb, cells["net"]) == pytest.approx(engine["objective_gbp"], abs=PENNY)
        assert at(wb, cells["in_year"]) == pytest.approx(engine["in_year_gbp"], abs=PENNY)
        assert at(wb, cells["full_year"]) == pytest.approx(engine["full_year_gbp"], abs=PENNY)
        assert at(wb, cells["net_by_cause"]) == pytest.approx(engine["objective_gbp"], abs=PENNY)
        assert at(wb, cells["years_total"]) == pytest.approx(engine["objective_gbp"], abs=PENNY)
        for cause in CAUSES:
            assert at(wb, cells[cause]) == pytest.approx(engine["savings_by_cause"][cause], abs=PENNY)
        for fy, amount in engine["savings_by_year"].items():
            assert at(wb, cells[f"fy {fy}"]) == pytest.approx(amount, abs=PENNY)
        assert at(wb, cells["check_categories"]) == pytest.approx(0.0, abs=PENNY)
        assert at(wb, cells["check_years"]) == pytest.approx(0.0, abs=PENNY)
        # The summary's own figures are the same ones.
        assert figures["objective_gbp"] == pytest.approx(engine["objective_gbp"], abs=PENNY)


def test_detail_sheets_add_up_to_the_run(workbook, engine_figures):
    _, wb = workbook
    trusts, categories, years = table(wb["Trusts"]), table(wb["Categories"]), table(wb["Years"])
    causes = trusts.columns[3:10]  # the seven causes, off-contract costs last
    for name in NAMES:
        engine = engine_figures[name]
        mine = trusts[trusts["Scenario"] == name]
        assert mine[causes].to_numpy().sum() == pytest.approx(engine["objective_gbp"], abs=PENNY)
        assert mine["In-year savings (first 12 months)"].sum() == pytest.approx(engine["in_year_gbp"], abs=PENNY)
        assert mine["Full-year run rate"].sum() == pytest.approx(engine["full_year_gbp"], abs=PENNY)
        by_trust = mine.set_index("Trust")[causes].sum(axis=1)
        assert by_trust.to_dict() == pytest.approx(engine["savings_by_trust"], abs=PENNY)
        by_cat = categories[categories["Scenario"] == name].set_index("Category")[causes].sum(axis=1)
        assert by_cat.to_dict() == pytest.approx(engine["savings_by_category"], abs=PENNY)
        by_year = years[years["Scenario"] == name].groupby("Financial year")["Net savings"].sum()
        assert by_year.to_dict() == pytest.approx(engine["savings_by_year"], abs=PENNY)


def test_range_marks_kept_dropped_and_new_lines(workbook, engine_figures):
    _, wb = workbook
    rng = table(wb["Range"])
    status = rng.columns[6]
    assert set(rng[status]) <= {"kept", "dropped", "new"}
    for name in NAMES:
        mine = rng[rng["Scenario"] == name]
        assert (mine[status] != "dropped").sum() == engine_figures[name]["range_size"]
        dropped = mine[mine[status] == "dropped"]
        assert (dropped["Regional units a year"] == 0).all()
        new = mine[mine[status] == "new"]
        assert (new["Trusts new to it"] > 0).all()
    assert (rng["Current units a year (usage)"] > 0).any()


def test_contracts_calendar_shows_join_dates_and_the_common_end(workbook, demo):
    _, wb = workbook
    ws = wb["Contracts"]
    header = [c.value for c in ws[1]]
    first_month = next(i for i, v in enumerate(header) if isinstance(v, dt.datetime))
    months = header[first_month:]
    assert months[0] == dt.datetime(2027, 4, 1) and len(months) == 36
    last = int(re.sub(r"[A-Z]", "", ws.auto_filter.ref.split(":")[1]))
    for row in ws.iter_rows(min_row=2, max_row=last):
        assert row[17].value == dt.datetime(2030, 3, 31)  # start + 36 months, less a day
        if row[3].value == "yes":
            join = row[4].value
            k = (join.year - 2027) * 12 + join.month - 4
            fills = [c.fill.fgColor.rgb[-6:] for c in row[first_month:]]
            assert set(fills[k:]) == {"70AD47"}  # on the regional agreement to the common end date
            assert "70AD47" not in fills[:k]


def test_a_late_joiner_is_drawn_with_its_bridging_months(demo, engine_figures):
    engine, root = demo
    summary = write_finance_workbook(engine, [LATE], root / "late.xlsx")
    wb = openpyxl.load_workbook(summary["path"])
    contracts = table(wb["Contracts"])
    rxa_hip = contracts[(contracts["Trust"] == "RXA") & (contracts["Category"] == "hip")]
    assert (rxa_hip["Exit fee paid"] == 0).all()  # every RXA hip contract too dear to leave early
    bridged = rxa_hip[rxa_hip["Bridging cost"] > 0]
    assert len(bridged) and (bridged["Join date"] > bridged["Current contract ends"]).all()
    ws = wb["Contracts"]
    header = [c.value for c in ws[1]]
    first_month = next(i for i, v in enumerate(header) if isinstance(v, dt.datetime))
    row = next(
        r
        for r in ws.iter_rows(min_row=2)
        if r[1].value == "RXA" and r[2].value == "hip" and r[6].value == bridged["Contract reference"].iloc[0]
    )
    fills = {c.fill.fgColor.rgb[-6:] for c in row[first_month:]}
    assert {"70AD47", "F4B183"} <= fills  # bridging, then regional
    assert {"J", "E"} <= {c.value for c in row[first_month:]}  # its end and the join month are marked
    # A January start: in-year is rebuilt from the join decisions, not a financial year.
    engine_run = engine_figures[LATE]
    figures = summary["scenarios"][0]
    assert figures["in_year_gbp"] == pytest.approx(engine_run["in_year_gbp"], abs=PENNY)
    assert at(wb, figures["cells"]["in_year"]) == pytest.approx(engine_run["in_year_gbp"], abs=PENNY)
    assert at(wb, figures["cells"]["net"]) == pytest.approx(engine_run["objective_gbp"], abs=PENNY)
    assert summary["warnings"] == []


def test_in_year_is_the_first_twelve_months_of_the_timeline():
    """The rebuild against a month-by-month timeline with the solver's rules."""
    rng = np.random.default_rng(7)
    rows = []
    for _ in range(200):
        horizon = int(rng.choice([9, 12, 24, 36]))
        joins = bool(rng.random() < 0.85)
        jm = int(rng.integers(0, horizon))
        end = int(rng.integers(0, horizon + 6))
        baseline, regional = rng.uniform(1e4, 1e6), rng.uniform(1e4, 1e6)
        uplift, fee, switching = rng.uniform(0, 0.1), rng.uniform(0, 5e4), rng.uniform(0, 3e4)
        fee = fee if jm < end else 0.0
        bridged = max(0, jm - end)
        timeline = np.zeros(horizon)
        if joins:
            timeline[jm:] += (baseline - regional) / 12
            timeline[end:jm] -= uplift * baseline / 12
            timeline[jm] -= fee + switching
        rows.append(
            {
                "joins": joins,
                "join_month": jm if joins else None,
                "end_month": end,
                "annual_baseline": baseline,
                "annual_regional_cost": regional if joins else 0.0,
                "exit_fee_paid": fee if joins else 0.0,
                "bridging_cost": uplift * baseline / 12 * bridged if joins else 0.0,
                "switching": switching if joins else 0.0,
                "horizon": horizon,
                "expected": timeline[:12].sum(),
            }
        )
    frame = pd.DataFrame(rows)
    for horizon, part in frame.groupby("horizon"):
        got = in_year_from_contracts(part.astype({"join_month": "Float64"}), part["switching"], int(horizon))
        assert got.to_numpy() == pytest.approx(part["expected"].to_numpy(), abs=1e-6)


# --------------------------------------------------------------------------- text from data


def test_no_text_cell_can_run(workbook):
    _, wb = workbook
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "s":
                    assert is_neutralised(cell.value), (ws.title, cell.coordinate, cell.value)
                if cell.data_type == "f":
                    assert "HYPERLINK" not in cell.value and "calc" not in cell.value, (ws.title, cell.coordinate)


def test_supplier_trust_and_file_text_is_neutralised(workbook):
    _, wb = workbook
    brands = table(wb["Range"])["Brand"]
    assert ("'" + EVIL) in set(brands)
    names = set(table(wb["Trusts"])["Trust name"])
    assert "'+RXB cmd|' /C calc'!A0" in names
    dq = wb["Data quality"]
    values = {c.value for row in dq.iter_rows() for c in row if isinstance(c.value, str)}
    assert "'" + EVIL in values and "'@SUM(1+1)" in values


# --------------------------------------------------------------------------- the other sheets


def test_assumptions_state_the_baseline_and_every_setting(workbook, demo):
    _, wb = workbook
    cells = [c.value for row in wb["Assumptions"].iter_rows() for c in row if c.value is not None]
    words = " ".join(str(v) for v in cells)
    assert "each trust continues as today on its own contracts and at the prices it actually paid" in words.lower()
    for label in ("Horizon (months)", "Start of the regional agreement", "Max product lines per group (region)"):
        assert label in cells
    for cause in ("Price harmonisation", "Volume tiers", "Standardisation", "Less: exit fees"):
        assert cause in cells
    assert dt.datetime(2027, 4, 1) in cells


def test_solver_sheet_shows_quality_and_the_rule_of_thumb(workbook, engine_figures):
    _, wb = workbook
    solver = table(wb["Solver"])
    assert list(solver["Scenario"]) == NAMES
    assert (solver["Status"] == "optimal").all()
    assert solver["Verdict"].str.startswith("proven optimal").all()
    # every run carries a bound for the whole problem, at or above its plan
    assert (solver["Global bound (every plan of the whole problem)"] >= solver["Net savings (objective)"] - 1).all()
    assert (solver["Global gap"] <= 1e-4).all() and solver["How the global bound was obtained"].str.len().gt(0).all()
    # the Summary's gap is the gap to that bound (column N of the Solver sheet)
    summary = wb["Summary"]
    assert summary["A9"].value == "Gap to the best possible plan (Solver sheet)"
    assert "Solver!$N$" in summary["B9"].value or "Solver!N" in summary["B9"].value
    ws = wb["Solver"]
    assert ws["K2"].value == '=IF(ISNUMBER(J2),F2-J2,"")'
    for r, name in enumerate(NAMES, start=2):
        assert ws[f"F{r}"].value == pytest.approx(engine_figures[name]["objective_gbp"])
        assert ws[f"J{r}"].value == pytest.approx(engine_figures[name]["greedy_gbp"])
        assert len(ws[f"T{r}"].value) == 64


def test_data_quality_lists_every_import_and_rejected_row(workbook, demo):
    engine, _ = demo
    _, wb = workbook
    ws = wb["Data quality"]
    with engine.connect() as connection:
        n_imports = connection.execute(text("SELECT COUNT(*) FROM dataimport")).scalar_one()
        n_rejects = connection.execute(text("SELECT COUNT(*) FROM rejectedrow")).scalar_one()
        n_unclassified = connection.execute(
            text("SELECT COUNT(*) FROM rejectedrow WHERE reason LIKE '%unclassified%'")
        ).scalar_one()
    sizes = {name: openpyxl.worksheet.cell_range.CellRange(ref).size["rows"] - 1 for name, ref in ws.tables.items()}
    assert sizes == {"Imports": n_imports, "RejectedRows": n_rejects, "Unclassified": n_unclassified}
    assert n_rejects > 0 and n_unclassified > 0


# --------------------------------------------------------------------------- errors and the CLI


def test_a_scenario_without_a_solved_run_is_a_clear_error(demo, tmp_path):
    engine, _ = demo
    define_scenario(engine, "never-run", ScenarioSettings(start_date="2027-04-01"))
    with pytest.raises(ScenarioError, match="has not been run"):
        write_finance_workbook(engine, ["all-trusts", "never-run"], tmp_path / "x.xlsx")
    define_scenario(engine, "failed", ScenarioSettings(start_date="2027-04-01"))
    with Session(engine) as session:
        sid = session.execute(text("SELECT id FROM scenario WHERE name = 'failed'")).scalar_one()
        message = "HIP-STEM at RXA: no approved line"
        session.add(ScenarioRun(scenario_id=sid, solver="highs", status="infeasible", message=message))
        session.commit()
    with pytest.raises(ScenarioError, match="infeasible with no solution to export: HIP-STEM at RXA"):
        write_finance_workbook(engine, ["failed"], tmp_path / "x.xlsx")
    with pytest.raises(ProcureError, match="no scenario named"):
        write_finance_workbook(engine, ["nope"], tmp_path / "x.xlsx")
    assert not (tmp_path / "x.xlsx").exists()


def test_cli_export_prints_the_path_and_headline(demo, tmp_path, engine_figures):
    engine, _ = demo
    url = engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    out = tmp_path / "case.xlsx"
    result = runner.invoke(main, ["--db", url, "export", "all-trusts", "top-four", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert str(out) in result.output and "all-trusts net £" in result.output
    assert f"£{engine_figures['all-trusts']['objective_gbp']:,.0f}" in result.output
    result = runner.invoke(main, ["--db", url, "export", "top-four", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["path"] == str(out) and payload["sheets"] == list(SHEETS)
    assert payload["scenarios"][0]["objective_gbp"] == pytest.approx(engine_figures["top-four"]["objective_gbp"])
    result = runner.invoke(main, ["--db", url, "export", "never-run-either", "--out", str(out)])
    assert result.exit_code == 3 and "no scenario named" in result.output


# --------------------------------------------------------------------------- LibreOffice


def test_libreoffice_recalculates_the_summary_to_the_engine_figures(
    recalculate_in_libreoffice, workbook, engine_figures
):
    summary, _ = workbook
    converted = recalculate_in_libreoffice(summary["path"])
    wb = openpyxl.load_workbook(converted, data_only=True)
    ws = wb["Summary"]
    for figures in summary["scenarios"]:
        engine = engine_figures[figures["scenario"]]
        value = {key: ws[address.split("!")[1]].value for key, address in figures["cells"].items()}
        assert value["net"] == pytest.approx(engine["objective_gbp"], abs=PENNY)
        assert value["in_year"] == pytest.approx(engine["in_year_gbp"], abs=PENNY)
        assert value["full_year"] == pytest.approx(engine["full_year_gbp"], abs=PENNY)
        assert value["years_total"] == pytest.approx(engine["objective_gbp"], abs=PENNY)
        for cause in CAUSES:
            assert value[cause] == pytest.approx(engine["savings_by_cause"][cause], abs=PENNY)
        for fy, amount in engine["savings_by_year"].items():
            assert value[f"fy {fy}"] == pytest.approx(amount, abs=PENNY)
        assert value["check_categories"] == pytest.approx(0.0, abs=PENNY)
        assert value["check_years"] == pytest.approx(0.0, abs=PENNY)
    lines_kept = [ws.cell(row=8, column=2 + i).value for i in range(len(NAMES))]
    assert lines_kept == [engine_figures[name]["range_size"] for name in NAMES]


def test_scenario_names_with_wildcard_characters_are_matched_exactly(demo, tmp_path, recalculate_in_libreoffice):
    """A sweep names scenarios like ``base[odep_floor=10A*]``: ``*`` must not act as a wildcard."""
    engine, root = demo
    copy = tmp_path / "procure.db"
    shutil.copy(Path(engine.url.database), copy)
    renamed = open_database(f"sqlite:///{copy}")
    with Session(renamed) as session:
        session.execute(text("UPDATE scenario SET name = 'all-trusts*' WHERE name = 'top-four'"))
        session.commit()
    names = ["all-trusts", "all-trusts*"]
    summary = write_finance_workbook(renamed, names, tmp_path / "wild.xlsx")
    recalculated = openpyxl.load_workbook(recalculate_in_libreoffice(summary["path"]), data_only=True)
    ws = recalculated["Summary"]
    for figures in summary["scenarios"]:
        expected = show_scenario(renamed, figures["scenario"])["objective_gbp"]
        assert ws[figures["cells"]["net"].split("!")[1]].value == pytest.approx(expected, abs=PENNY)
    renamed.dispose()


def test_the_trusts_sheet_breaks_switching_costs_down_and_assumptions_state_the_rule(workbook):
    _, wb = workbook
    ws = wb["Trusts"]
    header = [c.value for c in ws[1]]
    at = {label: header.index(label) for label in header}
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert rows
    for row in rows:
        total = row[at["Switching costs"]]
        parts = row[at["Switching: system costs"]] + row[at["Switching: line costs"]]
        assert parts == pytest.approx(total, abs=0.01)
        assert bool(row[at["New systems (supplier category)"]]) == (row[at["Switching: system costs"]] < 0)
    assert any(row[at["Switching costs"]] < 0 for row in rows)
    rules = {r[0]: r[1] for r in wb["Assumptions"].iter_rows(min_row=4, max_col=2, values_only=True) if r[0]}
    assert "once when it starts to use a line of a system it does not use today" in rules["Switching costs"]


# --------------------------------------------------------------------------- cached values


def test_summary_figures_are_cached_values_equal_to_the_engines(workbook, engine_figures):
    """A preview or ``data_only=True`` reads the figures, not blanks (LibreOffice computed them)."""
    from procurement.export.finance.cached_values import soffice_path

    summary, _ = workbook
    if soffice_path() is None:
        assert summary["cached_values"].startswith("formulas only")
        pytest.skip("LibreOffice (soffice) is not on PATH: the workbook holds formulas only")
    assert summary["cached_values"] == "values computed by LibreOffice"
    values = openpyxl.load_workbook(summary["path"], data_only=True)["Summary"]
    formulas = openpyxl.load_workbook(summary["path"])["Summary"]
    for figures in summary["scenarios"]:
        engine = engine_figures[figures["scenario"]]
        value = {key: values[address.split("!")[1]].value for key, address in figures["cells"].items()}
        assert formulas[figures["cells"]["net"].split("!")[1]].value.startswith("=SUMPRODUCT(")  # still a formula
        assert value["net"] == pytest.approx(engine["objective_gbp"], abs=PENNY)
        assert value["in_year"] == pytest.approx(engine["in_year_gbp"], abs=PENNY)
        assert value["full_year"] == pytest.approx(engine["full_year_gbp"], abs=PENNY)
        for cause in CAUSES:
            assert value[cause] == pytest.approx(engine["savings_by_cause"][cause], abs=PENNY)
        assert value["baseline"] - value["proposed"] == pytest.approx(engine["full_year_gbp"], abs=PENNY)
        assert value["saved_share"] == pytest.approx(engine["full_year_gbp"] / value["baseline"])


def test_without_libreoffice_the_export_holds_formulas_and_says_so(demo, tmp_path, monkeypatch):
    engine, _ = demo
    monkeypatch.setenv("PROCURE_SOFFICE", "none")
    summary = write_finance_workbook(engine, NAMES[:1], tmp_path / "plain.xlsx")
    assert summary["cached_values"].startswith("formulas only: LibreOffice (soffice) not found")
    ws = openpyxl.load_workbook(summary["path"], data_only=True)["Summary"]
    assert ws["B5"].value is None
    assert openpyxl.load_workbook(summary["path"])["Summary"]["B5"].value.startswith("=")


def test_summary_has_spend_dates_hidden_helpers_and_no_cell_too_narrow(workbook):
    summary, _ = workbook
    ws = openpyxl.load_workbook(summary["path"])["Summary"]
    labels = [ws.cell(row=r, column=1).value for r in range(1, ws.max_row + 1)]
    for label in (
        "Annual spend today (baseline)",
        "Annual spend on the plan",
        "Saved (full-year run rate / baseline)",
        "Run made (UTC)",
        "Data as of (latest import, UTC)",
    ):
        assert label in labels
    helper_cols = [c for c, d in ws.column_dimensions.items() if d.hidden]
    assert len(helper_cols) == 3 and all(str(ws[f"{c}11"].value).startswith("Chart:") for c in helper_cols)
    # No ### at default widths: every shown number's text fits its column (a GBP figure up to £999m).
    for row in ws.iter_rows(min_row=4):
        for cell in row:
            width = ws.column_dimensions[cell.column_letter].width or 8.43
            if cell.number_format.startswith("£") and not ws.column_dimensions[cell.column_letter].hidden:
                assert width >= len("-£999,999,999") + 1, cell.coordinate
            if cell.number_format.startswith("dd mmm yyyy hh"):
                assert width >= len("04 Dec 2026 15:42") + 1, cell.coordinate
