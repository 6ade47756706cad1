"""How tight the bounds for the whole problem are: Lagrangian and whole LP against the plan.

For each size: generate the region (seed 2026), import it, build the benchmark's default
scenario problem (as benchmarks/run.py does), then print as JSON lines the Lagrangian
bound of ``solver.bound`` after ``--seconds`` of steps (from the greedy plan's value as
its target), and, with ``--lp``, the LP relaxation of the whole model by interior point
(``solver.bound.full_lp_bound``; at L this takes most of an hour). With
``--relaxation-lp CATEGORY ...``, each category's relaxation LP
(``solver.bound.relaxation_lp_bound``: the floor the Lagrangian search comes down to; at L
knee 38 s, hip 450 s, trauma 570 s on an idle core), one JSON line each.

    python benchmarks/bound.py --sizes S M --seconds 10 --lp
    python benchmarks/bound.py --sizes L --seconds 1 --relaxation-lp knee hip trauma
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def problem_of(size: str, tmp: Path):
    from sqlmodel import Session

    from procurement import importers as imp
    from procurement.db import open_database
    from procurement.demo import SIZES, generate_region
    from procurement.scenarios import ScenarioSettings, build_problem
    from procurement.scenarios.settings import add_months

    files = generate_region(tmp / "files", size=SIZES[size], seed=2026)
    engine = open_database(f"sqlite:///{tmp / 'procure.db'}")
    imp.import_trusts(engine, files.trusts)
    imp.import_suppliers(engine, files.suppliers)
    for c in files.catalogues:
        imp.import_catalogue(engine, c.path, supplier=c.supplier, profile=c.profile)
    for u in files.usage:
        imp.import_usage(engine, u.path, trust=u.trust)
    for fn, path in (
        (imp.import_contracts, files.contracts),
        (imp.import_tiers, files.tiers),
        (imp.import_ratings, files.ratings),
        (imp.import_approvals, files.approvals),
    ):
        fn(engine, path)
    decision = add_months(files.start_date, -6).isoformat()
    with Session(engine) as session:
        settings = ScenarioSettings(start_date=files.start_date.isoformat(), decision_date=decision)
        problem, _ = build_problem(session, settings)
    engine.dispose()
    return problem


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["S", "M"])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--lp", action="store_true", help="also solve the whole model's LP relaxation")
    parser.add_argument("--relaxation-lp", nargs="+", default=[], metavar="CATEGORY", help="each one's relaxation LP")
    args = parser.parse_args()
    from solver.bound import full_lp_bound, lagrangian_bound, relaxation_lp_bound
    from solver.data import prepare
    from solver.decompose import restrict_to_categories
    from solver.greedy import greedy

    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix=f"bound-{size}-") as tmp:
            problem = problem_of(size, Path(tmp))
        data = prepare(problem)
        plan = greedy(problem, data=data)
        bound = lagrangian_bound(data, target=plan.objective, seconds=args.seconds, max_iterations=10**9)
        row = {
            "size": size,
            "greedy_gbp": round(plan.objective),
            "lagrangian_gbp": round(bound.value),
            "steps": bound.iterations,
            "lagrangian_s": round(bound.seconds, 1),
        }
        if args.lp:
            tick = time.perf_counter()
            lp = full_lp_bound(problem, seconds=3600)
            row["lp_gbp"] = None if lp.value is None else round(lp.value)
            row["lp_s"] = round(time.perf_counter() - tick, 1)
        print(json.dumps(row), flush=True)
        for category in args.relaxation_lp:
            floor = relaxation_lp_bound(prepare(restrict_to_categories(problem, {category})), seconds=3600)
            value = None if floor.value is None else round(floor.value)
            seconds = round(floor.seconds, 1)
            print(json.dumps({"size": size, "category": category, "relaxation_lp_gbp": value, "s": seconds}))


if __name__ == "__main__":
    main()
