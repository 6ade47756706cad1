"""Import speed alone: catalogue rows/s and usage rows/s at S, M and L.

Generates each size's region once (cached under ``--data``), imports it into a fresh
SQLite database through the same functions as ``procure import`` and prints, per size,
the catalogue rows read per second of ``import_catalogue`` and the usage rows read per
second of ``import_usage`` (wall clock, this machine).

The catalogues are also imported all at once by ``import_catalogues`` (which reads and
parses the next files in a worker process while this one stores), into another fresh
database in a child process of its own (so that nothing read or imported by the first
timing is warm): ``catalogue_together_s`` and ``catalogue_together_rows_per_s``; then the
usage files by ``import_usage_files`` (a worker reads, parses and matches the next files):
``usage_together_s`` and ``usage_together_rows_per_s``. These are what ``procure import
catalogues FOLDER`` and ``procure import usage FOLDER`` do.

    python benchmarks/imports.py --sizes S M L
    python benchmarks/imports.py --sizes L --profile /tmp/import-L.prof
"""

import argparse
import cProfile
import json
import os
import pickle
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def region(data: Path, size: str):
    """The size's region files, generated once and reused (same seed: same files)."""
    from procurement.demo import SIZES, generate_region

    cache = data / f"{size}.pickle"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    files = generate_region(data / size, size=SIZES[size], seed=2026)
    cache.write_bytes(pickle.dumps(files))
    return files


def bench(size: str, data: Path, profile: str | None) -> dict:
    from procurement import importers as imp
    from procurement.db import open_database

    files = region(data, size)
    with tempfile.TemporaryDirectory(prefix=f"imports-{size}-") as tmp:
        engine = open_database(f"sqlite:///{Path(tmp) / 'procure.db'}")
        imp.import_trusts(engine, files.trusts)
        imp.import_suppliers(engine, files.suppliers)
        profiler = cProfile.Profile() if profile else None
        if profiler:
            profiler.enable()
        catalogue_rows, tick = 0, time.perf_counter()
        for c in files.catalogues:
            catalogue_rows += imp.import_catalogue(engine, c.path, supplier=c.supplier, profile=c.profile).rows_read
        catalogue_s = time.perf_counter() - tick
        usage_rows, tick = 0, time.perf_counter()
        for u in files.usage:
            usage_rows += imp.import_usage(engine, u.path, trust=u.trust).rows_read
        usage_s = time.perf_counter() - tick
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile)
            pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
        engine.dispose()
    together = json.loads(
        subprocess.run(
            [sys.executable, __file__, "--together", size, "--data", str(data)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    return {
        "size": size,
        "catalogue_files": len(files.catalogues),
        "catalogue_rows": catalogue_rows,
        "catalogue_s": round(catalogue_s, 2),
        "catalogue_rows_per_s": round(catalogue_rows / catalogue_s),
        "catalogue_together_s": together["catalogue_s"],
        "catalogue_together_rows_per_s": together["catalogue_rows_per_s"],
        "usage_files": len(files.usage),
        "usage_rows": usage_rows,
        "usage_s": round(usage_s, 2),
        "usage_rows_per_s": round(usage_rows / usage_s),
        "usage_together_s": together["usage_s"],
        "usage_together_rows_per_s": together["usage_rows_per_s"],
        "load_avg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def together(size: str, data: Path) -> dict:
    """The catalogues imported by ``import_catalogues``, then the usage files by
    ``import_usage_files``, into a fresh database (``--together``)."""
    from procurement import importers as imp
    from procurement.db import open_database

    files = region(data, size)
    timed = {}
    with tempfile.TemporaryDirectory(prefix=f"imports-{size}-together-") as tmp:
        engine = open_database(f"sqlite:///{Path(tmp) / 'procure.db'}")
        imp.import_trusts(engine, files.trusts)
        imp.import_suppliers(engine, files.suppliers)
        for kind, run in (
            (
                "catalogue",
                lambda: imp.import_catalogues(
                    engine, [imp.CatalogueFile(c.path, c.supplier, c.profile) for c in files.catalogues]
                ),
            ),
            ("usage", lambda: imp.import_usage_files(engine, [imp.UsageFile(u.path, u.trust) for u in files.usage])),
        ):
            tick = time.perf_counter()
            reports = run()
            seconds = time.perf_counter() - tick
            rows = sum(r.rows_read for r in reports)
            timed |= {f"{kind}_s": round(seconds, 2), f"{kind}_rows_per_s": round(rows / seconds)}
        engine.dispose()
    return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["S", "M", "L"])
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "procure-bench-data")
    parser.add_argument("--profile", help="cProfile the imports of the last size into this file")
    parser.add_argument("--together", metavar="SIZE", help=argparse.SUPPRESS)  # the child process's timing
    args = parser.parse_args()
    if args.together:
        print(json.dumps(together(args.together, args.data)))
        return
    for i, size in enumerate(args.sizes):
        profile = args.profile if args.profile and i == len(args.sizes) - 1 else None
        print(json.dumps(bench(size, args.data, profile)), flush=True)


if __name__ == "__main__":
    main()
