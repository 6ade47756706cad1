"""The finance workbook: the savings case a director of finance can audit.

``write_finance_workbook(engine, names, out)`` writes one workbook for the latest run of
each named scenario (the first name is the headline scenario):

* **Summary**: headline net savings over the horizon, in-year (first 12 months) and
  full-year run rate, side by side for every scenario; savings by cause with a native
  waterfall chart; savings by NHS financial year with a column chart. Every figure on
  it is a live formula (``SUMPRODUCT``/``SUM``) over the detail sheets, with check rows
  that show £0 when the detail sheets agree with each other.
* **Trusts**, **Categories**: savings by cause per scenario and trust (category), the
  net total as a formula, the in-year and full-year figures.
* **Years**: savings per scenario, trust, category and financial year.
* **Range**: every candidate product line: kept, dropped or new, regional and current
  annual units.
* **Contracts**: join date, exit fee, bridging cost and the common end date per trust
  and category, with a Gantt-style calendar of the horizon.
* **Assumptions**, **Solver**, **Data quality**: the baseline and every setting; how
  good the answer is; what the imports left out and why.
* **Sensitivity** (after Summary, only when the scenarios differ in exactly one
  setting, e.g. a sweep over ``range_cap`` or ``trusts``): savings against that
  setting's values, with a native line (or column) chart.

Detail sheets hold numbers (read from the run's result tables); only Summary (and a
few per-row totals) hold formulas, so clicking any total shows where it comes from.
Every text cell that came from a supplier, a trust or a clinician goes through
:func:`procurement.export.safe.safe_text`, so nothing in the workbook can run.

Money is GBP ex VAT, written as numbers with currency formats; dates as dates.

The package: :mod:`.kit` (formats, styles, safe cell values, tables, formulas,
charts), :mod:`.terms` (causes, baseline, settings), :mod:`.run_data` (the runs, read
through :func:`procurement.scenarios.runs.run_results`), one module per sheet, and
:mod:`.workbook` (the sheets in order).
"""

from procurement.export.finance.run_data import in_year_from_contracts, load_run
from procurement.export.finance.workbook import SHEETS, write_finance_workbook

__all__ = ["SHEETS", "in_year_from_contracts", "load_run", "write_finance_workbook"]
