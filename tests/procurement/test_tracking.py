"""Tracking the award (procurement/tracking.py): realised against planned, causes, tiers, workbook.

The plan is a solved all-trusts run of the size-S demo region (imported once per
session); each test writes its own actuals straight into ``Usage`` (dated after the
agreement start, as a usage import stores them), built from the plan so each case
has one known kind of leakage.
"""

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import insert, select
from sqlmodel import Session

from cli import main
from procurement.db import open_database
from procurement.models import CatalogueItem, DataImport, Trust, Usage
from procurement.reference import frame
from procurement.scenarios import ScenarioSettings, define_scenario, run_scenario
from procurement.scenarios.runs import latest_run_id
from procurement.tracking import CAUSES, TrackingError, forecast_volume, load_plan, track_run

START = dt.date(2027, 4, 1)
MONTHS = 6
PENNY = 0.01


@pytest.fixture(scope="module")
def solved_db(demo_region_db, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tracking")
    path = root / "plan.db"
    shutil.copy(demo_region_db, path)
    engine = open_database(f"sqlite:///{path}")
    define_scenario(engine, "all-trusts", ScenarioSettings(start_date=START.isoformat()))
    run_scenario(engine, "all-trusts", quality=False)
    engine.dispose()
    return path


class Region:
    """A copy of the solved region, its plan, and a way to write actuals."""

    def __init__(self, path: Path):
        self.url = f"sqlite:///{path}"
        self.engine = open_database(self.url)
        with Session(self.engine) as session:
            self.run_id = latest_run_id(session, "all-trusts")
            self.plan = load_plan(session, self.run_id)
            self.items = frame(
                session,
                select(CatalogueItem.id.label("item_id"), CatalogueItem.product_line_id.label("line_id")).where(
                    CatalogueItem.active.is_(True)
                ),
            ).drop_duplicates("line_id")
            self.trust_id = dict(session.execute(select(Trust.code, Trust.id)).all())
        lines = self.plan["catalogue_lines"][["line_id", "line", "group", "category", "supplier"]]
        self.item_of = self.items.merge(lines, on="line_id").set_index("line")["item_id"]
        self.lines = lines

    def exact_plan(self) -> pd.DataFrame:
        """Every joined trust buys its planned units a month at the agreed price, from its join."""
        alloc = self.plan["lines"].merge(self.plan["joins"], on=["trust", "category"])
        alloc = alloc[alloc["joins"]]
        months = pd.DataFrame({"month": range(MONTHS)})
        rows = alloc.merge(months, how="cross")
        rows = rows[rows["month"] >= rows["join_month"]]
        return rows.assign(quantity=rows["units"] / 12.0, price=rows["net_price"])[
            ["trust", "line", "group", "category", "supplier", "month", "quantity", "price"]
        ].reset_index(drop=True)

    def write(self, rows: pd.DataFrame) -> None:
        with Session(self.engine) as session:
            data_import = DataImport(kind="usage", file_name="actuals.csv", sha256=str(len(rows)))
            session.add(data_import)
            session.flush()
            periods = [
                dt.date(START.year + (START.month - 1 + m) // 12, (START.month - 1 + m) % 12 + 1, 15) for m in range(24)
            ]
            records = pd.DataFrame(
                {
                    "trust_id": rows["trust"].map(self.trust_id),
                    "item_id": rows["line"].map(self.item_of),
                    "period": [periods[m] for m in rows["month"]],
                    "quantity": rows["quantity"].astype(float),
                    "unit_price_paid": rows["price"].astype(float),
                    "import_id": data_import.id,
                    "source_row": range(2, len(rows) + 2),
                }
            )
            session.execute(insert(Usage.__table__), records.astype(object).to_dict("records"))
            session.commit()

    def track(self, **kwargs) -> dict:
        return track_run(self.engine, self.run_id, **kwargs)


@pytest.fixture
def region(solved_db, tmp_path) -> Region:
    path = tmp_path / "region.db"
    shutil.copy(solved_db, path)
    r = Region(path)
    yield r
    r.engine.dispose()


def assert_causes_add_up(result: dict) -> None:
    assert sum(result["by_cause"].values()) == pytest.approx(result["planned_gbp"] - result["realised_gbp"], abs=PENNY)
    cells = result["cells"]
    assert (cells["planned"] - cells["realised"] - cells[list(CAUSES)].sum(axis=1)).abs().max() < 1e-6
    for key in ("by_month", "by_trust", "by_category"):
        frame_ = result[key]
        assert frame_["planned"].sum() == pytest.approx(result["planned_gbp"], abs=PENNY)
        assert frame_["realised"].sum() == pytest.approx(result["realised_gbp"], abs=PENNY)


def test_actuals_equal_to_the_plan_realise_the_plan_with_no_alert(region):
    region.write(region.exact_plan())
    result = region.track()
    assert result["months"] == MONTHS and result["as_of"] == dt.date(2027, 9, 30)
    assert result["planned_gbp"] > 0
    assert result["realised_gbp"] == pytest.approx(result["planned_gbp"], abs=PENNY)
    for cause in CAUSES:
        assert result["by_cause"][cause] == pytest.approx(0.0, abs=PENNY), cause
    assert result["alerts"] == [] and len(result["off_contract"]) == 0
    assert not result["tiers"]["at_risk"].any()
    assert list(result["compliance"]["units_on_range"]) == pytest.approx([1.0] * len(result["compliance"]))
    compliance = result["compliance"]
    assert (compliance["months"] == MONTHS - compliance["join_month"]).all()  # months since each join
    # Planned in the first month is a twelfth of the full-year rate of the (trust, category)
    # pairs the plan has joined at the start (joins are staggered by their contracts).
    with Session(region.engine) as session:
        from procurement.models import RunJoin

        at_start = session.execute(
            select(RunJoin.annual_baseline - RunJoin.annual_regional_cost).where(
                RunJoin.run_id == region.run_id, RunJoin.joins.is_(True), RunJoin.join_month == 0
            )
        ).scalars()
        full_year_at_start = sum(at_start)
    assert full_year_at_start > 0
    assert result["by_month"]["planned"].iloc[0] * 12 == pytest.approx(full_year_at_start, rel=1e-6)


def test_a_late_join_is_explained_as_late_joins(region):
    rows = region.exact_plan()
    late = sorted(set(rows["trust"]))[0]
    # The late trust buys the plan's units at 15% above the agreed prices for two months:
    # it is still on its old contracts.
    early = (rows["trust"] == late) & (rows["month"] < 2)
    rows.loc[early, "price"] *= 1.15
    region.write(rows)
    result = region.track()
    assert_causes_add_up(result)
    expected = float((rows.loc[early, "quantity"] * rows.loc[early, "price"] / 1.15 * 0.15).sum())
    assert result["by_cause"]["late_joins"] == pytest.approx(expected, abs=PENNY)
    by_trust = result["by_trust"].set_index("trust")
    assert by_trust.loc[late, "late_joins"] == pytest.approx(expected, abs=PENNY)
    assert (by_trust.drop(index=late)["late_joins"].abs() < PENNY).all()
    cells = result["cells"]
    assert not cells.loc[(cells["trust"] == late) & (cells["month"] < 2) & cells["on_plan"], "on_in_practice"].any()


def test_off_range_use_is_priced_against_the_plan(region):
    rows = region.exact_plan()
    lines = region.lines
    out_of_range = lines[~lines["line"].isin(region.plan["range"]) & lines["line"].isin(region.item_of.index)]
    target = rows.merge(out_of_range[["group", "line"]].drop_duplicates("group"), on="group", suffixes=("", "_off"))
    trust = sorted(set(target["trust"]))[0]
    group = sorted(set(target.loc[target["trust"] == trust, "group"]))[0]
    moved = (rows["trust"] == trust) & (rows["group"] == group)
    off_line = out_of_range.loc[out_of_range["group"] == group, "line"].iloc[0]
    leak = rows[moved].assign(quantity=rows.loc[moved, "quantity"] * 0.3, line=off_line, price=999.0)
    rows.loc[moved, "quantity"] *= 0.7
    region.write(pd.concat([rows, leak], ignore_index=True))
    result = region.track()
    assert_causes_add_up(result)
    np_ = region.plan["groups"].set_index(["trust", "group"]).loc[(trust, group), "np"]
    expected = float((leak["quantity"] * (999.0 - np_)).sum())
    assert result["by_cause"]["off_range"] == pytest.approx(expected, abs=PENNY)
    assert result["by_cause"]["lower_volume"] == pytest.approx(0.0, abs=PENNY)
    top = result["off_contract"].iloc[0]
    assert (top["trust"], top["line"], top["reason"]) == (trust, off_line, "off range")
    assert top["premium"] == pytest.approx(expected, abs=PENNY)
    compliance = result["compliance"].set_index(["trust", "category"])
    category = rows.loc[moved, "category"].iloc[0]
    assert compliance.loc[(trust, category), "units_on_range"] < 1.0


def test_lower_volume_costs_the_planned_saving_per_unit(region):
    rows = region.exact_plan()
    trust = sorted(set(rows["trust"]))[-1]
    mine = rows["trust"] == trust
    rows.loc[mine, "quantity"] *= 0.8
    region.write(rows)
    result = region.track()
    assert_causes_add_up(result)
    by_trust = result["by_trust"].set_index("trust")
    assert by_trust.loc[trust, "lower_volume"] == pytest.approx(0.2 * by_trust.loc[trust, "planned"], abs=PENNY)
    assert by_trust.loc[trust, "realised"] + by_trust.loc[trust, "lost_tier"] == pytest.approx(
        0.8 * by_trust.loc[trust, "planned"], abs=PENNY
    )


def test_a_missed_tier_is_forecast_and_its_discount_accrued(region):
    tiers = region.plan["tiers"]
    live = tiers[tiers["threshold"] > 0]
    if live.empty:
        pytest.skip("the demo plan reaches no tier above 0")
    offer = live.assign(room=live["volume"] / live["threshold"]).sort_values("room").iloc[0]
    with Session(region.engine) as session:
        from procurement.tracking import offer_lines

        scope, ladder = offer_lines(session, region.plan["catalogue_lines"])
    on_offer = set(scope.loc[scope["offer"] == offer["offer"], "line"])
    rows = region.exact_plan()
    # Half the offer's volume is not bought: far below any tier's headroom.
    hit = rows["line"].isin(on_offer)
    rows.loc[hit, "quantity"] *= 0.5
    region.write(rows)
    result = region.track()
    assert_causes_add_up(result)
    tier = result["tiers"].set_index("offer").loc[offer["offer"]]
    assert bool(tier["at_risk"]) and tier["forecast"] < offer["threshold"]
    assert tier["forecast"] == pytest.approx(offer["volume"] * 0.5, rel=1e-6)  # a steady half: 12 x a month
    lower = ladder[(ladder["offer"] == offer["offer"]) & (ladder["threshold"] <= tier["forecast"])]
    lost_rate = offer["discount"] - (lower["discount"].max() if len(lower) else 0.0)
    list_price = rows.loc[hit, "line"].map(region.plan["list_price"])
    expected = float((rows.loc[hit, "quantity"] * list_price).sum() * lost_rate)
    assert result["by_cause"]["lost_tier"] == pytest.approx(expected, abs=PENNY)
    assert any(offer["offer"] in alert and "tier lost" in alert for alert in result["alerts"])


def test_the_tier_forecast_runs_the_recent_rate_to_the_end_of_the_year():
    assert forecast_volume([10, 10, 10, 20, 20, 20]) == pytest.approx(90 + 20 * 6)
    assert forecast_volume([30]) == pytest.approx(30 * 12)
    assert forecast_volume([5] * 12) == pytest.approx(60)
    assert forecast_volume([]) == 0.0
    assert forecast_volume(np.array([0, 0, 12, 12, 12]), window=2) == pytest.approx(36 + 12 * 7)


def test_as_of_cuts_the_months_and_no_actuals_is_a_clear_error(region):
    with pytest.raises(TrackingError, match="no usage"):
        region.track()
    region.write(region.exact_plan())
    result = region.track(as_of=dt.date(2027, 5, 31))
    assert result["months"] == 2 and list(result["by_month"]["label"]) == ["2027-04", "2027-05"]


def test_cli_track_json_has_every_key_and_writes_the_workbook(region, tmp_path):
    rows = region.exact_plan()
    rows.loc[rows["trust"] == sorted(set(rows["trust"]))[0], "quantity"] *= 0.9
    region.write(rows)
    out = tmp_path / "track.xlsx"
    result = CliRunner().invoke(main, ["--db", region.url, "track", "all-trusts", "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    for key in (
        "scenario",
        "as_of",
        "months",
        "compliance",
        "off_contract",
        "tiers",
        "realised_gbp",
        "planned_gbp",
        "by_month",
    ):
        assert key in payload
    for key in ("offer", "threshold", "to_date", "forecast", "at_risk"):
        assert key in payload["tiers"][0]
    assert set(payload["by_month"][0]) >= {"month", "planned_gbp", "realised_gbp"}
    assert payload["scenario"] == "all-trusts" and payload["months"] == MONTHS
    assert out.exists() and payload["path"] == str(out)
    text_run = CliRunner().invoke(main, ["--db", region.url, "track", "all-trusts", "--as-of", "2027-06-30"])
    assert text_run.exit_code == 0 and "realised of" in text_run.output
    bad = CliRunner().invoke(main, ["--db", region.url, "track", "nope"])
    assert bad.exit_code == 3


# --------------------------------------------------------------------------- workbook


@pytest.fixture
def tracked(region, tmp_path):
    from procurement.export.tracking import write_tracking_workbook

    rows = region.exact_plan()
    rows.loc[rows["trust"] == sorted(set(rows["trust"]))[0], "price"] *= 1.2
    rows.loc[rows["trust"] == sorted(set(rows["trust"]))[-1], "quantity"] *= 0.85
    region.write(rows)
    result = region.track()
    written = write_tracking_workbook(result, tmp_path / "track.xlsx")
    return result, written


def test_the_workbook_has_a_dashboard_with_charts_formulas_and_stored_values(tracked):
    result, written = tracked
    wb = openpyxl.load_workbook(written["path"])
    assert wb.sheetnames == written["sheets"]
    ws = wb["Dashboard"]
    assert len(ws._charts) == 2
    for key, address in written["cells"].items():
        cell = ws[address.split("!")[1]]
        assert str(cell.value).startswith("="), key
        if key != "causes_check":
            stored = ws.cell(row=cell.row, column=cell.column + 1).value
            assert stored == pytest.approx(written["values"][key], abs=PENNY)
    months = wb["Months"]
    assert months.max_row == MONTHS + 1


def test_the_workbook_recomputes_in_libreoffice_to_the_engine_figures(tracked, recalculate_in_libreoffice):
    result, written = tracked
    converted = recalculate_in_libreoffice(written["path"])
    wb = openpyxl.load_workbook(converted, data_only=True)
    for key, address in written["cells"].items():
        sheet, cell = address.split("!")
        assert wb[sheet][cell].value == pytest.approx(written["values"][key], abs=PENNY), key
    assert written["values"]["planned"] == pytest.approx(result["planned_gbp"])
    assert len(openpyxl.load_workbook(converted)["Dashboard"]._charts) == 2
