"""Several usage files at once (import_usage_files): the same rows as one by one, the same refusals."""

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from importer_checks import PREFIX_A
from sqlmodel import Session

from catalogues.normalise import clean_text
from procurement.errors import InputFileError
from procurement.importers import UsageFile, import_catalogue, import_usage, import_usage_files, usage
from procurement.importers.identity import other_trusts_named
from tests.conftest import make_gtin

HEADER = ("GTIN", "Item Code", "Supplier", "Qty", "Unit Cost", "Order Date")


def contents(engine, snapshot) -> dict[str, list[tuple]]:
    """Every table's rows, the imports' and reverts' times left out (they differ between two runs)."""
    tables = snapshot(engine)
    tables["dataimport"] = [row[:8] + row[9:] for row in tables["dataimport"]]
    return tables


def usage_files(files) -> list[UsageFile]:
    """RXA's April and May (a rejected row or two), RXB's, RXA's corrected April (replaces it),
    the same correction again (a duplicate), RXC's May by item codes, RXB's June."""

    def month(m: int, n: int, gtins: list[str], price: str = "1000") -> list[tuple]:
        return [
            (gtins[i % len(gtins)], "", "", str(1 + i % 3), price, f"2026-{m:02d}-{1 + i % 28:02d}") for i in range(n)
        ]

    a = [make_gtin(PREFIX_A, n) for n in (100, 101, 200)]
    rxa = [
        *month(4, 30, a),
        *month(5, 25, a[:2]),
        ("", "A-999", "", "1", "10", "2026-05-02"),
        (a[0], "", "", "x", "1", "2026-05-03"),
    ]
    corrected = month(4, 22, a[1:], "990")
    rxc = [("", "A-300", "", "2", "310.50", f"2026-05-{1 + i:02d}") for i in range(21)] + [
        ("", "12-345", "", "1", "400", "2026-05-09")
    ]
    return [
        UsageFile(files.csv("rxa.csv", [HEADER, *rxa]), "RXA"),
        UsageFile(files.csv("rxb.csv", [HEADER, *month(4, 24, a[::-1], "1001")]), "RXB"),
        UsageFile(files.csv("rxa-april.csv", [HEADER, *corrected]), "RXA"),
        UsageFile(files.csv("rxa-april-again.csv", [HEADER, *corrected]), "RXA"),
        UsageFile(files.csv("rxc.csv", [HEADER, *rxc]), "RXC"),
        UsageFile(files.csv("rxb-june.csv", [HEADER, *month(6, 20, a[:1], "1001")]), "RXB"),
    ]


def two_databases(templates, tmp_path, files_to_import):
    """Two copies of the ``catalogues`` database, the first with the files imported one by one:
    (it, the other, the one-by-one reports as dicts)."""
    (tmp_path / "one").mkdir()
    (tmp_path / "together").mkdir()
    one_by_one = templates.open("catalogues", tmp_path / "one")
    together = templates.open("catalogues", tmp_path / "together")
    expected = [import_usage(one_by_one, f.path, trust=f.trust).to_dict() for f in files_to_import]
    return one_by_one, together, expected


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_several_usage_files_at_once_store_what_importing_them_one_by_one_stores(
    templates, tmp_path, files, workers, snapshot
):
    listed = usage_files(files)
    one_by_one, together, expected = two_databases(templates, tmp_path, listed)
    reports = import_usage_files(together, listed, workers=workers)
    assert [r.to_dict() for r in reports] == expected
    # The set exercises what a file can do: rejected rows, a replacement, a duplicate, codes.
    assert [e["rows_rejected"] for e in expected] == [2, 0, 0, 0, 1, 0]
    assert any("replaced 30 earlier usage rows of RXA" in note for note in expected[2]["notes"])
    assert expected[3]["duplicate_of"] == expected[2]["import_id"]
    assert expected[4]["rows_accepted"] == 21
    assert contents(together, snapshot) == contents(one_by_one, snapshot)
    one_by_one.dispose()
    together.dispose()


def test_a_file_of_another_trust_stops_the_run_as_import_usage_refuses_it(catalogues, files, rows):
    listed = usage_files(files)
    stolen = UsageFile(listed[0].path, "RXB")  # RXA's file, sent again as RXB's
    with pytest.raises(InputFileError, match=r"rxa\.csv: this exact file is already imported as RXA's usage"):
        import_usage_files(catalogues, [listed[0], listed[1], stolen, listed[4]], workers=1)
    imported = rows(catalogues, "SELECT file_name FROM dataimport WHERE kind = 'usage' ORDER BY id")
    assert [r["file_name"] for r in imported] == ["rxa.csv", "rxb.csv"]  # the ones before it stay


def test_items_read_ahead_are_matched_again_when_a_catalogue_arrived_since(catalogues, files, profile):
    with Session(catalogues) as session:
        items = usage._Items.every(session)  # what a worker matches with
    # RXC's rows name A-700, in no catalogue yet; SUP-A's next catalogue adds it before the import.
    new_code = files.csv("rxc.csv", [HEADER, *[("", "A-700", "", "1", "75", f"2026-05-{1 + i:02d}") for i in range(3)]])
    prepared = usage._prepare(UsageFile(new_code, "RXC"), items)
    assert prepared.rows is not None and prepared.rows.n == 0  # unknown when read ahead
    catalogue = [("A-700", make_gtin(PREFIX_A, 700), "Cortical screw 3.5 x 30", "LCP", "30mm", "1", "75.00")]
    import_catalogue(catalogues, files.catalogue("sup-a-2.csv", catalogue), supplier="SUP-A", profile=profile)
    report = usage._UsageImport(trust="RXC", user=None, prepared=prepared).run(catalogues, new_code)
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (3, 3, 0)


def test_a_file_changed_after_it_was_read_ahead_is_read_again(catalogues, files):
    path = usage_files(files)[1].path
    with Session(catalogues) as session:
        prepared = usage._prepare(UsageFile(path, "RXB"), usage._Items.every(session))
    prepared.sha256 = "0" * 64  # as if the file had changed since
    assert prepared.rows is not None
    prepared.rows.item_id.clear()  # were it used, nothing would be stored
    report = usage._UsageImport(trust="RXB", user=None, prepared=prepared).run(catalogues, path)
    assert (report.rows_read, report.rows_accepted) == (24, 24)


@given(st.lists(st.sampled_from(["RXA", "rxb", " RXB ", "RXC", "", "r\u00a0xc", "RXD", "RXA "]), max_size=30))
def test_the_trust_column_is_counted_as_clean_text_reads_it(codes):
    column = pd.Series(codes, dtype=object)
    cleaned = clean_text(column).str.upper()
    expected = cleaned[(cleaned != "") & (cleaned != "RXA")].value_counts()
    counted = other_trusts_named(column, "RXA")
    assert list(counted.items()) == [(str(code), int(n)) for code, n in expected.items()]
