"""``procure demo``: generate the synthetic region and run the whole job on it.

No side door: the generated files are imported through the same library functions
that ``procure import ...`` calls, in the order a procurement lead would run them.
"""

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

from procurement import importers as imp
from procurement.db import open_database
from procurement.demand import demand_report
from procurement.demo.generator import generate_region
from procurement.demo.region import SIZES
from procurement.scenarios import ScenarioSettings
from procurement.scenarios.settings import add_months

Echo = Callable[[str], None] | None


def _summary_line(report: imp.ImportReport, label: str) -> str:
    parts = f"{report.rows_read} rows, {report.rows_accepted} accepted, {report.rows_rejected} rejected"
    if report.kind == "catalogue":
        parts += f", {report.new_lines} new lines"
    return f"  {label:<28} {report.file:<28} {parts}"


def run_demo(
    out_dir: Path,
    *,
    size: str = "S",
    seed: int = 2026,
    db_url: str | None = None,
    user: str | None = None,
    echo: Echo = print,
    solve: bool = True,
) -> dict:
    """Generate a region of ``size`` into ``out_dir``, import it, aggregate demand.

    Returns a summary dict (counts, timings, database URL). The default database is
    ``out_dir/procure.db``, recreated on every run so the demo is reproducible.
    """
    say = echo or (lambda _msg: None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if db_url is None:
        db_file = out_dir / "procure.db"
        db_file.unlink(missing_ok=True)
        db_url = f"sqlite:///{db_file}"
    timings: dict[str, float] = {}
    started = time.perf_counter()

    say(f"Generating a size-{size} region (seed {seed}) in {out_dir}/files ...")
    tick = time.perf_counter()
    files = generate_region(out_dir / "files", size=SIZES[size], seed=seed)
    timings["generate_s"] = time.perf_counter() - tick

    engine = open_database(db_url)
    reports: list[imp.ImportReport] = []

    def run(label: str, fn, *args, **kwargs) -> None:
        report = fn(engine, *args, user=user, **kwargs)
        reports.append(report)
        say(_summary_line(report, label))

    say("Importing, as `procure import ...` would:")
    tick = time.perf_counter()
    run("trusts", imp.import_trusts, files.trusts)
    run("suppliers", imp.import_suppliers, files.suppliers)
    # `procure import catalogues <folder>`: each file named after its supplier, its layout
    # recognised from its header, the next file read ahead while one is stored
    catalogue_folder = files.catalogues[0].path.parent

    def catalogue_landed(file: imp.CatalogueFile, report: imp.ImportReport) -> None:
        reports.append(report)
        say(_summary_line(report, f"catalogue {file.supplier}"))

    imp.import_catalogue_set(engine, catalogue_folder, user=user, on_report=catalogue_landed)

    # `procure import usage <folder>`: each trust's export named after its code
    def usage_landed(file: imp.UsageFile, report: imp.ImportReport) -> None:
        reports.append(report)
        say(_summary_line(report, f"usage {file.trust}"))

    imp.import_usage_set(engine, files.usage[0].path.parent, user=user, on_report=usage_landed)
    run("contracts", imp.import_contracts, files.contracts)
    run("tier offers", imp.import_tiers, files.tiers)
    run("ODEP ratings", imp.import_ratings, files.ratings)
    run("approvals", imp.import_approvals, files.approvals)
    if files.switching_costs is not None:
        run("switching costs", imp.import_switching_costs, files.switching_costs)
    timings["import_s"] = time.perf_counter() - tick

    tick = time.perf_counter()
    demand = demand_report(engine)
    timings["demand_s"] = time.perf_counter() - tick
    regional = demand["regional"]
    by_line = demand["by_line"]
    say(
        f"Demand: {len(demand['by_group'])} trust-group pairs, "
        f"{regional['units_per_year'].sum():,.0f} units and £{regional['spend_per_year'].sum():,.0f} a year"
    )
    if len(by_line):
        worst = by_line.sort_values("premium_pct", ascending=False).iloc[0]
        say(
            f"Largest price gap: {worst['trust']} pays {worst['premium_pct']:.0f}% more than the best "
            f"price in the region for {worst['line']} (£{worst['avg_unit_price']:,.2f} vs "
            f"£{worst['best_price_in_region']:,.2f})"
        )
    if solve:
        tick = time.perf_counter()
        scenarios = _run_demo_scenarios(engine, files.start_date.isoformat(), user, say, out_dir)
        timings["scenarios_s"] = time.perf_counter() - tick
    else:
        scenarios = {}
    tracking = {}
    if scenarios.get("headline", {}).get("all-trusts", {}).get("objective_gbp") is not None:
        from procurement.demo.actuals import track_demo

        tick = time.perf_counter()
        tracking = track_demo(
            engine,
            out_dir / "files" / "actuals",
            scenario="all-trusts",
            start=files.start_date,
            seed=seed,
            user=user,
            run=run,
            say=say,
        )
        timings["tracking_s"] = time.perf_counter() - tick
    timings["total_s"] = time.perf_counter() - started
    rows_read = sum(r.rows_read for r in reports)
    rejected = sum(r.rows_rejected for r in reports)
    say(
        f"Done in {timings['total_s']:.1f} s: {rows_read:,} rows imported, {rejected} rejected "
        f"(see `procure --db {db_url} imports` and `rejects --import N`). Database: {db_url}"
    )
    say(f"Use it next: procure --db {db_url} demand   (or: export PROCURE_DB={db_url})")
    return {
        "database": db_url,
        "files": str(files.root),
        "size": size,
        "seed": seed,
        "imports": [r.to_dict(max_rejects=0) for r in reports],
        "rows_read": rows_read,
        "rows_rejected": rejected,
        "demand_units_per_year": float(regional["units_per_year"].sum()) if len(regional) else 0.0,
        "demand_spend_per_year": float(regional["spend_per_year"].sum()) if len(regional) else 0.0,
        "scenarios": scenarios,
        "tracking": tracking,
        "timings": timings,
    }


def _run_demo_scenarios(engine, start_date: str, user: str | None, say, out_dir: Path) -> dict:
    """Three contrasting scenarios: every trust; the four that gain most; one line per group."""
    from procurement import scenarios

    say("Scenarios:")
    # Notice can be served six months ahead of the start: pinned, so the demo's figures
    # do not depend on the day it is run (the setting's default moves with today).
    decision_date = add_months(dt.date.fromisoformat(start_date), -6).isoformat()
    base = ScenarioSettings(start_date=start_date, decision_date=decision_date)
    scenarios.define_scenario(engine, "all-trusts", base, user=user, replace=True)
    everyone = scenarios.run_scenario(engine, "all-trusts", user=user)
    say(_scenario_line(everyone))
    if everyone["objective_gbp"] is not None:
        say(_staggered_line(everyone))
    by_trust = sorted(everyone["savings_by_trust"].items(), key=lambda kv: kv[1], reverse=True)
    top_four = tuple(sorted(t for t, _ in by_trust[:4])) or base.trusts
    scenarios.define_scenario(
        engine,
        "top-four",
        ScenarioSettings(start_date=start_date, decision_date=decision_date, trusts=top_four),
        user=user,
        replace=True,
    )
    say(_scenario_line(scenarios.run_scenario(engine, "top-four", user=user)))
    one_line = ScenarioSettings(
        start_date=start_date, decision_date=decision_date, range_cap=1, trust_range_cap=1, min_suppliers=1
    )
    scenarios.define_scenario(engine, "one-line-per-group", one_line, user=user, replace=True)
    say(_scenario_line(scenarios.run_scenario(engine, "one-line-per-group", user=user)))
    names = ["all-trusts", "top-four", "one-line-per-group"]
    comparison = scenarios.compare_scenarios(engine, names)
    say(f"Compare them: procure scenario compare {' '.join(names)}")
    outputs = {}
    solved = [n for n in names if comparison["headline"].loc["objective_gbp", n] is not None]
    if solved:
        from procurement.export.finance import write_finance_workbook
        from procurement.export.shortlist import export_shortlist

        workbook = write_finance_workbook(engine, solved, out_dir / "savings-case.xlsx")
        outputs["finance_workbook"] = str(workbook["path"])
        say(f"Finance workbook: {workbook['path']}")
        first_trust = sorted(everyone["savings_by_trust"])[0] if everyone["savings_by_trust"] else None
        if first_trust:
            shortlist = out_dir / f"shortlist-{first_trust}.xlsx"
            export_shortlist(engine, trust=first_trust, out=shortlist, scenario=solved[0], user=user)
            outputs["shortlist"] = str(shortlist)
            say(f"Shortlist for {first_trust}'s surgeons: {shortlist} (fill it in, then procure shortlist import)")
    return {
        "names": names,
        "headline": comparison["headline"].to_dict(),
        **outputs,
    }


def _staggered_line(summary: dict) -> str:
    """How the trusts' contracts move onto the agreement: join dates, waits, early exits."""
    contracts = summary["contracts"]
    if not len(contracts):
        return "  contracts: none in the register"
    codes = contracts["reason_code"]
    dates = sorted({str(d) for d in contracts["join_date"].dropna()})
    at_end = int(codes.isin(["no_early_exit", "at_end", "bridged"]).sum())
    held = int(codes.isin(["notice", "capacity"]).sum())
    early = int((codes == "leaves_early").sum())
    return (
        f"  contracts: {len(contracts)} current contracts join on {len(dates)} dates ({dates[0]} to {dates[-1]}):"
        f" {at_end} at or after their end, {early} leave early paying £{contracts['exit_fee_gbp'].sum():,.0f}"
        f" in exit fees" + (f", {held} held by notice or capacity" if held else "") + ";"
        f" the agreement ends for all on {summary['common_end_date']} (reasons: procure scenario show all-trusts)"
    )


def _scenario_line(summary: dict) -> str:
    if summary["objective_gbp"] is None:
        return f"  {summary['scenario']:<20} {summary['status']}: {summary['message']}"
    return (
        f"  {summary['scenario']:<20} {summary['status']}, net £{summary['objective_gbp']:,.0f} over the horizon, "
        f"full-year £{summary['full_year_gbp']:,.0f}, in-year £{summary['in_year_gbp']:,.0f}, "
        f"{summary['range_size']} lines, gap {summary['gap'] or 0:.3%}"
    )
