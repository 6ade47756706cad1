"""Benchmark the whole job at region (S), multi-region (M) and national (L) scale.

For each size, in a fresh child process (so peak memory is that size's own):
generate the region's files, import them through the same functions as
``procure import``, define a default scenario and run it (build the problem from the
database, build the MILP, solve, LP bound, greedy, store results) once per solver,
and export the finance workbook when that module is present. One CSV row per
(size, solver) goes to ``benchmarks/results.csv``.

    python benchmarks/run.py --sizes S M L --solvers highs cbc --time-limit 120
    python benchmarks/run.py --sizes L --profile benchmarks/profile-L.txt

Rows of the sizes run replace that size's rows in the CSV; other sizes' rows are kept,
so ``--sizes S M`` now and ``--sizes L`` later make one table. ``--profile`` runs the
first solver once more under cProfile after the timed runs (the profiler's overhead
never reaches the table). ``load_avg`` is the 1-minute load average before and after
each solve: on a shared machine, read the timings next to it.

Timings are wall-clock seconds on this machine; see docs/benchmarks.md for the
figures, the machine and the date.
"""

import argparse
import cProfile
import csv
import datetime as dt
import io
import json
import multiprocessing as mp
import os
import platform
import pstats
import resource
import sys
import tempfile
import time
import traceback
from pathlib import Path
from queue import Empty

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COLUMNS = [
    "size",
    "trusts",
    "lines",
    "skus",
    "usage_rows",
    "variables",
    "constraints",
    "import_rows_per_s",
    "catalogue_rows_per_s",
    "build_s",
    "solve_s",
    "wall_s",
    "peak_rss_mb",
    "solver",
    "status",
    "gap",
    "objective_gbp",
    "lp_bound_gbp",
    "global_bound_gbp",
    "global_gap",
    "greedy_gbp",
    "greedy_lead_pct",
    "generate_s",
    "import_s",
    "problem_s",
    "export_s",
    "date",
    "machine",
    "lines_solved",
    "load_avg",
    "global_bound_method",
]
SIZE_ORDER = ["S", "M", "L"]


def machine() -> str:
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.machine()} {os.cpu_count()} cores {mem_gb:.0f} GiB, Python {platform.python_version()}"


def bench_size(size: str, solvers: list[str], time_limit: float, profile_path: str | None, queue) -> None:
    """Run one size in this (child) process and put its result rows on ``queue``."""
    from sqlalchemy import func, select
    from sqlmodel import Session

    from procurement import importers as imp
    from procurement.db import open_database
    from procurement.demo import SIZES, generate_region
    from procurement.models import CatalogueItem, ProductLine, Usage
    from procurement.scenarios import ScenarioSettings, build_problem, manage, runs
    from procurement.scenarios.settings import add_months

    profiler = cProfile.Profile() if profile_path else None
    rows = []
    with tempfile.TemporaryDirectory(prefix=f"bench-{size}-") as tmp:
        tmp = Path(tmp)
        tick = time.perf_counter()
        files = generate_region(tmp / "files", size=SIZES[size], seed=2026)
        generate_s = time.perf_counter() - tick
        engine = open_database(f"sqlite:///{tmp / 'procure.db'}")

        tick = time.perf_counter()
        imp.import_trusts(engine, files.trusts)
        imp.import_suppliers(engine, files.suppliers)
        catalogue_rows, catalogue_tick = 0, time.perf_counter()
        for c in files.catalogues:
            catalogue_rows += imp.import_catalogue(engine, c.path, supplier=c.supplier, profile=c.profile).rows_read
        catalogue_s = time.perf_counter() - catalogue_tick
        rows_read = catalogue_rows
        for u in files.usage:
            rows_read += imp.import_usage(engine, u.path, trust=u.trust).rows_read
        for fn, path in (
            (imp.import_contracts, files.contracts),
            (imp.import_tiers, files.tiers),
            (imp.import_ratings, files.ratings),
            (imp.import_approvals, files.approvals),
        ):
            rows_read += fn(engine, path).rows_read
        import_s = time.perf_counter() - tick

        with Session(engine) as session:
            skus = session.scalar(select(func.count()).select_from(CatalogueItem))
            lines = session.scalar(select(func.count()).select_from(ProductLine))
            usage_rows = session.scalar(select(func.count()).select_from(Usage))
            # the demo's decision date (six months ahead of the start), not today's default:
            # the same problem whatever day the benchmark runs
            decision = add_months(files.start_date, -6).isoformat()
            tick = time.perf_counter()
            build_problem(session, ScenarioSettings(start_date=files.start_date.isoformat(), decision_date=decision))
            problem_s = time.perf_counter() - tick

        for solver in solvers:
            name = f"bench-{solver}"
            settings = ScenarioSettings(
                start_date=files.start_date.isoformat(), decision_date=decision, solver=solver, time_limit=time_limit
            )
            manage.define_scenario(engine, name, settings, replace=True)
            load_before = os.getloadavg()[0]
            tick = time.perf_counter()
            summary = runs.run_scenario(engine, name)
            wall_s = time.perf_counter() - tick
            load_after = os.getloadavg()[0]
            export_s = ""
            try:
                from procurement.export.finance import write_finance_workbook
            except ImportError:
                write_finance_workbook = None
            if write_finance_workbook and summary["objective_gbp"] is not None and solver == solvers[0]:
                tick = time.perf_counter()
                write_finance_workbook(engine, [name], tmp / f"{name}.xlsx")
                export_s = round(time.perf_counter() - tick, 2)
            objective, greedy = summary["objective_gbp"], summary["greedy_gbp"]
            rows.append(
                {
                    "size": size,
                    "trusts": len(files.usage),
                    "lines": lines,
                    "skus": skus,
                    "usage_rows": usage_rows,
                    "variables": summary["variables"],
                    "constraints": summary["constraints"],
                    "import_rows_per_s": round(rows_read / import_s),
                    "catalogue_rows_per_s": round(catalogue_rows / catalogue_s),
                    "build_s": round(summary["build_seconds"] or 0, 2),
                    "solve_s": round(summary["solve_seconds"] or 0, 2),
                    "wall_s": round(wall_s, 2),
                    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                    "solver": solver,
                    "status": summary["status"],
                    "gap": "" if summary["gap"] is None else f"{summary['gap']:.2e}",
                    "objective_gbp": "" if objective is None else round(objective),
                    "lp_bound_gbp": "" if summary["lp_bound_gbp"] is None else round(summary["lp_bound_gbp"]),
                    "global_bound_gbp": ""
                    if summary["global_bound_gbp"] is None
                    else round(summary["global_bound_gbp"]),
                    "global_gap": "" if summary["global_gap"] is None else f"{summary['global_gap']:.2e}",
                    "global_bound_method": summary["global_bound_method"],
                    "greedy_gbp": "" if greedy is None else round(greedy),
                    "greedy_lead_pct": ""
                    if objective is None or not greedy
                    else round(100 * (objective / greedy - 1), 2),
                    "generate_s": round(generate_s, 2),
                    "import_s": round(import_s, 2),
                    "problem_s": round(problem_s, 2),
                    "export_s": export_s,
                    "date": dt.date.today().isoformat(),
                    "machine": machine(),
                    "load_avg": f"{load_before:.2f}/{load_after:.2f}",
                    "lines_solved": _lines_solved(summary["message"] or ""),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
        if profiler:
            # An extra, untimed run of the first solver: cProfile slows Python code
            # several-fold, so the timed rows above are taken without it.
            profiler.enable()
            runs.run_scenario(engine, f"bench-{solvers[0]}")
            profiler.disable()
    if profiler:
        text = io.StringIO()
        text.write(f"cProfile of one more run_scenario of {solvers[0]} at size {size} (Python in this process;\n")
        text.write("a solver working in another thread or process shows only as the wait for it)\n\n")
        stats = pstats.Stats(profiler, stream=text)
        stats.sort_stats("cumulative").print_stats(50)
        stats.sort_stats("tottime").print_stats(25)
        Path(profile_path).write_text(text.getvalue())
    queue.put(rows)


def _lines_solved(message: str) -> str:
    """Lines held by each screening stage, ``"93/128/183 of 1,656"``, or ``"all"`` (solver/screen.py);
    solved by category (solver/decompose.py), the lines of each category's best stage,
    ``"knee 37 of 147; hip 38 of 749"``."""
    import re

    parts = re.findall(r"(\w+) \w+(?: within [\d.]+%)? \(([\d,]+) of ([\d,]+) lines\)", message)
    if message.startswith("solved by category") and parts:
        return "; ".join(f"{c} {n} of {m}" for c, n, m in parts)
    hit = re.search(r"stages over ([\d, ]+?) of ([\d,]+) usable lines", message)
    return f"{hit.group(1).replace(', ', '/')} of {hit.group(2)}" if hit else "all"


def _child(size: str, solvers: list[str], time_limit: float, profile_path: str | None, queue) -> None:
    try:
        bench_size(size, solvers, time_limit, profile_path, queue)
    except BaseException:
        queue.put({"error": traceback.format_exc()})
        raise


def _merged(out: Path, results: list[dict]) -> list[dict]:
    """``results`` plus the rows of other sizes already in ``out``, in size order."""
    done = {r["size"] for r in results}
    kept = []
    if out.exists():
        with out.open(newline="") as handle:
            kept = [r for r in csv.DictReader(handle) if r.get("size") not in done]
    rank = {s: i for i, s in enumerate(SIZE_ORDER)}
    return sorted(kept + results, key=lambda r: rank.get(r["size"], len(rank)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["S", "M", "L"], choices=SIZE_ORDER)
    parser.add_argument("--solvers", nargs="+", default=["highs", "cbc"])
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.csv")
    parser.add_argument("--profile", help="write a cProfile summary of the first solver's run of the last size")
    args = parser.parse_args()
    results = []
    ctx = mp.get_context("spawn")
    for i, size in enumerate(args.sizes):
        queue = ctx.Queue()
        profile = args.profile if args.profile and i == len(args.sizes) - 1 else None
        child = ctx.Process(target=_child, args=(size, args.solvers, args.time_limit, profile, queue))
        child.start()
        while True:  # a child killed by the kernel (out of memory) puts nothing: do not wait forever
            try:
                rows = queue.get(timeout=5)
                break
            except Empty:
                if not child.is_alive():
                    raise SystemExit(f"size {size}: the benchmark process died (exit code {child.exitcode})") from None
        child.join()
        if isinstance(rows, dict):
            raise SystemExit(f"size {size} failed:\n{rows['error']}")
        results.extend(rows)
        # Written after every size: a later size that fails keeps the earlier ones.
        table = _merged(args.out, results)  # read before the file is opened for writing
        with args.out.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(table)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
