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


TERMS_HEADER = ("trust", "supplier", "category", "start", "end", "early_exit", "exit_fee_pct", "notice_months")


def test_contract_terms_early_exit_and_percentage_fee(catalogues, files, rows):
    path = files.csv(
        "contracts-terms.csv",
        [
            TERMS_HEADER,
            ("RXA", "SUP-A", "hip", "2024-04-01", "2028-03-31", "no", "", "6"),
            ("RXA", "SUP-B", "hip", "2024-04-01", "2028-03-31", "", "10%", "3"),
            ("RXA", "SUP-A", "knee", "2024-04-01", "2028-03-31", "Yes", "2.5", ""),
            ("RXB", "SUP-A", "hip", "2024-04-01", "2028-03-31", "maybe", "0", "0"),
            ("RXB", "SUP-B", "hip", "2024-04-01", "2028-03-31", "yes", "120", "0"),
            ("RXB", "SUP-A", "knee", "2024-04-01", "2028-03-31", "yes", "-5", "0"),
        ],
    )
    report = import_contracts(catalogues, path)
    assert stored_rejects(rows, catalogues, report.import_id) == [
        (5, "early_exit", "maybe", "early exit must be yes or no"),
        (6, "exit_fee_pct", "120", "implausible exit fee pct (over 100)"),
        (7, "exit_fee_pct", "-5", "negative exit fee pct"),
    ]
    stored = rows(
        catalogues,
        "SELECT s.code AS supplier, c.code AS category, k.early_exit, k.exit_fee_pct, k.notice_months "
        "FROM contract k JOIN supplier s ON s.id = k.supplier_id JOIN category c ON c.id = k.category_id "
        "ORDER BY c.code, s.code",
    )
    assert stored == [
        {"supplier": "SUP-A", "category": "hip", "early_exit": 0, "exit_fee_pct": 0.0, "notice_months": 6},
        {"supplier": "SUP-B", "category": "hip", "early_exit": 1, "exit_fee_pct": 10.0, "notice_months": 3},
        {"supplier": "SUP-A", "category": "knee", "early_exit": 1, "exit_fee_pct": 2.5, "notice_months": 0},
    ]


def test_old_register_without_terms_imports_with_defaults(catalogues, files, rows):
    path = files.csv(
        "contracts-old.csv",
        [("trust", "supplier", "category", "start", "end"), ("RXA", "SUP-A", "hip", "2024-04-01", "2028-03-31")],
    )
    report = import_contracts(catalogues, path)
    assert report.rows_accepted == 1
    assert rows(catalogues, "SELECT early_exit, exit_fee_pct, extension_months FROM contract") == [
        {"early_exit": 1, "exit_fee_pct": 0.0, "extension_months": 0}
    ]
