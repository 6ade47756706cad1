"""Tier offers: one problem rejects the whole offer; a file replaces its suppliers' offers."""

import pytest
from importer_checks import TIER_HEADER, assert_counts_add_up, stored_rejects

from procurement.importers import import_tiers


def test_tiers(catalogues, files, rows):
    path = files.csv(
        "tiers.csv",
        [
            ("supplier", "offer", "scope", "basis", "threshold", "discount_pct"),
            ("SUP-A", "A-HIP-VOL", "hip", "units", "500", "2"),
            ("SUP-A", "A-HIP-VOL", "hip", "units", "1,000", "4.5"),
            ("SUP-A", "A-HIP-VOL", "hip", "units", "2000", "6"),
            ("SUP-A", "A-STEM-SPEND", "HIP-STEM-CEM", "spend", "£250,000", "3"),
            ("SUP-B", "B-KNEE", "knee", "units", "300", "5"),
            ("SUP-B", "B-KNEE", "knee", "units", "600", "4"),  # discount falls: the whole offer goes
            ("SUP-B", "B-KNEE", "knee", "units", "900", "8"),
            ("SUP-B", "B-BAD", "spinal", "units", "100", "1"),
        ],
    )
    report = import_tiers(catalogues, path)
    reason = "offer rejected: discount falls as the threshold rises (tiers must increase)"
    assert stored_rejects(rows, catalogues, report.import_id) == [
        (6, "offer", "B-KNEE", reason),
        (7, "offer", "B-KNEE", reason),
        (8, "offer", "B-KNEE", reason),
        (9, "scope", "spinal", "scope is neither a category nor a group code"),
    ]
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (8, 4, 4)
    stored = rows(
        catalogues,
        "SELECT s.code AS supplier, v.offer_code, c.code AS category, g.code AS grp, v.basis, v.threshold, "
        "v.discount_pct FROM volumetier v JOIN supplier s ON s.id = v.supplier_id "
        "LEFT JOIN category c ON c.id = v.category_id LEFT JOIN equivalencegroup g ON g.id = v.group_id "
        "ORDER BY v.offer_code, v.threshold",
    )
    assert stored == [
        {
            "supplier": "SUP-A",
            "offer_code": "A-HIP-VOL",
            "category": "hip",
            "grp": None,
            "basis": "units",
            "threshold": 500.0,
            "discount_pct": 2.0,
        },
        {
            "supplier": "SUP-A",
            "offer_code": "A-HIP-VOL",
            "category": "hip",
            "grp": None,
            "basis": "units",
            "threshold": 1000.0,
            "discount_pct": 4.5,
        },
        {
            "supplier": "SUP-A",
            "offer_code": "A-HIP-VOL",
            "category": "hip",
            "grp": None,
            "basis": "units",
            "threshold": 2000.0,
            "discount_pct": 6.0,
        },
        {
            "supplier": "SUP-A",
            "offer_code": "A-STEM-SPEND",
            "category": None,
            "grp": "HIP-STEM-CEM",
            "basis": "spend",
            "threshold": 250000.0,
            "discount_pct": 3.0,
        },
    ]


@pytest.mark.parametrize(
    ("bad_row", "column", "reason"),
    [
        (
            ("SUP-B", "B-KNEE", "knee", "units", "300", "7"),
            "offer",
            "offer rejected: two tiers of the offer have the same threshold",
        ),
        (
            ("SUP-B", "B-KNEE", "knee", "spend", "600", "7"),
            "offer",
            "offer rejected: tiers of one offer must share scope and basis",
        ),
        (("SUP-B", "B-KNEE", "knee", "boxes", "600", "7"), "basis", 'basis must be "units" or "spend"'),
        (("SUP-B", "B-KNEE", "knee", "units", "600", "100"), "discount_pct", "implausible discount (over 99.99)"),
    ],
)
def test_a_bad_tier_rejects_its_whole_offer(catalogues, files, rows, count, bad_row, column, reason):
    path = files.csv(
        "tiers.csv",
        [
            TIER_HEADER,
            ("SUP-B", "B-KNEE", "knee", "units", "300", "5"),
            bad_row,
            ("SUP-B", "B-KNEE", "knee", "units", "900", "8"),
        ],
    )
    report = import_tiers(catalogues, path)
    assert count(catalogues, "volumetier") == 0
    assert report.rows_accepted == 0 and report.rows_rejected == 3
    rejects = stored_rejects(rows, catalogues, report.import_id)
    assert (
        3,
        {"offer": "Offer", "basis": "Basis", "discount_pct": "Discount %"}[column],
        bad_row[{"offer": 1, "basis": 3, "discount_pct": 5}[column]],
        reason,
    ) in rejects
    assert {r[0] for r in rejects} == {2, 3, 4}
    assert_counts_add_up(report, rows, catalogues)


def test_tiers_replace_the_listed_suppliers_offers(catalogues, files, rows):
    import_tiers(
        catalogues,
        files.csv(
            "t1.csv",
            [TIER_HEADER, ("SUP-A", "OLD", "hip", "units", "10", "1"), ("SUP-B", "KEEP", "knee", "units", "10", "1")],
        ),
    )
    import_tiers(catalogues, files.csv("t2.csv", [TIER_HEADER, ("SUP-A", "NEW", "hip", "units", "20", "2")]))
    assert rows(catalogues, "SELECT offer_code FROM volumetier ORDER BY offer_code") == [
        {"offer_code": "KEEP"},
        {"offer_code": "NEW"},
    ]
