"""The Sensitivity sheet: savings against the one setting in which the scenarios differ.

Written (after Summary) only when the scenarios differ in exactly one setting, e.g. a
sweep over ``range_cap`` or ``trusts``: a row per value of that setting in its order,
with the range's size, the savings by cause (numbers from each run), the net total, the
change from the row above and a check against Summary (formulas), and a native line
chart (a column chart when the values are not numbers).
"""

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from procurement.export.finance.kit import (
    COUNT,
    GBP,
    GBP_PENCE,
    NOTE_FONT,
    TITLE_FONT,
    cell_value,
    finish_sheet,
    header,
    money_axes,
    text,
    wrap_note,
)
from procurement.export.finance.run_data import RunData
from procurement.export.finance.terms import CAUSE_COLUMNS, SETTING_LABELS, setting_value
from procurement.scenarios.compare import sensitivity_values
from procurement.scenarios.runs import CAUSES


def sensitivity_sheet(wb: Workbook, runs: list[RunData], figures: list[dict], cells: dict) -> bool:
    """When the scenarios differ in exactly one setting, a Sensitivity sheet (after Summary):
    savings against that setting's values, and a native chart of them. Returns whether written.

    Figures are numbers from each run; the net total, the change from the row above and
    the check against Summary are formulas.
    """
    found = sensitivity_values([rd.settings for rd in runs])
    if found is None:
        return False
    key, values, order = found
    ws = wb.create_sheet("Sensitivity", 1)
    setting = SETTING_LABELS.get(key, key)
    ws.cell(row=1, column=1, value=f"Sensitivity: net savings against {setting.lower()}").font = TITLE_FONT
    ws.cell(
        row=2,
        column=1,
        value=(
            f"The scenarios differ only in this setting ({key}); every other setting is the same (see Assumptions). "
            "GBP ex VAT, from each scenario's latest run; the net savings, the change and the check are formulas."
        ),
    ).font = NOTE_FONT
    header_row = 4
    cause_labels = [label for label, _, _ in CAUSE_COLUMNS]
    labels = [
        setting,
        "Scenario",
        "Status",
        "Product lines in the regional range",
        *cause_labels,
        "Net savings over the horizon",
        "In-year savings (first 12 months)",
        "Full-year run rate",
        "Change in net savings from the row above",
        "Check: Summary minus this sheet (£0.00)",
    ]
    header(ws, header_row, labels)
    col = {label: get_column_letter(i) for i, label in enumerate(labels, start=1)}
    first_cause, last_cause = col[cause_labels[0]], col[cause_labels[-1]]
    net, change, check = col["Net savings over the horizon"], col[labels[-2]], col[labels[-1]]
    first_row = header_row + 1
    numeric = True
    for r, i in enumerate(order, start=first_row):
        rd, fig = runs[i], figures[i]
        value, fmt = setting_value(key, values[i])
        numeric &= isinstance(value, int | float) and not isinstance(value, bool)
        cell = ws.cell(row=r, column=1, value=cell_value(value))
        cell.alignment = Alignment(horizontal="left")
        if fmt:
            cell.number_format = fmt
        ws.cell(row=r, column=2, value=text(rd.name))
        ws.cell(row=r, column=3, value=text(rd.run.status))
        kept = int((rd.lines["status"] != "dropped").sum()) if len(rd.lines) else 0
        ws.cell(row=r, column=4, value=kept).number_format = COUNT
        for k, cause in enumerate(CAUSES):
            ws.cell(row=r, column=5 + k, value=cell_value(fig["savings_by_cause"][cause])).number_format = GBP
        formulas = {
            net: f"=SUM({first_cause}{r}:{last_cause}{r})",
            col["In-year savings (first 12 months)"]: cell_value(fig["in_year_gbp"]),
            col["Full-year run rate"]: cell_value(fig["full_year_gbp"]),
            change: f"={net}{r}-{net}{r - 1}" if r > first_row else None,
            check: f"={cells[rd.name]['net']}-{net}{r}",
        }
        for letter, content in formulas.items():
            ws[f"{letter}{r}"] = content
            ws[f"{letter}{r}"].number_format = GBP_PENCE if letter == check else GBP
        ws[f"{net}{r}"].font = Font(bold=True)
        ws[f"{check}{r}"].font = NOTE_FONT
    last_row = first_row + len(order) - 1

    chart = LineChart() if numeric else BarChart()
    if not numeric:
        chart.type, chart.grouping = "col", "clustered"
    chart.title = f"Net savings against {setting.lower()}"
    chart.y_axis.title = "GBP ex VAT"
    chart.x_axis.title = setting
    money_axes(chart)
    for letter in (net, col["In-year savings (first 12 months)"], col["Full-year run rate"]):
        idx = ws[f"{letter}{header_row}"].column
        chart.add_data(Reference(ws, min_col=idx, min_row=header_row, max_row=last_row), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=first_row, max_row=last_row))
    if numeric:
        for series in chart.series:
            series.marker.symbol = "circle"
            series.smooth = False
    chart.width, chart.height = 20, 9
    ws.add_chart(chart, f"A{last_row + 3}")
    finish_sheet(ws, header_row=header_row, last_row=last_row, freeze="C5", widths={"A": 24, "B": 30})
    wrap_note(ws, len(labels))
    return True
