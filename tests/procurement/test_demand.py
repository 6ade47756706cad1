"""Demand: annualised units and spend at the prices each trust actually paid."""

import pytest
from sqlmodel import Session

from procurement.demand import demand_by_group, demand_report, regional_totals, usage_by_line
from procurement.importers import import_usage

HEADER = ("Item Code", "Supplier", "Qty", "Unit Cost", "Order Date")
EXETER, CPT, ATTUNE = "SUP-A:HIP-STEM-CEM:EXETER", "SUP-B:HIP-STEM-CEM:CPT", "SUP-A:KNEE-INSERT-PS:ATTUNE"


@pytest.fixture
def usage(catalogues, files):
    # RXA: six months of data (April to September 2026): everything is scaled by 12/6.
    import_usage(
        catalogues,
        files.csv(
            "rxa.csv",
            [
                HEADER,
                ("A-100", "SUP-A", "10", "1000.00", "2026-04-02"),
                ("A-101", "SUP-A", "20", "1100.00", "2026-06-15"),
                ("A-300", "SUP-A", "3", "300.00", "2026-09-30"),
            ],
        ),
        trust="RXA",
    )
    # RXB: a full year (January to December 2025), two cemented stems from two suppliers.
    import_usage(
        catalogues,
        files.csv(
            "rxb.csv",
            [
                HEADER,
                ("A-100", "SUP-A", "12", "900.00", "2025-01-10"),
                ("A-101", "SUP-A", "12", "900.00", "2025-12-10"),
                ("B-10", "SUP-B", "6", "850.00", "2025-07-01"),
            ],
        ),
        trust="RXB",
    )
    return catalogues


def by(frame, **keys):
    mask = True
    for column, value in keys.items():
        mask = mask & (frame[column] == value)
    selected = frame[mask]
    assert len(selected) == 1, selected
    return selected.iloc[0]


def test_annualisation_scales_by_the_months_each_trust_covers(usage):
    with Session(usage) as session:
        lines = usage_by_line(session)
    rxa = by(lines, trust="RXA", line=EXETER)
    assert rxa["units_per_year"] == pytest.approx(60.0)  # 30 units in 6 months
    assert rxa["spend_per_year"] == pytest.approx(2 * (10 * 1000 + 20 * 1100))
    # The trust's span is April-September even for a line bought only in September.
    assert by(lines, trust="RXA", line=ATTUNE)["units_per_year"] == pytest.approx(6.0)
    assert by(lines, trust="RXB", line=EXETER)["units_per_year"] == pytest.approx(24.0)  # 12 months: as is
    assert by(lines, trust="RXB", line=CPT)["units_per_year"] == pytest.approx(6.0)


def test_average_price_is_weighted_by_quantity_and_premium_is_against_the_best_in_region(usage):
    with Session(usage) as session:
        lines = usage_by_line(session)
    rxa = by(lines, trust="RXA", line=EXETER)
    assert rxa["avg_unit_price"] == pytest.approx((10 * 1000 + 20 * 1100) / 30)  # not (1000 + 1100) / 2
    assert rxa["best_price_in_region"] == pytest.approx(900.0)
    assert rxa["premium_pct"] == pytest.approx(100 * ((32000 / 30) / 900 - 1))
    rxb = by(lines, trust="RXB", line=EXETER)
    assert (rxb["avg_unit_price"], rxb["premium_pct"]) == (pytest.approx(900.0), pytest.approx(0.0))
    assert (rxa["supplier"], rxa["brand"], rxa["group"], rxa["category"]) == ("SUP-A", "Exeter", "HIP-STEM-CEM", "hip")
    assert list(lines["trust"]) == sorted(lines["trust"])


def test_demand_by_group_and_regional_totals(usage):
    report = demand_report(usage)
    groups = report["by_group"]
    rxb = by(groups, trust="RXB", group="HIP-STEM-CEM")
    assert rxb["units_per_year"] == pytest.approx(30.0)
    assert rxb["spend_per_year"] == pytest.approx(24 * 900 + 6 * 850)
    assert rxb["avg_unit_price"] == pytest.approx((24 * 900 + 6 * 850) / 30)
    assert rxb["lines_used"] == 2
    region = report["regional"]
    stems = by(region, group="HIP-STEM-CEM")
    assert stems["trusts"] == 2
    assert stems["units_per_year"] == pytest.approx(60 + 30)
    assert stems["spend_per_year"] == pytest.approx(64000 + 26700)
    assert stems["avg_unit_price"] == pytest.approx(90700 / 90)
    assert stems["min_trust_price"] == pytest.approx(26700 / 30)
    assert stems["max_trust_price"] == pytest.approx(64000 / 60)
    assert by(region, group="KNEE-INSERT-PS")["trusts"] == 1
    assert region["units_per_year"].sum() == pytest.approx(sum(groups["units_per_year"]))


def test_demand_for_chosen_trusts_only(usage):
    report = demand_report(usage, ["RXB"])
    assert set(report["by_line"]["trust"]) == {"RXB"}
    assert by(report["regional"], group="HIP-STEM-CEM")["trusts"] == 1


def test_no_usage_gives_empty_frames_with_columns(catalogues):
    report = demand_report(catalogues)
    assert all(frame.empty for frame in report.values())
    assert "premium_pct" in report["by_line"].columns
    assert "lines_used" in demand_by_group(report["by_line"]).columns
    assert "max_trust_price" in regional_totals(report["by_group"]).columns
