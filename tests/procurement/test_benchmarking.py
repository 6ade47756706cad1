"""Price benchmark figures against a fixture computed by hand."""

import pandas as pd
import pytest

from procurement.benchmarking import BenchmarkError, benchmark_table


def usage_fixture() -> pd.DataFrame:
    """Three trusts, two lines of one group; L1 has two SKUs.

    By hand, line L1: A pays (6 x 100 + 4 x 100) / 10 = 100, B 2,400 / 20 = 120,
    C 750 / 5 = 150: best 100 (A), median 120, worst 150 (C). Savings at the best:
    B 20 x 20 = 400, C 5 x 50 = 250, total 650; at the median only C: 5 x 30 = 150.
    Line L2: A alone at 200, nothing to save. Group G: A (1,000 + 2,000) / 20 = 150,
    B 120, C 150: best 120, median 150; savings at the best 20 x 30 + 5 x 30 = 750.
    """
    rows = [
        # trust, sku, line, units, spend
        ("A", "S1", "L1", 6.0, 600.0),
        ("A", "S2", "L1", 4.0, 400.0),
        ("B", "S1", "L1", 20.0, 2400.0),
        ("C", "S2", "L1", 5.0, 750.0),
        ("A", "S3", "L2", 10.0, 2000.0),
    ]
    frame = pd.DataFrame(rows, columns=["trust", "sku", "line", "units_per_year", "spend_per_year"])
    return frame.assign(description="x", supplier="SUP", group="G", category="hip", item_id=range(len(frame)))


def test_line_benchmark_matches_the_hand_computed_figures():
    products, trusts = benchmark_table(usage_fixture(), "line")
    assert list(products["line"]) == ["L1", "L2"]  # ranked by the saving at the best
    l1 = products.iloc[0]
    assert (l1["best"], l1["median"], l1["worst"]) == pytest.approx((100.0, 120.0, 150.0))
    assert (l1["best_trust"], l1["worst_trust"], l1["trusts"]) == ("A", "C", 3)
    assert l1["saving_at_best_gbp"] == pytest.approx(650.0)
    assert l1["saving_at_median_gbp"] == pytest.approx(150.0)
    assert l1["spread_pct"] == pytest.approx(50.0)
    assert products.iloc[1]["saving_at_best_gbp"] == pytest.approx(0.0)

    rows = trusts[trusts["line"] == "L1"].set_index("trust")
    assert list(rows.index) == ["C", "B", "A"]  # the dearest trust first
    assert rows.loc["B", "premium_over_best_pct"] == pytest.approx(20.0)
    assert rows.loc["C", "premium_over_best_pct"] == pytest.approx(50.0)
    assert rows.loc["A", "premium_over_median_pct"] == pytest.approx(100 * (100 / 120 - 1))
    assert rows.loc["C", "premium_over_median_pct"] == pytest.approx(25.0)
    assert rows["saving_at_best_gbp"].to_dict() == pytest.approx({"C": 250.0, "B": 400.0, "A": 0.0})
    assert rows["saving_at_median_gbp"].to_dict() == pytest.approx({"C": 150.0, "B": 0.0, "A": 0.0})


def test_group_and_sku_benchmarks_match_the_hand_computed_figures():
    products, trusts = benchmark_table(usage_fixture(), "group")
    g = products.set_index("group").loc["G"]
    assert (g["best"], g["median"], g["worst"]) == pytest.approx((120.0, 150.0, 150.0))
    assert g["saving_at_best_gbp"] == pytest.approx(750.0)
    assert g["saving_at_median_gbp"] == pytest.approx(0.0)
    assert trusts.set_index("trust").loc["A", "price_paid"] == pytest.approx(150.0)

    products, _ = benchmark_table(usage_fixture(), "sku")
    s1 = products.set_index("sku").loc["S1"]  # A 100, B 120: best 100, median 110
    assert (s1["best"], s1["median"]) == pytest.approx((100.0, 110.0))
    assert s1["saving_at_best_gbp"] == pytest.approx(400.0)
    assert s1["saving_at_median_gbp"] == pytest.approx(200.0)


def test_an_unknown_level_is_refused():
    with pytest.raises(BenchmarkError, match="--by"):
        benchmark_table(usage_fixture(), "brand")
