"""`procure imports revert N`: every kind of import undone and re-imported to the same contents, or refused."""

import json

import pandas as pd
import pytest
from click.testing import CliRunner
from importer_checks import PREFIX_A

from cli import main
from procurement.importers import (
    import_approvals,
    import_catalogue,
    import_contracts,
    import_ratings,
    import_suppliers,
    import_switching_costs,
    import_tiers,
    import_trusts,
    import_usage,
)
from procurement.importers.revert import RevertRefused, revert_import

# Audit tables (the import record stays, marked) and bookkeeping are not "contents".
NOT_CONTENTS = {"alembic_version", "dataimport", "importrevert", "replacedrows", "rejectedrow"}
# Row ids and the import that wrote a row differ on a re-import by construction.
NOT_COMPARED = {"id", "import_id", "source_import_id", "first_import_id", "recorded_at"}


def g_a(n):
    from stdnum import ean

    body = f"{PREFIX_A}{n:05d}"
    return body + ean.calc_check_digit(body)


def contents(engine) -> dict[str, list[tuple]]:
    """Every data table's rows, sorted, without ids and import references."""
    out = {}
    with engine.connect() as connection:
        names = pd.read_sql("SELECT name FROM sqlite_master WHERE type = 'table'", connection)["name"]
        for name in sorted(set(names) - NOT_CONTENTS):
            table = pd.read_sql(f'SELECT * FROM "{name}"', connection)
            table = table.drop(columns=[c for c in table if c in NOT_COMPARED])
            text = table.astype(object).where(table.notna(), "<null>").astype(str)  # NULLs compare as text too
            out[name] = sorted(map(tuple, text.to_numpy().tolist()))
    return out


def usage_file(files, name, rows):
    return files.csv(name, [("GTIN", "Qty", "Unit Cost", "Date"), *rows])


def kinds(files):
    """For each kind: a first import (the earlier state) and the import to revert."""
    contract = ("Trust", "Supplier", "Category", "Reference", "Start", "End")
    approval = ("Trust", "Supplier", "Brand", "Decision", "Clinician", "Date")
    return {
        "trusts": (
            None,
            lambda e: import_trusts(
                e, files.csv("t2.csv", [("Trust Code", "Trust Name"), ("RXA", "Renamed"), ("RXD", "Delta")])
            ),
        ),
        "suppliers": (
            None,
            lambda e: import_suppliers(
                e, files.csv("s2.csv", [("code", "name"), ("SUP-A", "Alpha plc"), ("SUP-D", "D")])
            ),
        ),
        "catalogue": (
            None,
            lambda e: import_catalogue(
                e,
                files.catalogue(
                    "sup-a-v2.csv",
                    [
                        ("A-100", g_a(100), "Cemented femoral stem", "Exeter", "3", "1", "£900.00"),
                        ("A-999", g_a(999), "Cemented femoral stem", "NewBrand", "3", "1", "£800.00"),
                    ],
                ),
                supplier="SUP-A",
                profile=str(files.profile()),
            ),
        ),
        "usage": (
            lambda e: import_usage(
                e, usage_file(files, "u1.csv", [(g_a(100), "4", "1000", "2026-04-03")]), trust="RXA"
            ),
            lambda e: import_usage(e, usage_file(files, "u2.csv", [(g_a(100), "5", "990", "2026-04-09")]), trust="RXA"),
        ),
        "contracts": (
            lambda e: import_contracts(
                e, files.csv("c1.csv", [contract, ("RXA", "SUP-A", "hip", "R1", "2024-04-01", "2027-03-31")])
            ),
            lambda e: import_contracts(
                e, files.csv("c2.csv", [contract, ("RXA", "SUP-B", "knee", "R2", "2025-04-01", "2028-03-31")])
            ),
        ),
        "tiers": (
            lambda e: import_tiers(
                e,
                files.csv(
                    "t1.csv",
                    [
                        ("supplier", "offer", "scope", "basis", "threshold", "discount_pct"),
                        ("SUP-A", "O", "hip", "units", "5", "2"),
                    ],
                ),
            ),
            lambda e: import_tiers(
                e,
                files.csv(
                    "t2x.csv",
                    [
                        ("supplier", "offer", "scope", "basis", "threshold", "discount_pct"),
                        ("SUP-A", "O", "hip", "units", "9", "3"),
                    ],
                ),
            ),
        ),
        "ratings": (
            lambda e: import_ratings(
                e, files.csv("r1.csv", [("supplier", "brand", "rating"), ("SUP-A", "Exeter", "10A")])
            ),
            lambda e: import_ratings(
                e, files.csv("r2.csv", [("supplier", "brand", "rating"), ("SUP-A", "Exeter", "13A")])
            ),
        ),
        "switching-costs": (
            lambda e: import_switching_costs(
                e,
                files.csv(
                    "sw1.csv",
                    [
                        ("trust", "supplier", "category", "cost_gbp", "kind"),
                        ("RXA", "SUP-A", "hip", "20000", "instruments"),
                    ],
                ),
            ),
            lambda e: import_switching_costs(
                e,
                files.csv(
                    "sw2.csv",
                    [
                        ("trust", "supplier", "category", "cost_gbp", "kind"),
                        ("ALL", "SUP-A", "hip", "30000", "training"),
                    ],
                ),
            ),
        ),
        "approvals": (
            None,
            lambda e: import_approvals(
                e, files.csv("a.csv", [approval, ("RXA", "SUP-A", "Exeter", "approve", "Ms A", "2026-03-02")])
            ),
        ),
    }


@pytest.mark.parametrize(
    "kind",
    ["trusts", "suppliers", "catalogue", "usage", "contracts", "tiers", "ratings", "approvals", "switching-costs"],
)
def test_revert_restores_the_earlier_contents_and_the_same_file_imports_again(catalogues, files, kind):
    first, second = kinds(files)[kind]
    if first:
        first(catalogues)
    before = contents(catalogues)
    report = second(catalogues)
    assert report.rows_accepted >= 1 and report.duplicate_of is None
    after = contents(catalogues)
    assert after != before
    result = revert_import(catalogues, report.import_id, user="lead")
    assert (result["kind"], result["reverted_by"]) == (report.kind, "lead")
    assert contents(catalogues) == before
    again = second(catalogues)  # not a duplicate: the reverted import is history only
    assert again.duplicate_of is None and again.import_id != report.import_id
    assert contents(catalogues) == after
    if kind == "catalogue":
        assert again.version == report.version


def test_revert_is_refused_where_later_data_depends_on_it(catalogues, files, snapshot):
    first = import_usage(catalogues, usage_file(files, "u1.csv", [(g_a(100), "4", "1000", "2026-04-03")]), trust="RXA")
    import_usage(catalogues, usage_file(files, "u2.csv", [(g_a(100), "5", "990", "2026-04-09")]), trust="RXA")
    before = snapshot(catalogues)
    with pytest.raises(RevertRefused, match=r"import #6 replaced rows it wrote: revert that first"):
        revert_import(catalogues, first.import_id)
    # SUP-A's catalogue (#3) has SKUs bought in the usage above.
    with pytest.raises(RevertRefused, match=r"usage rows buy SKUs it introduced \(import #6\)"):
        revert_import(catalogues, 3)
    assert snapshot(catalogues) == before


def test_the_cli_reverts_refuses_and_the_audit_shows_it(catalogues, files, db_url, snapshot):
    report = import_usage(catalogues, usage_file(files, "u1.csv", [(g_a(100), "4", "1000", "2026-04-03")]), trust="RXA")
    run = CliRunner().invoke
    before = snapshot(catalogues)
    refused = run(main, ["--db", db_url, "imports", "revert", "3"])
    assert refused.exit_code == 1 and "cannot be reverted; nothing was changed" in refused.output
    assert snapshot(catalogues) == before
    assert run(main, ["--db", db_url, "imports", "revert", "99"]).exit_code == 3
    done = run(main, ["--db", db_url, "--user", "lead", "imports", "revert", str(report.import_id)])
    assert done.exit_code == 0, done.output
    assert f"reverted import #{report.import_id} (usage u1.csv): 1 usage rows removed" in done.output
    again = run(main, ["--db", db_url, "imports", "revert", str(report.import_id)])
    assert again.exit_code == 1 and "already reverted" in again.output
    trail = json.loads(run(main, ["--db", db_url, "audit", "--kind", "import", "--json"]).output)["imports"]
    assert [r["reverted"].endswith("by lead") for r in trail] == [False] * 4 + [True]
