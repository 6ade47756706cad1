"""Files imported for the wrong trust, or as the wrong kind of reference file, are refused unchanged."""

import pytest
from click.testing import CliRunner
from importer_checks import PREFIX_A

from cli import main
from procurement.errors import InputFileError
from procurement.importers import import_usage


def g_a(n):
    from stdnum import ean

    body = f"{PREFIX_A}{n:05d}"
    return body + ean.calc_check_digit(body)


def invoke(db_url, *args):
    return CliRunner().invoke(main, ["--db", db_url, *map(str, args)])


def test_the_same_usage_file_for_another_trust_is_refused_naming_both(catalogues, files, db_url, snapshot):
    path = files.csv("rxa.csv", [("GTIN", "Qty", "Unit Cost", "Date"), (g_a(100), "4", "1000", "2026-04-03")])
    import_usage(catalogues, path, trust="RXA")
    before = snapshot(catalogues)
    result = invoke(db_url, "import", "usage", path, "--trust", "RXB")
    assert result.exit_code == 2
    assert "already imported as RXA's usage (import #5), so it cannot also be RXB's" in result.output
    assert snapshot(catalogues) == before


def test_a_trust_column_naming_another_trust_is_refused(catalogues, files, snapshot):
    path = files.csv(
        "u.csv", [("Trust Code", "GTIN", "Qty", "Unit Cost", "Date"), ("RXA", g_a(100), "4", "1000", "2026-04-03")]
    )
    before = snapshot(catalogues)
    with pytest.raises(InputFileError, match=r"its trust column says RXA \(1 rows\), not RXB"):
        import_usage(catalogues, path, trust="RXB")
    assert snapshot(catalogues) == before


def test_an_item_mix_like_another_trusts_history_is_refused_unless_confirmed(catalogues, files, snapshot):
    header = ("GTIN", "Qty", "Unit Cost", "Date")
    # RXA buys stems; RXB buys inserts. 24 rows each.
    rxa = [(g_a(100 + i % 2), "2", "1000", f"2026-04-{1 + i:02d}") for i in range(24)]
    rxb = [(g_a(300), "3", "310.50", f"2026-04-{1 + i:02d}") for i in range(24)]
    import_usage(catalogues, files.csv("rxa.csv", [header, *rxa]), trust="RXA")
    import_usage(catalogues, files.csv("rxb.csv", [header, *rxb]), trust="RXB")
    # RXA's next quarter, sent under RXB: different rows, RXA's mix.
    later = [(g_a(100 + i % 2), "1", "995", f"2026-07-{1 + i:02d}") for i in range(24)]
    path = files.csv("next.csv", [header, *later])
    before = snapshot(catalogues)
    with pytest.raises(InputFileError, match=r"its item mix looks like RXA's usage, not RXB's"):
        import_usage(catalogues, path, trust="RXB")
    assert snapshot(catalogues) == before
    assert import_usage(catalogues, path, trust="RXB", confirm_trust=True).rows_accepted == 24


def test_order_lines_held_by_another_trust_are_refused_naming_its_imports(catalogues, files, snapshot):
    header = ("GTIN", "Qty", "Unit Cost", "Date")
    # RXA's April and May, one file each (a file replaces only the months it spans).
    rxa = [(g_a(100 + i % 2), str(1 + i % 4), "1000", f"2026-0{4 + i // 12}-{1 + i % 12:02d}") for i in range(24)]
    import_usage(catalogues, files.csv("rxa-1.csv", [header, *rxa[:12]]), trust="RXA")
    import_usage(catalogues, files.csv("rxa-2.csv", [header, *rxa[12:]]), trust="RXA")
    # The same order lines in another file (other bytes: rows reversed), sent under RXB.
    path = files.csv("both.csv", [header, *rxa[::-1]])
    before = snapshot(catalogues)
    with pytest.raises(InputFileError, match=r"100% of its rows .* already stored as RXA's usage \(import #5, #6\)"):
        import_usage(catalogues, path, trust="RXB", confirm_trust=True)
    assert snapshot(catalogues) == before
    # A few shared lines (5 of 24, one a penny off its stored price) are no evidence.
    mine = [(g_a(300), "3", "310.50", f"2026-06-{1 + i:02d}") for i in range(19)]
    shared = [*rxa[:4], (rxa[4][0], rxa[4][1], "1000.01", rxa[4][3])]
    report = import_usage(catalogues, files.csv("rxb.csv", [header, *mine, *shared]), trust="RXB", confirm_trust=True)
    assert report.rows_accepted == 24


def test_a_suppliers_file_imported_as_trusts_is_refused(region, files, reference_files, db_url, snapshot):
    before = snapshot(region)
    result = invoke(db_url, "import", "trusts", reference_files["suppliers"])
    assert result.exit_code == 2
    assert "looks like a suppliers file (column(s) gs1_prefix)" in result.output
    assert "procure import suppliers suppliers.csv" in result.output
    assert snapshot(region) == before
    # No telling column, but the codes are the existing supplier codes.
    plain = files.csv("list.csv", [("code", "name"), ("SUP-A", "Alpha"), ("SUP-B", "Beta")])
    result = invoke(db_url, "import", "trusts", plain)
    assert result.exit_code == 2 and "2 of its 2 codes are existing suppliers codes" in result.output
    result = invoke(db_url, "import", "suppliers", reference_files["trusts"])
    assert result.exit_code == 2 and "looks like a trusts file" in result.output
    assert snapshot(region) == before


def test_a_read_command_refuses_a_missing_sqlite_file_and_creates_nothing(tmp_path):
    url = f"sqlite:///{tmp_path}/procuer.db"
    for command in (["demand"], ["imports"], ["approvals"], ["db"]):
        result = invoke(url, *command)
        assert result.exit_code == 1, result.output
        assert "no database at" in result.output and "db init" in result.output
    assert not (tmp_path / "procuer.db").exists()
    assert invoke(url, "db", "init").exit_code == 0 and (tmp_path / "procuer.db").exists()


def test_configuration_errors_exit_1_not_internal_error(tmp_path):
    (tmp_path / "notes.db").write_text("not a database")
    for url, message in (
        (f"sqlite:///{tmp_path}/notes.db", "cannot be used as a procure database"),
        ("nonsense", "is not a database URL"),
        ("foo://x/y", "unknown kind of database"),
        ("postgresql+nosuchdriver://u@h/db", "unknown kind of database"),
    ):
        result = invoke(url, "imports")
        assert result.exit_code == 1, (url, result.output)
        assert message in result.output and "Internal error" not in result.output
