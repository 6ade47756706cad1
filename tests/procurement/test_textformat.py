"""Text output of figures: pounds, pence, percentages, counts, table cells; missing is blank."""

import math

import pandas as pd
import pytest

from procurement import textformat as fmt


@pytest.mark.parametrize("missing", [None, math.nan, pd.NA, pd.NaT])
def test_a_missing_figure_reads_blank(missing):
    assert fmt.money(missing) == fmt.money_pence(missing) == fmt.percent(missing) == fmt.count(missing) == ""


def test_figures_read_with_separators_and_the_right_places():
    assert fmt.money(1234567.5) == "£1,234,568"
    assert fmt.money(-1050000) == "-£1,050,000"  # the sign before the pound
    assert fmt.money_pence(-0.5) == "-£0.50"
    assert fmt.money(-0.4) == "£0"  # no -£0
    assert fmt.money_pence(1234.5) == "£1,234.50"
    assert fmt.percent(0.012345) == "1.234%"
    assert fmt.percent(0.5, places=0) == "50%"
    assert fmt.count(12345.4) == "12,345"
    assert fmt.decimal(1234.56) == "1,234.6"


def test_table_cells():
    assert fmt.cell(1234.5, is_money=True) == "£1,234.50"
    assert fmt.cell(2.25) == "2.2"  # a float to one place (round half to even)
    assert fmt.cell(7) == "7"  # an integer as it is
    assert fmt.cell(-1050000.0, is_money=True) == "-£1,050,000.00"
    assert fmt.cell(0.075, is_percent=True) == "7.5%"
    assert fmt.cell(1234.6, is_count=True) == "1,235"
    assert fmt.cell("RXA") == "RXA"
    assert fmt.cell(None) == fmt.cell(math.nan) == ""


def test_progress_line_reads_stage_time_plan_bound_and_gap():
    line = fmt.progress_line(
        {"stage": "stage 2: 128 of 1,656 lines", "elapsed": 45.4, "incumbent": 990.0, "bound": 1000.0}
    )
    assert line == "stage 2: 128 of 1,656 lines · 45 s · plan £990 · bound £1,000 · gap 1.01%"
    assert fmt.progress_line({"stage": "greedy", "elapsed": 1.0, "incumbent": None, "bound": None}) == (
        "greedy · 1 s · plan: none yet · bound: none yet"
    )
