"""Workbooks for where to start: the price benchmark and the opportunity portfolio.

Both are plain tables (numbers as numbers, text through :func:`safe_text` so supplier
text can never become a formula) with native Excel charts:

* benchmark: a ``Products`` sheet (one row per product, ranked by the saving at the
  regional best), a ``Trusts`` sheet (every trust's price against the region's) and a
  bar chart of the savings at the best and at the median for the top products;
* opportunities: an ``Opportunities`` sheet (one row per group), a ``Categories``
  roll-up, and a scatter chart of annual savings against effort, one series per group
  so every point carries its group's name as its label, coloured by class.
"""

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference, ScatterChart, Series
from openpyxl.chart.data_source import StrRef
from openpyxl.chart.label import DataLabelList
from openpyxl.chart.marker import Marker
from openpyxl.chart.series import SeriesLabel
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from procurement.export.safe import safe_text

TOP_PRODUCTS_CHARTED = 15
CLASS_COLOURS = {"quick win": "2E7D32", "big gain": "1565C0", "low priority": "9E9E9E"}
MONEY_FORMAT = "£#,##0"
PRICE_FORMAT = "£#,##0.00"


def _write_frame(
    ws: Worksheet, data: pd.DataFrame, money: frozenset[str] | set[str] = frozenset(), start_row: int = 1
) -> None:
    """``data`` as a table from ``start_row``: a bold header, then one row per record."""
    columns = list(data.columns)
    for j, column in enumerate(columns, start=1):
        ws.cell(row=start_row, column=j, value=column).font = Font(bold=True)
    # Writing cells: the tables are at most a few thousand rows.
    for i, record in enumerate(data.astype(object).where(data.notna(), None).itertuples(index=False), start=1):
        for j, value in enumerate(record, start=1):
            cell = ws.cell(row=start_row + i, column=j, value=safe_text(value))
            column = columns[j - 1]
            if column in money:
                cell.number_format = MONEY_FORMAT if column.endswith("_gbp") or "spend" in column else PRICE_FORMAT
            elif column.endswith("_pct"):
                cell.number_format = "0.0"
    for j, column in enumerate(columns, start=1):
        width = max([len(str(column))] + [len(str(v)) for v in data[column].head(200)])
        ws.column_dimensions[get_column_letter(j)].width = min(48, max(9, width + 2))
    ws.freeze_panes = ws.cell(row=start_row + 1, column=1)


def _save_with_about_sheet(wb: Workbook, facts: Iterable[tuple[str, Any]], notes: Iterable[str], path: Path) -> Path:
    """Add an ``About`` sheet (one fact a row as label and value, a blank row, one note a row) and save to ``path``."""
    about = wb.create_sheet("About")
    for key, value in facts:
        about.append([key, value])
    about.append([])
    for note in notes:
        about.append([note])
    about.column_dimensions["A"].width = 30
    path = Path(path)
    wb.save(path)
    return path


def write_benchmark_workbook(result: dict, path: Path) -> Path:
    """Write :func:`procurement.benchmarking.benchmark`'s ``result`` to ``path`` (.xlsx)."""
    products, trusts = result["products"], result["trusts"]
    money = {"spend_per_year", "best", "median", "worst", "price_paid", "saving_at_best_gbp", "saving_at_median_gbp"}
    wb = Workbook()
    ws = wb.active
    ws.title = "Products"
    _write_frame(ws, products, money)
    shown = min(TOP_PRODUCTS_CHARTED, len(products))
    if shown:
        cols = list(products.columns)
        chart = BarChart()
        chart.type = "bar"
        chart.title = f"Annual savings if every trust paid the regional best or median (top {shown})"
        chart.y_axis.title = "GBP a year"
        chart.y_axis.numFmt = MONEY_FORMAT
        for name in ("saving_at_best_gbp", "saving_at_median_gbp"):
            j = cols.index(name) + 1
            chart.add_data(Reference(ws, min_col=j, min_row=1, max_row=1 + shown), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=1 + shown))
        chart.height, chart.width = 12, 26
        ws.add_chart(chart, f"{get_column_letter(len(cols) + 2)}2")
    _write_frame(wb.create_sheet("Trusts"), trusts, money)
    facts = [("Benchmark by", result["by"]), ("Trust", result["trust"] or "every trust"), *result["totals"].items()]
    notes = [
        "price_paid: a trust's annual spend on the product / its annual units",
        "best, median, worst: over the trusts that buy the product (median unweighted)",
        "saving_at_best_gbp: units x (price paid - best); at_median: units x max(price paid - median, 0)",
    ]
    return _save_with_about_sheet(wb, facts, notes, path)


def write_opportunities_workbook(result: dict, path: Path) -> Path:
    """Write :func:`procurement.benchmarking.opportunities`'s ``result`` to ``path`` (.xlsx).

    The scatter chart has one series per group (a single point: effort, savings) so
    that each point's data label is its group's name, coloured by its class.
    """
    groups, categories = result["groups"], result["categories"]
    money = {"savings_gbp", "price_harmonisation_gbp", "volume_tiers_gbp", "standardisation_gbp"}
    wb = Workbook()
    ws = wb.active
    ws.title = "Opportunities"
    _write_frame(ws, groups, money)
    cols = list(groups.columns)
    x_col, y_col, name_col = cols.index("effort") + 1, cols.index("savings_gbp") + 1, cols.index("group") + 1
    chart = ScatterChart()
    chart.title = "Savings against effort: quick wins top left"
    chart.style = 13
    chart.x_axis.title = "Effort (points)"
    chart.y_axis.title = "Savings potential (GBP a year)"
    chart.y_axis.numFmt = MONEY_FORMAT
    chart.legend = None  # the labels name the points
    for i, klass in enumerate(groups["class"], start=2):
        x = Reference(ws, min_col=x_col, min_row=i)
        y = Reference(ws, min_col=y_col, min_row=i)
        series = Series(y, x)
        series.tx = SeriesLabel(strRef=StrRef(f"'{ws.title}'!${get_column_letter(name_col)}${i}"))
        series.marker = Marker(symbol="circle", size=8)
        colour = CLASS_COLOURS.get(klass, "9E9E9E")
        series.marker.graphicalProperties.solidFill = colour
        series.marker.graphicalProperties.line.solidFill = colour
        series.graphicalProperties.line.noFill = True  # points, not a line
        series.dLbls = DataLabelList()
        series.dLbls.showSerName = True
        series.dLbls.showVal = False
        series.dLbls.position = "r"
        chart.series.append(series)
    chart.height, chart.width = 14, 24
    ws.add_chart(chart, f"{get_column_letter(len(cols) + 2)}2")
    _write_frame(wb.create_sheet("Categories"), categories, money)
    facts = [
        ("Scenario rules", result["scenario"] or "defaults"),
        ("Savings source", result["source"]),
        *{**result["thresholds"], **result["totals"]}.items(),
    ]
    notes = [
        "quick win: savings at or above the median and effort at or below the median",
        "big gain: savings at or above the median, effort above it; anything else: low priority",
    ]
    return _save_with_about_sheet(wb, facts, notes, path)


__all__ = ["write_benchmark_workbook", "write_opportunities_workbook"]
