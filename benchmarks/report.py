"""Markdown for docs/benchmarks.md from benchmarks/results.csv: the table, growth and targets.

    python benchmarks/report.py                  # prints the sections to paste
    python benchmarks/report.py --out /tmp/b.md

Growth: for a cost c measured at sizes n1 < n2, the exponent is
b = log(c2 / c1) / log(n2 / n1), so that c grows like n^b between the two sizes
(b = 1: linear). Sizes are measured in SKUs for the import and in MILP variables for
the model and the solve.
"""

import argparse
import csv
import math
from pathlib import Path

from run import COLUMNS  # benchmarks/run.py, beside this script

ROOT = Path(__file__).resolve().parent.parent
# The columns of the table in docs/benchmarks.md: those of benchmarks/run.py but the
# per-phase timings and provenance, which stay in the CSV.
DETAIL_ONLY = {
    "usage_rows",
    "greedy_lead_pct",
    "generate_s",
    "import_s",
    "problem_s",
    "export_s",
    "date",
    "machine",
    "global_bound_method",
}
TABLE = [c for c in COLUMNS if c not in DETAIL_ONLY]
GROWTH = [
    # (cost, how it is computed from a row, the size it is measured against)
    ("import time (s)", lambda r: _f(r, "import_s"), "skus"),
    ("problem from the database (s)", lambda r: _f(r, "problem_s"), "skus"),
    ("MILP build (s)", lambda r: _f(r, "build_s"), "variables"),
    ("solve (s)", lambda r: _f(r, "solve_s"), "variables"),
    ("peak memory (MB)", lambda r: _f(r, "peak_rss_mb"), "variables"),
    ("variables", lambda r: _f(r, "variables"), "skus"),
]


def _f(row: dict, key: str) -> float | None:
    try:
        value = float(row.get(key) or "nan")
    except ValueError:
        return None
    return None if math.isnan(value) else value


def table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(TABLE) + " |", "|" + "---|" * len(TABLE)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in TABLE) + " |" for r in rows]
    return "\n".join(lines)


def growth(rows: list[dict], solver: str) -> str:
    by_size = {r["size"]: r for r in rows if r["solver"] == solver}
    pairs = [(a, b) for a, b in (("S", "M"), ("M", "L")) if a in by_size and b in by_size]
    if not pairs:
        return f"(no two sizes measured with {solver})"
    header = "| cost | measured against | " + " | ".join(f"{a} to {b}" for a, b in pairs) + " |"
    lines = [header, "|" + "---|" * (2 + len(pairs))]
    for label, cost, size_key in GROWTH:
        cells = []
        for a, b in pairs:
            c1, c2 = cost(by_size[a]), cost(by_size[b])
            n1, n2 = _f(by_size[a], size_key), _f(by_size[b], size_key)
            if not all(v and v > 0 for v in (c1, c2, n1, n2)) or n1 == n2:
                cells.append("n/a")
            else:
                cells.append(f"{math.log(c2 / c1) / math.log(n2 / n1):.2f} ({c1:g} to {c2:g})")
        lines.append(f"| {label} | {size_key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def solver_ratio(rows: list[dict]) -> str:
    lines = [
        "| size | HiGHS solve s | CBC solve s | CBC / HiGHS time | HiGHS global gap | CBC global gap"
        " | CBC / HiGHS objective |",
        "|---|---|---|---|---|---|---|",
    ]
    sizes = sorted({r["size"] for r in rows}, key="SML".index)
    for size in sizes:
        h = next((r for r in rows if r["size"] == size and r["solver"] == "highs"), None)
        c = next((r for r in rows if r["size"] == size and r["solver"] == "cbc"), None)
        if not h or not c:
            continue
        hs, cs = _f(h, "solve_s"), _f(c, "solve_s")
        ratio = f"{cs / hs:.2f}" if hs and cs else "n/a"
        ho, co = _f(h, "objective_gbp"), _f(c, "objective_gbp")
        objective = f"{co / ho:.4f}" if ho and co else "n/a (no plan)"
        hg, cg = h.get("global_gap") or "none", c.get("global_gap") or "none"
        lines.append(f"| {size} | {hs} | {cs} | {ratio} | {hg} | {cg} | {objective} |")
    return "\n".join(lines)


def methods(rows: list[dict]) -> str:
    return "\n".join(f"- {r['size']} {r['solver']}: {r.get('global_bound_method') or 'none'}" for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results.csv")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with args.results.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    text = "\n\n".join(
        [
            "## Results\n\n" + table(rows),
            "## Growth with size (HiGHS rows)\n\n" + growth(rows, "highs"),
            "## HiGHS and CBC\n\n" + solver_ratio(rows),
            "## How each global bound was obtained\n\n" + methods(rows),
        ]
    )
    if args.out:
        args.out.write_text(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
