"""Usage: matched to SKUs by GTIN or code; a re-import replaces the months it spans."""

from importer_checks import PREFIX_A, assert_counts_add_up, refused_without_writing, stored_rejects

from procurement.errors import InputFileError, UnknownReferenceError
from procurement.importers import import_usage

USAGE_HEADER = ("GTIN", "Item Code", "Supplier", "Qty", "Unit Cost", "Order Date")


def g_a(n):
    from stdnum import ean

    body = f"{PREFIX_A}{n:05d}"
    return body + ean.calc_check_digit(body)


def test_usage_matched_by_gtin_and_by_code(catalogues, files, rows):
    path = files.csv(
        "rxa-usage.csv",
        [
            ("Theatre usage export, Alpha Hospitals",),
            USAGE_HEADER,
            (g_a(100), "", "", "4", "£1,010.00", "03/04/2026"),  # by GTIN (13 digits)
            ("0" + g_a(200), "", "", "2", "940", "2026-04-15"),  # by GTIN-14
            ("", "A-300", "", "10", "305.00", "1 May 2026"),  # code used by one supplier only
            ("", "12-345", "SUP-B", "1", "910.00", "2026-05-20"),  # shared code, supplier resolves
            ("", "12-345", "", "1", "410.00", "2026-05-21"),  # shared code, no supplier: ambiguous
            ("", "ZZ-999", "", "1", "10.00", "2026-05-22"),
            (g_a(999), "", "", "1", "10.00", "2026-05-23"),  # valid GTIN, not in any catalogue
            ("", "A-100", "", "-1", "1000.00", "2026-05-24"),  # a credit line
            ("", "A-100", "", "1", "1000.00", "31/02/2026"),
            ("", "", "", "1", "1000.00", "2026-05-25"),
            ("", "A-100", "SUP-Q", "1", "1000.00", "2026-05-26"),
        ],
    )
    report = import_usage(catalogues, path, trust="RXA")
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (11, 4, 7)
    assert stored_rejects(rows, catalogues, report.import_id) == [
        (7, "Item Code", "12-345", "item code used by more than one supplier: add a supplier column"),
        (8, "Item Code", "ZZ-999", "unknown item: code not in any imported catalogue"),
        (9, "GTIN", g_a(999), "unknown item: GTIN not in any imported catalogue"),
        (10, "Qty", "-1", "quantity must be positive"),
        (11, "Order Date", "31/02/2026", "date not understood (use YYYY-MM-DD or DD/MM/YYYY)"),
        (12, "Item Code", "", "missing item code or GTIN"),
        (13, "Supplier", "SUP-Q", "unknown supplier code"),
    ]
    assert_counts_add_up(report, rows, catalogues)
    stored = rows(
        catalogues,
        "SELECT s.code AS supplier, i.supplier_code, u.period, u.quantity, u.unit_price_paid, u.source_row, "
        "t.code AS trust FROM usage u JOIN catalogueitem i ON i.id = u.item_id "
        "JOIN supplier s ON s.id = i.supplier_id JOIN trust t ON t.id = u.trust_id ORDER BY u.source_row",
    )
    assert stored == [
        {
            "supplier": "SUP-A",
            "supplier_code": "A-100",
            "period": "2026-04-03",
            "quantity": 4.0,
            "unit_price_paid": 1010.0,
            "source_row": 3,
            "trust": "RXA",
        },
        {
            "supplier": "SUP-A",
            "supplier_code": "A-200",
            "period": "2026-04-15",
            "quantity": 2.0,
            "unit_price_paid": 940.0,
            "source_row": 4,
            "trust": "RXA",
        },
        {
            "supplier": "SUP-A",
            "supplier_code": "A-300",
            "period": "2026-05-01",
            "quantity": 10.0,
            "unit_price_paid": 305.0,
            "source_row": 5,
            "trust": "RXA",
        },
        {
            "supplier": "SUP-B",
            "supplier_code": "12-345",
            "period": "2026-05-20",
            "quantity": 1.0,
            "unit_price_paid": 910.0,
            "source_row": 6,
            "trust": "RXA",
        },
    ]


def test_usage_with_supplier_code_and_item_code_columns(catalogues, files, rows):
    """docs/formats.md: ``supplier_code`` is the supplier when an item code column is given."""
    path = files.csv(
        "rxb.csv",
        [
            ("Supplier Code", "Item Code", "Quantity", "Price Paid", "Month"),
            ("SUP-A", "12-345", "3", "395.00", "Apr-26"),
            ("SUP-B", "12-345", "2", "900.00", "Apr-26"),
        ],
    )
    report = import_usage(catalogues, path, trust="RXB")
    assert (report.rows_accepted, report.rows_rejected) == (2, 0)
    assert rows(
        catalogues,
        "SELECT s.code, u.quantity FROM usage u JOIN catalogueitem i ON i.id = u.item_id "
        "JOIN supplier s ON s.id = i.supplier_id ORDER BY s.code",
    ) == [{"code": "SUP-A", "quantity": 3.0}, {"code": "SUP-B", "quantity": 2.0}]


def test_usage_reimport_for_the_same_months_replaces_instead_of_double_counting(catalogues, files, rows, snapshot):
    first = files.csv(
        "rxa-q1.csv",
        [
            ("GTIN", "Qty", "Unit Cost", "Date"),
            (g_a(100), "4", "1000", "2026-04-03"),
            (g_a(100), "2", "1000", "2026-05-03"),
        ],
    )
    report = import_usage(catalogues, first, trust="RXA")
    assert report.rows_accepted == 2
    corrected = files.csv(
        "rxa-q1-corrected.csv",
        [
            ("GTIN", "Qty", "Unit Cost", "Date"),
            (g_a(100), "5", "1000", "2026-04-03"),
            (g_a(100), "2", "1000", "2026-05-28"),
        ],
    )
    report = import_usage(catalogues, corrected, trust="RXA")
    assert report.notes == ["replaced 2 earlier usage rows of RXA from 2026-04-01 to 2026-05-31"]
    assert rows(catalogues, "SELECT SUM(quantity) AS units, COUNT(*) AS n FROM usage") == [{"units": 7.0, "n": 2}]
    # Another trust's usage of the same months is untouched; an identical file is a duplicate.
    rxb = files.csv(
        "rxb-q1.csv",
        [
            ("GTIN", "Qty", "Unit Cost", "Date"),
            (g_a(100), "3", "990", "2026-04-07"),
            (g_a(100), "3", "990", "2026-05-09"),
        ],
    )
    import_usage(catalogues, rxb, trust="RXB")
    before = snapshot(catalogues)
    assert import_usage(catalogues, rxb, trust="RXB").duplicate_of is not None
    assert snapshot(catalogues) == before
    assert rows(
        catalogues,
        "SELECT t.code, SUM(u.quantity) AS units FROM usage u JOIN trust t ON t.id = u.trust_id "
        "GROUP BY t.code ORDER BY t.code",
    ) == [{"code": "RXA", "units": 7.0}, {"code": "RXB", "units": 6.0}]


def test_usage_for_an_unknown_trust_changes_nothing(catalogues, files, snapshot):
    path = files.csv("u.csv", [("GTIN", "Qty", "Unit Cost", "Date"), (g_a(100), "1", "1000", "2026-04-03")])
    error = refused_without_writing(
        lambda: import_usage(catalogues, path, trust="RZZ"),
        catalogues,
        snapshot,
        UnknownReferenceError,
        r"unknown trust 'RZZ' \(known: RXA, RXB, RXC\)",
    )
    assert error.exit_code == 3


def test_usage_without_item_columns_is_refused(catalogues, files, snapshot):
    path = files.csv("u.csv", [("Description", "Qty", "Unit Cost", "Date"), ("stem", "1", "1000", "2026-04-03")])
    refused_without_writing(
        lambda: import_usage(catalogues, path, trust="RXA"),
        catalogues,
        snapshot,
        InputFileError,
        r"u\.csv: not a usage file: missing required column\(s\) one of "
        r"gtin/item_code",
    )
