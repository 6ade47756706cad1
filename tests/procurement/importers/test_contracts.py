"""The contracts register: parsed, checked, replacing the listed trusts' contracts."""

from importer_checks import stored_rejects

from procurement.importers import import_contracts

CONTRACT_HEADER = (
    "Trust",
    "Supplier",
    "Category",
    "Reference",
    "Start Date",
    "End Date",
    "Notice Months",
    "Exit Fee",
    "Extension Months",
    "Extension Uplift Pct",
)


def test_contracts(catalogues, files, rows):
    path = files.csv(
        "contracts.csv",
        [
            CONTRACT_HEADER,
            ("RXA", "SUP-A", "hip", "RXA/HIP/21", "01/04/2023", "31/03/2027", "3", "£25,000", "12", "3.5"),
            ("RXA", "SUP-B", "Knee", "RXA/KNEE/22", "2024-01-01", "2026-12-31", "", "", "", ""),
            ("RXB", "SUP-A", "trauma", "", "2025-04-01", "2024-03-31", "0", "0", "0", "0"),
            ("RXQ", "SUP-A", "hip", "", "2025-04-01", "2027-03-31", "0", "0", "0", "0"),
            ("RXB", "SUP-Q", "hip", "", "2025-04-01", "2027-03-31", "0", "0", "0", "0"),
            ("RXB", "SUP-A", "spinal", "", "2025-04-01", "2027-03-31", "0", "0", "0", "0"),
            ("RXB", "SUP-A", "hip", "", "2025-04-01", "2027-03-31", "2.5", "0", "0", "0"),
        ],
    )
    report = import_contracts(catalogues, path)
    assert stored_rejects(rows, catalogues, report.import_id) == [
        (4, "End Date", "2024-03-31", "contract ends before it starts"),
        (5, "Trust", "RXQ", "unknown trust code"),
        (6, "Supplier", "SUP-Q", "unknown supplier code"),
        (7, "Category", "spinal", "unknown category code"),
        (8, "Notice Months", "2.5", "notice months must be whole"),
    ]
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (7, 2, 5)
    stored = rows(
        catalogues,
        'SELECT t.code AS trust, s.code AS supplier, c.code AS category, k.reference, k.start, k."end", '
        "k.notice_months, k.exit_fee, k.extension_months, k.extension_uplift_pct FROM contract k "
        "JOIN trust t ON t.id = k.trust_id JOIN supplier s ON s.id = k.supplier_id "
        "JOIN category c ON c.id = k.category_id ORDER BY k.reference",
    )
    assert stored == [
        {
            "trust": "RXA",
            "supplier": "SUP-A",
            "category": "hip",
            "reference": "RXA/HIP/21",
            "start": "2023-04-01",
            "end": "2027-03-31",
            "notice_months": 3,
            "exit_fee": 25000.0,
            "extension_months": 12,
            "extension_uplift_pct": 3.5,
        },
        {
            "trust": "RXA",
            "supplier": "SUP-B",
            "category": "knee",
            "reference": "RXA/KNEE/22",
            "start": "2024-01-01",
            "end": "2026-12-31",
            "notice_months": 0,
            "exit_fee": 0.0,
            "extension_months": 0,
            "extension_uplift_pct": 0.0,
        },
    ]
    # A new register replaces the contracts of the trusts it lists.
    again = files.csv(
        "contracts-2.csv",
        [CONTRACT_HEADER, ("RXA", "SUP-A", "hip", "RXA/HIP/26", "2026-04-01", "2029-03-31", "3", "0", "0", "0")],
    )
    import_contracts(catalogues, again)
    assert rows(catalogues, "SELECT reference FROM contract") == [{"reference": "RXA/HIP/26"}]
