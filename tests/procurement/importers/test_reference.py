"""Trusts and suppliers: added, then updated by code; bad rows named."""

import pytest
from importer_checks import PREFIX_A, PREFIX_B, assert_counts_add_up, refused_without_writing, stored_rejects

from procurement.errors import InputFileError
from procurement.importers import import_suppliers, import_trusts


def test_trusts_and_suppliers_are_added_then_updated(region, files, rows):
    assert rows(region, "SELECT code, name, region FROM trust ORDER BY code") == [
        {"code": "RXA", "name": "Alpha Hospitals NHS Foundation Trust", "region": "North West"},
        {"code": "RXB", "name": "Beta Teaching Hospitals NHS Trust", "region": "North West"},
        {"code": "RXC", "name": "Gamma and District NHS Trust", "region": "North West"},
    ]
    assert rows(region, "SELECT code, gs1_prefix FROM supplier ORDER BY code") == [
        {"code": "SUP-A", "gs1_prefix": PREFIX_A},
        {"code": "SUP-B", "gs1_prefix": PREFIX_B},
        {"code": "SUP-C", "gs1_prefix": None},
    ]
    renamed = files.csv(
        "trusts-2.csv", [("code", "name"), ("rxb", "Beta University Hospitals"), ("RXD", "Delta Community Trust")]
    )
    report = import_trusts(region, renamed)
    assert (report.rows_read, report.rows_accepted, report.rows_rejected, report.new_items) == (2, 2, 0, 1)
    assert report.notes == ["1 new, 1 updated (of 3 known before)"]
    # The file has no region column: RXB keeps its region, the new trust has none.
    assert rows(region, "SELECT code, name, region FROM trust WHERE code IN ('RXB', 'RXD') ORDER BY code") == [
        {"code": "RXB", "name": "Beta University Hospitals", "region": "North West"},
        {"code": "RXD", "name": "Delta Community Trust", "region": ""},
    ]


def test_a_supplier_list_without_prefixes_keeps_the_prefixes_on_record(region, files, rows):
    import_suppliers(region, files.csv("suppliers-2.csv", [("code", "name"), ("SUP-A", "Alpha Ortho plc")]))
    assert rows(region, "SELECT code, name, gs1_prefix FROM supplier WHERE code = 'SUP-A'") == [
        {"code": "SUP-A", "name": "Alpha Ortho plc", "gs1_prefix": PREFIX_A}
    ]
    # A prefix column with a new value does update it.
    import_suppliers(region, files.csv("suppliers-3.csv", [("code", "name", "gs1_prefix"), ("SUP-A", "A", "501234")]))
    assert rows(region, "SELECT gs1_prefix FROM supplier WHERE code = 'SUP-A'") == [{"gs1_prefix": "501234"}]


def test_reference_rows_are_rejected_with_row_column_value_and_reason(engine, files, rows, count):
    path = files.csv(
        "trusts.csv",
        [
            ("Trust Code", "Trust Name", "Region"),
            ("RXA", "Alpha", "NW"),
            ("R X B", "Beta", "NW"),
            ("RXC", "", "NW"),
            ("RXD", "Delta", "NW"),
            ("RXD", "Delta again", "NW"),
            ("", "No code", "NW"),
        ],
    )
    report = import_trusts(engine, path)
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (6, 1, 5)
    assert stored_rejects(rows, engine, report.import_id) == [
        (3, "Trust Code", "R X B", "code must be letters, digits, '-', '_' or '.' (at most 32)"),
        (4, "Trust Name", "", "missing name"),
        (5, "Trust Code", "RXD", "code appears more than once in the file"),
        (6, "Trust Code", "RXD", "code appears more than once in the file"),
        (7, "Trust Code", "", "missing code"),
    ]
    assert report.rejects.values.tolist() == [list(r) for r in stored_rejects(rows, engine, report.import_id)]
    raw = rows(engine, "SELECT raw FROM rejectedrow WHERE row_number = 3")[0]["raw"]
    assert "R X B" in raw and "Beta" in raw
    assert count(engine, "trust") == 1
    assert_counts_add_up(report, rows, engine)


def test_supplier_gs1_prefix_must_be_digits(engine, files, rows):
    path = files.csv(
        "suppliers.csv", [("Supplier Code", "Supplier Name", "GS1"), ("SUP-A", "A", "50-12345"), ("SUP-B", "B", "")]
    )
    report = import_suppliers(engine, path)
    assert stored_rejects(rows, engine, report.import_id) == [
        (2, "GS1", "50-12345", "GS1 company prefix must be 6 to 12 digits")
    ]
    assert rows(engine, "SELECT code, gs1_prefix FROM supplier") == [{"code": "SUP-B", "gs1_prefix": None}]


def test_reimporting_an_identical_reference_file_writes_nothing(region, reference_files, snapshot):
    before = snapshot(region)
    report = import_trusts(region, reference_files["trusts"])
    assert report.duplicate_of == 1 and report.import_id is None
    assert report.notes == ["identical file already imported as import #1; nothing written"]
    assert snapshot(region) == before


@pytest.mark.parametrize("importer", [import_trusts, import_suppliers])
def test_an_unusable_reference_file_changes_nothing(region, files, snapshot, importer):
    wrong = files.csv("contacts.csv", [("Contact", "Phone"), ("Ann", "0161")])
    error = refused_without_writing(
        lambda: importer(region, wrong),
        region,
        snapshot,
        InputFileError,
        r"contacts\.csv: not a (trusts|suppliers) file: missing required column",
    )
    assert error.exit_code == 2
