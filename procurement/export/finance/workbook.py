"""Writing the finance workbook: every sheet in order, saved in one go.

``write_finance_workbook`` reads the latest run of each scenario once, writes the
detail sheets (numbers), then Summary (formulas over them) and, when the scenarios
differ in one setting, Sensitivity; the figures it returns are what Summary's formulas
recompute to, checked against each run's stored headline.
"""

from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from procurement.demand import usage_by_line
from procurement.errors import ProcureError
from procurement.export.finance.assumptions import assumptions_sheet
from procurement.export.finance.cached_values import add_cached_values
from procurement.export.finance.contracts import contracts_sheet
from procurement.export.finance.data_quality import data_quality_sheet
from procurement.export.finance.product_range import range_sheet
from procurement.export.finance.run_data import RunData, load_run
from procurement.export.finance.savings import savings_sheet
from procurement.export.finance.sensitivity import sensitivity_sheet
from procurement.export.finance.solver_quality import solver_sheet
from procurement.export.finance.summary import summary_sheet
from procurement.export.finance.years import years_sheet
from procurement.models import Category, DataImport, Trust
from procurement.scenarios import ScenarioError
from procurement.scenarios.runs import CAUSES

SHEETS = ("Summary", "Trusts", "Categories", "Years", "Range", "Contracts", "Assumptions", "Solver", "Data quality")


def _figures(rd: RunData) -> dict:
    """The figures the Summary's formulas recompute to, from the same detail data."""
    per = rd.per_tc
    by_cause = {cause: float(per[cause].sum()) for cause in CAUSES}
    return {
        "scenario": rd.name,
        "run_id": rd.run.id,
        "status": rd.run.status,
        "objective_gbp": float(sum(by_cause.values())),
        "in_year_gbp": float(per["in_year"].sum()),
        "full_year_gbp": float(per["full_year"].sum()),
        "savings_by_cause": by_cause,
        "savings_by_year": {str(k): float(v) for k, v in rd.years.groupby("financial_year")["amount"].sum().items()},
    }


def _check_figures(rd: RunData, figures: dict) -> list[str]:
    """Differences over a penny between the workbook's figures and the run's stored ones."""
    out = []
    for key, stored in (
        ("objective_gbp", rd.run.objective),
        ("in_year_gbp", rd.run.in_year_savings),
        ("full_year_gbp", rd.run.full_year_savings),
    ):
        if stored is not None and abs(figures[key] - stored) > 0.005:
            out.append(
                f"{rd.name}: the workbook's {key.removesuffix('_gbp').replace('_', '-')} figure "
                f"£{figures[key]:,.2f} differs from the run's £{stored:,.2f} (the contracts changed since the run?)"
            )
    return out


def write_finance_workbook(engine: Engine, names: list[str], out: Path) -> dict:
    """Write the finance workbook for the latest runs of scenarios ``names`` to ``out``.

    The first name is the headline scenario. Returns a summary: ``path``, ``sheets``,
    ``scenarios`` (per scenario the figures the Summary's formulas recompute to, and
    ``cells``: where each figure is on Summary), ``warnings`` and ``cached_values``
    (whether the formulas' values are in the file: see :mod:`.cached_values`).
    """
    names = list(dict.fromkeys(names))
    if not names:
        raise ScenarioError("give at least one scenario to export")
    out = Path(out)
    with Session(engine) as session:
        usage = usage_by_line(session)
        runs = [load_run(session, name, usage) for name in names]
        trust_names = dict(session.execute(select(col(Trust.code), col(Trust.name))).all())
        category_names = dict(session.execute(select(col(Category.code), col(Category.name))).all())
        figures = [_figures(rd) for rd in runs]
        warnings = [w for rd, f in zip(runs, figures, strict=True) for w in _check_figures(rd, f)]

        wb = Workbook()
        sheets = {name: (wb.active if i == 0 else wb.create_sheet()) for i, name in enumerate(SHEETS)}
        for name, ws in sheets.items():
            ws.title = name
        trusts = savings_sheet(sheets["Trusts"], runs, "trust", "Trust", trust_names)
        categories = savings_sheet(sheets["Categories"], runs, "category", "Category", category_names)
        years = years_sheet(sheets["Years"], runs)
        rng = range_sheet(sheets["Range"], runs)
        contracts_sheet(sheets["Contracts"], runs)
        assumptions_sheet(sheets["Assumptions"], runs, warnings)
        solver = solver_sheet(sheets["Solver"], runs)
        data_quality_sheet(sheets["Data quality"], session)
        data_as_of = session.scalars(select(func.max(DataImport.imported_at))).one()
    cells = summary_sheet(sheets["Summary"], runs, trusts, categories, years, rng, solver, data_as_of=data_as_of)
    sensitivity_sheet(wb, runs, figures, cells)
    wb.properties.title = f"Savings case: {', '.join(names)}"
    wb.properties.creator = "procure"
    wb.calculation.fullCalcOnLoad = True
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        wb.save(out)
    except OSError as exc:
        raise ProcureError(f"cannot write {out}: {exc.strerror or exc}") from exc
    cached = add_cached_values(out)  # so previews and data_only readers see the figures
    for f in figures:
        f["cells"] = cells[f["scenario"]]
    return {
        "path": str(out),
        "sheets": wb.sheetnames,
        "scenarios": figures,
        "warnings": warnings,
        "cached_values": cached,
    }
