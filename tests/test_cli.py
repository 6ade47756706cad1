"""The ``procure`` command line: help, one-line summaries, JSON, exit codes, clear messages."""

import json

import click
import pytest
from click.testing import CliRunner

import catalogues.read
from cli import main

PREFIX_A = "5012345"


@pytest.fixture
def procure(db_url, engine):
    """Run ``procure --db URL ARGS...`` on the test's fresh database; returns the click Result."""
    runner = CliRunner()

    def run(*args, expect: int | None = 0):
        result = runner.invoke(main, ["--db", db_url, "--user", "tester", *map(str, args)])
        if expect is not None:
            assert result.exit_code == expect, (result.exit_code, result.output, result.exception)
        assert "Traceback" not in result.output
        return result

    return run


@pytest.fixture
def loaded(procure, reference_files, files, catalogue_items):
    """Trusts, suppliers and SUP-A's catalogue imported through the CLI."""
    procure("import", "trusts", reference_files["trusts"])
    procure("import", "suppliers", reference_files["suppliers"])
    procure(
        "import",
        "catalogue",
        files.catalogue("sup-a.csv", catalogue_items["SUP-A"]),
        "--supplier",
        "SUP-A",
        "--profile",
        files.profile(),
    )
    return procure


def walk(group: click.Group, path=()):
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from walk(command, (*path, name))


COMMANDS = [path for path, _ in walk(main)]


def test_the_command_tree_has_the_documented_commands():
    expected = {
        ("import", kind)
        for kind in ("trusts", "suppliers", "catalogue", "usage", "contracts", "tiers", "ratings", "approvals")
    }
    expected |= {("imports",), ("rejects",), ("demand",), ("profiles",), ("db",), ("import",)}
    assert expected <= set(COMMANDS)


@pytest.mark.parametrize("path", [(), *COMMANDS], ids=lambda p: " ".join(p) or "procure")
def test_every_command_has_help_with_an_example(path):
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output
    example = result.output.split("Example:", 1)[1]
    assert "procure " in example
    assert all(word in example for word in path)


# --------------------------------------------------------------------------- imports


def test_import_commands_print_one_line_and_write_rows(procure, reference_files, files, catalogue_items, count, engine):
    result = procure("import", "trusts", reference_files["trusts"])
    assert result.stdout.splitlines()[0] == "trusts.csv -> trusts: 3 rows read, 3 accepted, 0 rejected (import #1)"
    assert count(engine, "trust") == 3
    result = procure("import", "suppliers", reference_files["suppliers"])
    assert result.stdout.startswith("suppliers.csv -> suppliers: 3 rows read, 3 accepted, 0 rejected (import #2)")
    assert count(engine, "supplier") == 3

    catalogue = files.catalogue("sup-a.csv", catalogue_items["SUP-A"])
    result = procure("import", "catalogue", catalogue, "--supplier", "SUP-A", "--profile", files.profile())
    assert result.stdout.splitlines()[0] == (
        "sup-a.csv -> SUP-A catalogue v1: 7 rows read, 7 accepted, 0 rejected, 6 new product lines, "
        "0 price changes (import #3)"
    )
    assert count(engine, "catalogueitem") == 7 and count(engine, "productline") == 6

    usage = files.csv(
        "rxa.csv",
        [
            ("Item Code", "Qty", "Unit Cost", "Date"),
            ("A-100", "4", "1010", "2026-04-01"),
            ("A-300", "2", "300", "2026-05-01"),
        ],
    )
    result = procure("import", "usage", usage, "--trust", "RXA")
    assert result.stdout.startswith("rxa.csv -> RXA usage: 2 rows read, 2 accepted, 0 rejected (import #4)")
    assert count(engine, "usage") == 2

    contracts = files.csv(
        "contracts.csv",
        [("trust", "supplier", "category", "start", "end"), ("RXA", "SUP-A", "hip", "2024-04-01", "2027-03-31")],
    )
    assert procure("import", "contracts", contracts).stdout.startswith(
        "contracts.csv -> contracts: 1 rows read, 1 accepted, 0 rejected (import #5)"
    )
    assert count(engine, "contract") == 1

    tiers = files.csv(
        "tiers.csv",
        [
            ("supplier", "offer", "scope", "basis", "threshold", "discount_pct"),
            ("SUP-A", "A1", "hip", "units", "100", "2"),
            ("SUP-A", "A1", "hip", "units", "200", "4"),
        ],
    )
    assert procure("import", "tiers", tiers).stdout.startswith(
        "tiers.csv -> tier offers: 2 rows read, 2 accepted, 0 rejected (import #6)"
    )
    assert count(engine, "volumetier") == 2

    ratings = files.csv("odep.csv", [("supplier", "brand", "rating"), ("SUP-A", "Exeter", "10A*")])
    assert procure("import", "ratings", ratings).stdout.startswith(
        "odep.csv -> ODEP ratings: 1 rows read, 1 accepted, 0 rejected (import #7)"
    )
    assert count(engine, "clinicalrating") == 1

    approvals = files.csv(
        "approvals.csv",
        [
            ("trust", "supplier", "brand", "decision", "clinician", "date"),
            ("REGIONAL", "SUP-A", "Exeter", "approve", "Ms A Surgeon", "2026-03-01"),
        ],
    )
    assert procure("import", "approvals", approvals).stdout.startswith(
        "approvals.csv -> approvals: 1 rows read, 1 accepted, 0 rejected (import #8)"
    )
    assert count(engine, "approval", "trust_id IS NULL") == 1


def test_rejected_rows_are_shown_and_listed_in_full_by_rejects(loaded, files, engine, count):
    usage = files.csv(
        "rxa.csv",
        [
            ("Item Code", "Qty", "Unit Cost", "Date"),
            ("A-100", "4", "1010", "2026-04-01"),
            ("A-100", "lots", "1010", "2026-04-02"),
            ("ZZ-9", "1", "5", "2026-04-03"),
        ],
    )
    result = loaded("import", "usage", usage, "--trust", "RXA")
    lines = result.stdout.splitlines()
    assert lines[0] == "rxa.csv -> RXA usage: 3 rows read, 1 accepted, 2 rejected (import #4)"
    assert "quantity is not a number" in result.stdout and "lots" in result.stdout
    assert "all rejected rows: procure rejects --import 4" in result.stdout
    assert count(engine, "usage") == 1

    rejects = loaded("rejects", "--import", 4)
    assert "Rejected rows of import #4" in rejects.stdout
    assert "unknown item: code not in any imported catalogue" in rejects.stdout and "ZZ-9" in rejects.stdout
    as_json = json.loads(loaded("rejects", "--import", 4, "--json").stdout)
    assert as_json == [
        {"row": 3, "column": "Qty", "value": "lots", "reason": "quantity is not a number"},
        {
            "row": 4,
            "column": "Item Code",
            "value": "ZZ-9",
            "reason": "unknown item: code not in any imported catalogue",
        },
    ]
    assert loaded("rejects", "--import", 3).stdout.strip() == "import #3 rejected no rows"
    missing = loaded("rejects", "--import", 99, expect=3)
    assert "no import #99" in missing.output


def test_import_catalogues_prints_a_line_per_file_and_the_set(loaded, files, catalogue_items):
    profile = files.profile()
    poa = ("B-BAD", "", "Cemented stem", "Exeter", "9", "1", "POA")  # a row to reject
    files.catalogue("sup-b.xlsx", [*catalogue_items["SUP-B"], poa])
    listing = files.csv(
        "price-files.csv",
        [("file", "supplier", "profile"), ("sup-a.csv", "SUP-A", profile), ("sup-b.xlsx", "SUP-B", profile)],
    )
    result = loaded("import", "catalogues", listing)
    assert "sup-a.csv: identical to import #3; already imported, nothing written" in result.stdout
    assert "sup-b.xlsx -> SUP-B catalogue v1: 7 rows read, 6 accepted, 1 rejected" in result.stdout
    # a line or two per file: where its rejected rows are, not their table
    assert "all rejected rows: procure rejects --import 4" in result.stdout and "POA" not in result.stdout
    assert result.stdout.rstrip().endswith("2 price files: 1 imported (7 rows read), 1 already imported before")
    payload = json.loads(loaded("import", "catalogues", listing, "--workers", "0", "--json").stdout)
    assert payload["imported"] == 0
    assert [(f["file"], f["duplicate_of"]) for f in payload["files"]] == [("sup-a.csv", 3), ("sup-b.xlsx", 4)]
    result = loaded("import", "catalogues", files.root / "nowhere", expect=2)
    assert result.stderr.startswith("Error: ") and "nowhere: no such folder or file" in result.stderr


def test_import_usage_of_a_folder_prints_a_line_per_file_and_the_set(loaded, files, engine, count):
    folder = files.root / "usage"
    folder.mkdir()
    header = ("Item Code", "Qty", "Unit Cost", "Date")
    files.csv("usage/rxa.csv", [header, ("A-100", "4", "1010", "2026-04-01"), ("A-100", "lots", "1", "2026-04-02")])
    files.csv("usage/RXB.csv", [header, ("A-200", "2", "950", "2026-04-03")])
    result = loaded("import", "usage", folder)
    assert result.stdout.startswith(  # in the order of their names
        "RXB.csv -> RXB usage: 1 rows read, 1 accepted, 0 rejected (import #4)\n"
        "rxa.csv -> RXA usage: 2 rows read, 1 accepted, 1 rejected (import #5)\n"
    )
    assert "all rejected rows: procure rejects --import 5" in result.stdout and "lots" not in result.stdout
    assert result.stdout.rstrip().endswith("2 usage files: 2 imported (3 rows read)")
    assert count(engine, "usage") == 2
    listing = files.csv("usage-files.csv", [("file", "trust"), ("usage/rxa.csv", "rxa"), ("usage/RXB.csv", "RXB")])
    payload = json.loads(loaded("import", "usage", listing, "--workers", "0", "--json").stdout)
    assert payload["imported"] == 0
    assert [(f["file"], f["duplicate_of"]) for f in payload["files"]] == [("rxa.csv", 5), ("RXB.csv", 4)]
    one_file = loaded("import", "usage", folder / "rxa.csv", expect=2)  # one file needs its trust
    assert "no column file or trust in the header row" in one_file.stderr
    assert "procure import usage FILE --trust CODE" in one_file.stderr
    both = loaded("import", "usage", folder, "--confirm-trust", expect=2)
    assert "--confirm-trust is for one file: give its --trust too" in both.output
    folder_of_one = loaded("import", "usage", folder, "--trust", "RXA", expect=2)
    assert "is a folder: without --trust every usage file in it is imported" in folder_of_one.output


def test_import_json_output_has_the_counts(loaded, files, catalogue_items):
    v2 = [list(r) for r in catalogue_items["SUP-A"]]
    v2[0][6] = "£1,100.00"
    v2.append(["A-BAD", "5012345000000", "Cemented femoral stem", "Exeter", "9", "1", "10"])
    path = files.catalogue("sup-a-v2.csv", v2)
    result = loaded("import", "catalogue", path, "--supplier", "SUP-A", "--profile", files.profile(), "--json")
    payload = json.loads(result.stdout)
    assert {
        k: payload[k]
        for k in (
            "kind",
            "file",
            "import_id",
            "version",
            "rows_read",
            "rows_accepted",
            "rows_rejected",
            "new_lines",
            "price_changes",
            "profile",
        )
    } == {
        "kind": "catalogue",
        "file": "sup-a-v2.csv",
        "import_id": 4,
        "version": 2,
        "rows_read": 8,
        "rows_accepted": 7,
        "rows_rejected": 1,
        "new_lines": 0,
        "price_changes": 1,
        "profile": "test-pack",
    }
    assert payload["rejects"] == [
        {"row": 12, "column": "GTIN", "value": "5012345000000", "reason": "GTIN check digit is wrong"}
    ]
    assert len(payload["sha256"]) == 64
    again = json.loads(
        loaded("import", "catalogue", path, "--supplier", "SUP-A", "--profile", files.profile(), "--json").stdout
    )
    assert again["duplicate_of"] == 4 and again["import_id"] is None


def test_a_duplicate_file_is_reported_and_exits_zero(loaded, reference_files, engine, count):
    result = loaded("import", "trusts", reference_files["trusts"])
    assert result.stdout.strip() == "trusts.csv: identical to import #1; already imported, nothing written"
    assert count(engine, "dataimport") == 3


def test_imports_lists_every_file(loaded):
    result = loaded("imports")
    for name in ("trusts.csv", "suppliers.csv", "sup-a.csv", "tester"):
        assert name in result.stdout
    payload = json.loads(loaded("imports", "--json").stdout)
    assert [(r["id"], r["kind"], r["file_name"], r["rows_read"]) for r in payload] == [
        (1, "trusts", "trusts.csv", 3),
        (2, "suppliers", "suppliers.csv", 3),
        (3, "catalogue", "sup-a.csv", 7),
    ]
    assert payload[2]["imported_by"] == "tester" and payload[2]["imported_at"].startswith("20")


# --------------------------------------------------------------------------- demand, profiles, db


@pytest.fixture
def with_usage(loaded, files):
    usage = files.csv(
        "rxa.csv",
        [
            ("Item Code", "Qty", "Unit Cost", "Date"),
            ("A-100", "10", "1000", "2026-04-01"),
            ("A-101", "20", "1100", "2026-09-01"),
        ],
    )
    loaded("import", "usage", usage, "--trust", "RXA")
    usage_b = files.csv(
        "rxb.csv",
        [
            ("Item Code", "Qty", "Unit Cost", "Date"),
            ("A-100", "12", "900", "2025-01-01"),
            ("A-100", "12", "900", "2025-12-01"),
        ],
    )
    loaded("import", "usage", usage_b, "--trust", "RXB")
    return loaded


@pytest.mark.parametrize("by", ["line", "group", "region"])
def test_demand_tables(with_usage, by):
    result = with_usage("demand", "--by", by)
    assert "Regional totals (annual)" in result.stdout
    assert "Region: 84 units, £85,600 a year" in result.stdout  # RXA 60 units (x2), RXB 24
    if by == "line":
        assert "SUP-A:HIP-STEM-CEM:EXETER" in result.stdout and "premium_pct" in result.stdout
        assert "£1,066.67" in result.stdout  # RXA's quantity-weighted price
    elif by == "group":
        assert "Demand per trust and group (annual)" in result.stdout
    else:
        assert "Demand per trust" not in result.stdout


@pytest.mark.parametrize("by", ["line", "group", "region"])
def test_demand_json(with_usage, by):
    payload = json.loads(with_usage("demand", "--by", by, "--json").stdout)
    assert payload["by"] == by
    assert sum(r["units_per_year"] for r in payload["rows"]) == pytest.approx(84.0)
    assert payload["regional"] == [
        {
            "category": "hip",
            "group": "HIP-STEM-CEM",
            "trusts": 2,
            "units_per_year": 84.0,
            "spend_per_year": 85600.0,
            "min_trust_price": 900.0,
            "max_trust_price": pytest.approx(1066.6667),
            "avg_unit_price": pytest.approx(85600 / 84),
        }
    ]
    if by == "line":
        rxa = next(r for r in payload["rows"] if r["trust"] == "RXA")
        # SKU by SKU: A-100 at 1000 vs the region's best 900, A-101 bought only by RXA.
        assert rxa["premium_pct"] == pytest.approx(100 * ((10 * 1000 + 20 * 1100) / (10 * 900 + 20 * 1100) - 1))
    only_b = json.loads(with_usage("demand", "--by", by, "--trust", "RXB", "--json").stdout)
    assert {r.get("trust", "RXB") for r in only_b["rows"]} == {"RXB"}


def test_demand_on_an_empty_database(procure):
    assert json.loads(procure("demand", "--json").stdout) == {"by": "group", "rows": [], "regional": []}
    assert "Regional totals (annual)" in procure("demand").stdout


def test_profiles(procure, files, monkeypatch, tmp_path):
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    files.profile("acme-pack", vat=True, extra='supplier = "SUP-A"\nsheet = "Prices"').rename(shipped / "a.toml")
    monkeypatch.setattr(catalogues.read, "PROFILES_DIR", shipped)
    result = procure("profiles")
    assert "acme-pack" in result.stdout and "SUP-A" in result.stdout
    assert json.loads(procure("profiles", "--json").stdout) == [
        {
            "name": "acme-pack",
            "description": "price list with a title block; prices per pack",
            "supplier": "SUP-A",
            "sheet": "Prices",
            "price_per": "pack",
            "includes_vat": True,
        }
    ]
    (shipped / "broken.toml").write_text("[columns\n", encoding="utf-8")
    broken = procure("profiles", expect=2)
    assert "broken.toml" in broken.output and "cannot be read as TOML" in broken.output
    assert "Internal error" not in broken.output


def test_profiles_recognised_without_the_option(
    procure, reference_files, files, catalogue_items, monkeypatch, tmp_path
):
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    files.profile("acme-pack").rename(shipped / "acme-pack.toml")
    monkeypatch.setattr(catalogues.read, "PROFILES_DIR", shipped)
    procure("import", "suppliers", reference_files["suppliers"])
    result = procure("import", "catalogue", files.catalogue("a.xlsx", catalogue_items["SUP-A"]), "--supplier", "SUP-A")
    assert "7 accepted" in result.stdout
    assert "note: layout recognised as profile 'acme-pack'" in result.stdout


def test_db_shows_revision_and_row_counts(loaded, db_url):
    from alembic.script import ScriptDirectory

    from procurement.db import alembic_config, make_engine

    head = ScriptDirectory.from_config(alembic_config(make_engine(db_url))).get_current_head()
    result = loaded("db")
    assert result.stdout.splitlines()[0] == f"{db_url} at revision {head}"
    payload = json.loads(loaded("db", "--json").stdout)
    assert payload["revision"] == head and payload["url"] == db_url
    assert {k: payload["rows"][k] for k in ("trust", "supplier", "catalogueitem", "productline", "dataimport")} == {
        "trust": 3,
        "supplier": 3,
        "catalogueitem": 7,
        "productline": 6,
        "dataimport": 3,
    }
    assert "alembic_version" not in payload["rows"]


def test_db_creates_a_new_database(tmp_path):
    url = f"sqlite:///{tmp_path}/new.db"
    assert CliRunner().invoke(main, ["--db", url, "db", "init"]).exit_code == 0
    result = CliRunner().invoke(main, ["--db", url, "db", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows"]["trust"] == 0
    assert (tmp_path / "new.db").exists()


# --------------------------------------------------------------------------- errors


def test_an_unknown_supplier_exits_3(loaded, files, catalogue_items, engine, snapshot):
    before = snapshot(engine)
    result = loaded(
        "import",
        "catalogue",
        files.catalogue("x.csv", catalogue_items["SUP-A"]),
        "--supplier",
        "SUP-X",
        "--profile",
        files.profile(),
        expect=3,
    )
    assert "Error: unknown supplier 'SUP-X' (known: SUP-A, SUP-B, SUP-C)" in result.stderr
    assert "procure import suppliers FILE" in result.stderr
    assert snapshot(engine) == before


def test_an_unknown_trust_exits_3(loaded, files, engine, snapshot):
    before = snapshot(engine)
    usage = files.csv("u.csv", [("Item Code", "Qty", "Unit Cost", "Date"), ("A-100", "1", "1", "2026-04-01")])
    result = loaded("import", "usage", usage, "--trust", "RZZ", expect=3)
    assert "unknown trust 'RZZ' (known: RXA, RXB, RXC)" in result.stderr
    assert snapshot(engine) == before


def test_an_unknown_profile_exits_3(loaded, files, catalogue_items):
    new_version = files.catalogue("x.csv", catalogue_items["SUP-A"][:3])
    result = loaded("import", "catalogue", new_version, "--supplier", "SUP-A", "--profile", "no-such-layout", expect=3)
    assert "unknown profile 'no-such-layout'" in result.stderr


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("garbage.csv", bytes(range(256)) * 16, "garbage.csv: binary data"),
        ("page.xlsx", b"<!DOCTYPE html><html></html>", "page.xlsx: cannot be opened as XLSX: an HTML page"),
        ("cut.xlsx", b"PK\x03\x04\x14\x00\x00\x00", "cut.xlsx: cannot be opened as XLSX: damaged"),
        ("wrong.csv", b"Name,Phone\nAnn,0161\n", "wrong.csv: profile 'test-pack' expects the column(s)"),
    ],
)
def test_an_unusable_catalogue_exits_2_naming_the_file(loaded, files, engine, snapshot, name, data, message):
    before = snapshot(engine)
    result = loaded(
        "import", "catalogue", files.raw(name, data), "--supplier", "SUP-A", "--profile", files.profile(), expect=2
    )
    assert result.stderr.startswith("Error: " + message)
    assert "nothing" in result.stderr.lower() or name in result.stderr
    assert snapshot(engine) == before


@pytest.mark.parametrize("kind", ["trusts", "suppliers", "contracts", "tiers", "ratings", "approvals"])
def test_an_unusable_table_exits_2_naming_the_file(procure, files, kind):
    result = procure("import", kind, files.csv("notes.csv", [("Note",), ("hello",)]), expect=2)
    assert result.stderr.startswith(f"Error: notes.csv: not a {kind} file: missing required column(s)")


def test_another_suppliers_file_is_refused(loaded, files, catalogue_items, engine, count):
    result = loaded(
        "import",
        "catalogue",
        files.catalogue("b.csv", catalogue_items["SUP-B"]),
        "--supplier",
        "SUP-A",
        "--profile",
        files.profile(),
        expect=2,
    )
    assert "b.csv: only 0% of its GTINs carry SUP-A's GS1 prefix 5012345" in result.stderr
    assert "Nothing was written" in result.stderr
    assert count(engine, "dataimport") == 3


def test_a_missing_file_gives_a_clear_message(procure, tmp_path):
    result = procure("import", "trusts", tmp_path / "trusts-2026.csv", expect=2)
    assert result.stderr.strip() == f"Error: {tmp_path / 'trusts-2026.csv'}: no such file"


def test_required_options_are_asked_for(procure, files):
    result = procure("import", "catalogue", files.raw("a.csv", b"x"), expect=2)
    assert "Missing option '--supplier'" in result.output
