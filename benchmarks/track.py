"""Time ``procure track`` at national scale: 130 trusts, a year of monthly actuals, ~1M usage rows.

Solving a national region is not what this measures (``benchmarks/run.py`` does), so
the plan is the solved size-S demo region's ``all-trusts`` run cloned to ``--trusts``
trusts (each clone copies one demo trust's baseline usage, allocation and joins), and
the actuals are generated here as one usage row per unit bought (order lines), 12
months, Poisson around the plan, written straight into ``Usage``: importing a million
rows through the CLI would time the importer (see ``benchmarks/imports.py``), not
tracking. Then ``track_run`` is timed, and the tracking workbook.

The actuals are bought at the plan's regional prices from the first month by every trust,
whereas the plan has trusts join on staggered dates (paying their old prices until then):
so the headline it prints says far more was realised than planned (session 6 measured
"£90,760,765 realised of £34,857,737 planned (260%)"). That is this synthetic data, not a
savings case: the benchmark times tracking; ``procure demo``'s actuals follow the joins.

    .venv/bin/python benchmarks/track.py --trusts 130 --months 12
"""

import argparse
import datetime as dt
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trusts", type=int, default=130)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    from procurement.db import open_database
    from procurement.demo import run_demo

    root = args.workdir or Path(tempfile.mkdtemp(prefix="track-bench-"))
    tick = time.perf_counter()
    run_demo(root / "demo", size="S", echo=None)
    db = root / "national.db"
    shutil.copy(root / "demo" / "procure.db", db)
    con = sqlite3.connect(db)
    # The demo already imported its own actuals: drop them, the benchmark writes its own.
    con.execute("DELETE FROM usage WHERE period >= '2027-04-01'")
    run_id = con.execute(
        "SELECT r.id FROM scenariorun r JOIN scenario s ON s.id = r.scenario_id "
        "WHERE s.name = 'all-trusts' ORDER BY r.id DESC LIMIT 1"
    ).fetchone()[0]
    source = pd.read_sql("SELECT id, code FROM trust ORDER BY id", con)
    n_new = args.trusts - len(source)
    next_id = int(source["id"].max()) + 1
    clones = pd.DataFrame(
        {
            "id": range(next_id, next_id + n_new),
            "code": [f"N{i:03d}" for i in range(n_new)],
            "source": np.resize(source["id"].to_numpy(), n_new),
        }
    )
    con.executemany(
        "INSERT INTO trust (id, code, name, region) VALUES (?, ?, ?, 'national')",
        [(int(i), c, f"Trust {c}") for i, c in zip(clones["id"], clones["code"], strict=True)],
    )
    for table, columns in (
        ("runallocation", "line_id, units, regional_price, discount, net_price, annual_cost, is_new"),
        (
            "runjoin",
            "category_id, joins, join_month, join_date, months_on, exit_fee_paid, bridging_cost, "
            "annual_baseline, annual_regional_cost",
        ),
    ):
        rows = pd.read_sql(f"SELECT trust_id, {columns} FROM {table} WHERE run_id = {run_id}", con)
        copied = clones[["id", "source"]].merge(rows, left_on="source", right_on="trust_id")
        copied = copied.drop(columns=["trust_id", "source"]).rename(columns={"id": "trust_id"}).assign(run_id=run_id)
        copied.to_sql(table, con, if_exists="append", index=False)
    baseline = pd.read_sql("SELECT * FROM usage WHERE period < '2027-04-01'", con).drop(columns="id")
    cloned = clones[["id", "source"]].merge(baseline, left_on="source", right_on="trust_id")
    cloned.drop(columns=["trust_id", "source"]).rename(columns={"id": "trust_id"}).to_sql(
        "usage", con, if_exists="append", index=False
    )

    # A year of actuals: each trust's planned units a month, Poisson, one row per unit.
    alloc = pd.read_sql(
        f"SELECT a.trust_id, a.line_id, a.units, a.net_price FROM runallocation a WHERE a.run_id = {run_id}", con
    )
    item = pd.read_sql("SELECT MIN(id) AS item_id, product_line_id AS line_id FROM catalogueitem GROUP BY 2", con)
    alloc = alloc.merge(item, on="line_id")
    import_id = con.execute(
        "INSERT INTO dataimport (kind, file_name, sha256, version, imported_at, imported_by, rows_read, "
        "rows_accepted, rows_rejected, new_lines, price_changes) "
        "VALUES ('usage', 'synthetic', 'bench', 1, '2027-01-01', 'bench', 0, 0, 0, 0, 0)"
    ).lastrowid
    rng = np.random.default_rng(1)
    start = dt.date(2027, 4, 1)
    frames = []
    for m in range(args.months):  # twelve months, each vectorised
        qty = rng.poisson(alloc["units"].to_numpy() / 12.0)
        idx = np.repeat(np.arange(len(alloc)), qty)
        when = dt.date(start.year + (start.month - 1 + m) // 12, (start.month - 1 + m) % 12 + 1, 15)
        frames.append(
            pd.DataFrame(
                {
                    "trust_id": alloc["trust_id"].to_numpy()[idx],
                    "item_id": alloc["item_id"].to_numpy()[idx],
                    "period": when.isoformat(),
                    "quantity": 1.0,
                    "unit_price_paid": alloc["net_price"].to_numpy()[idx].round(2),
                    "import_id": import_id,
                    "source_row": np.arange(len(idx)) + 2,
                }
            )
        )
    actuals = pd.concat(frames, ignore_index=True)
    actuals.to_sql("usage", con, if_exists="append", index=False, chunksize=50_000)
    con.commit()
    con.close()
    setup = time.perf_counter() - tick

    from procurement.export.tracking import write_tracking_workbook
    from procurement.tracking import headline, track_run

    engine = open_database(f"sqlite:///{db}")
    tick = time.perf_counter()
    result = track_run(engine, run_id)
    tracked = time.perf_counter() - tick
    tick = time.perf_counter()
    write_tracking_workbook(result, root / "track.xlsx")
    workbook = time.perf_counter() - tick
    print(f"trusts {args.trusts}, actual usage rows {len(actuals):,}, months {result['months']}")
    print(f"setup (demo S, clone, synthesise) {setup:.1f} s; track_run {tracked:.2f} s; workbook {workbook:.2f} s")
    print(headline(result))


if __name__ == "__main__":
    main()
