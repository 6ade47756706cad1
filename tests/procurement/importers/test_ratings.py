"""ODEP ratings per product line or SKU."""

import pandas as pd
import pytest
from importer_checks import assert_counts_add_up, stored_rejects

from procurement.importers import import_ratings
from procurement.ratings import odep_rank, parse_odep


def test_odep_labels_parse_and_rank():
    parsed = parse_odep(pd.Series(["10A*", "10a", " 7A ", "3B", "Pre-entry", "PRE ENTRY", "11A", "10C", "", "A10"]))
    assert parsed["rating"].tolist()[:6] == ["10A*", "10A", "7A", "3B", "Pre-entry", "Pre-entry"]
    assert parsed["years"].tolist()[:6] == [10, 10, 7, 3, 0, 0]
    assert parsed["strength"].tolist()[:6] == ["A*", "A", "A", "B", "", ""]
    assert (parsed["error"] == "").tolist() == [True] * 6 + [False] * 4
    assert (
        odep_rank("10A*")
        > odep_rank("10A")
        > odep_rank("7A")
        > odep_rank("5B")
        > odep_rank("3A")
        > odep_rank("3B")
        > odep_rank("Pre-entry")
        == 0
    )
    assert odep_rank("13A") > odep_rank("10A*")
    with pytest.raises(ValueError, match="'11A' not understood"):
        odep_rank("11A")


def test_ratings(catalogues, files, rows):
    path = files.csv(
        "odep.csv",
        [
            ("Supplier", "Brand", "Group", "Item Code", "ODEP Rating"),
            ("SUP-A", "Exeter", "", "", "10A*"),
            ("SUP-A", "corail", "HIP-STEM-UNC", "", "10A"),
            ("SUP-A", "Attune", "", "A-300", "7A"),
            ("SUP-B", "Vanguard", "", "", "3B"),  # two lines: insert and tray
            ("SUP-B", "CPT", "", "", "11A"),
            ("SUP-B", "NoSuchBrand", "", "", "10A"),
            ("SUP-A", "Exeter", "", "A-999", "10A"),
            ("SUP-A", "Exeter", "KNEE-TRAY", "", "10A"),
            ("SUP-Q", "Exeter", "", "", "10A"),
        ],
    )
    report = import_ratings(catalogues, path)
    assert stored_rejects(rows, catalogues, report.import_id) == [
        (
            6,
            "ODEP Rating",
            "11A",
            "ODEP rating not understood (e.g. 10A*, 10A, 7A, 5B, 3A or Pre-entry; years 3,5,7,10,13,15)",
        ),
        (7, "Brand", "NoSuchBrand", "no product line of this supplier and brand (import its catalogue first)"),
        (8, "Item Code", "A-999", "no SKU with this code in the named product line"),
        (9, "Brand", "Exeter", "no product line of this supplier and brand (import its catalogue first)"),
        (10, "Supplier", "SUP-Q", "unknown supplier code"),
    ]
    assert_counts_add_up(report, rows, catalogues)
    stored = rows(
        catalogues,
        "SELECT p.code AS line, i.supplier_code AS item, r.rating, r.years, r.strength, r.rank, r.scheme "
        "FROM clinicalrating r JOIN productline p ON p.id = r.product_line_id "
        "LEFT JOIN catalogueitem i ON i.id = r.item_id ORDER BY r.rank DESC, p.code",
    )
    assert stored == [
        {
            "line": "SUP-A:HIP-STEM-CEM:EXETER",
            "item": None,
            "rating": "10A*",
            "years": 10,
            "strength": "A*",
            "rank": 103,
            "scheme": "ODEP",
        },
        {
            "line": "SUP-A:HIP-STEM-UNC:CORAIL",
            "item": None,
            "rating": "10A",
            "years": 10,
            "strength": "A",
            "rank": 102,
            "scheme": "ODEP",
        },
        {
            "line": "SUP-A:KNEE-INSERT-PS:ATTUNE",
            "item": "A-300",
            "rating": "7A",
            "years": 7,
            "strength": "A",
            "rank": 72,
            "scheme": "ODEP",
        },
        {
            "line": "SUP-B:KNEE-INSERT-PS:VANGUARD",
            "item": None,
            "rating": "3B",
            "years": 3,
            "strength": "B",
            "rank": 31,
            "scheme": "ODEP",
        },
        {
            "line": "SUP-B:KNEE-TRAY:VANGUARD",
            "item": None,
            "rating": "3B",
            "years": 3,
            "strength": "B",
            "rank": 31,
            "scheme": "ODEP",
        },
    ]
    # A new rating replaces the line's earlier one.
    import_ratings(catalogues, files.csv("odep-2.csv", [("supplier", "brand", "rating"), ("SUP-A", "Exeter", "13A")]))
    assert rows(
        catalogues,
        "SELECT r.rating FROM clinicalrating r JOIN productline p ON p.id = r.product_line_id "
        "WHERE p.code = 'SUP-A:HIP-STEM-CEM:EXETER'",
    ) == [{"rating": "13A"}]
