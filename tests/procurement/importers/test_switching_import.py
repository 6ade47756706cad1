"""Switching costs: systems and lines per trust (or ALL); a newer file replaces the older figures."""

import pytest
from importer_checks import assert_counts_add_up, refused_without_writing, stored_rejects
from sqlmodel import Session

from procurement.errors import InputFileError
from procurement.importers import import_switching_costs
from procurement.scenarios.switching import costs_in_force

HEADER = ("Trust", "Supplier", "Brand", "Group", "Category", "Cost GBP", "Kind", "Note")


def stored(rows, engine) -> list[tuple]:
    return [
        (r["trust"], r["supplier"], r["category"], r["line"], r["kind"], r["cost"], r["import_id"])
        for r in rows(
            engine,
            "SELECT t.code AS trust, s.code AS supplier, c.code AS category, l.code AS line, w.kind, w.cost, "
            "w.import_id FROM switchingcost w LEFT JOIN trust t ON t.id = w.trust_id "
            "JOIN supplier s ON s.id = w.supplier_id JOIN category c ON c.id = w.category_id "
            "LEFT JOIN productline l ON l.id = w.product_line_id ORDER BY w.id",
        )
    ]


def line_code(rows, engine, brand: str) -> str:
    return rows(engine, "SELECT code FROM productline WHERE brand = :b", b=brand)[0]["code"]


def test_good_rows_all_trusts_systems_and_lines(catalogues, files, rows):
    path = files.csv(
        "switching.csv",
        [
            HEADER,
            ("ALL", "SUP-B", "", "", "hip", "£25,000", "instruments", "hip sets per theatre"),
            ("ALL", "SUP-B", "", "", "hip", "5000", "Training", ""),
            ("rxa", "SUP-B", "", "", "hip", "40,000", "instruments", "RXA has four theatres"),
            ("RXB", "SUP-A", "Attune", "", "", "3,000", "", "extra insert trays"),
            ("ALL", "SUP-A", "", "", "knee", "0", "instruments", "lends sets free"),
        ],
    )
    report = import_switching_costs(catalogues, path)
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (5, 5, 0)
    assert report.version == 1
    assert_counts_add_up(report, rows, catalogues)
    attune = line_code(rows, catalogues, "Attune")
    i = report.import_id
    assert stored(rows, catalogues) == [
        (None, "SUP-B", "hip", None, "instruments", 25000.0, i),
        (None, "SUP-B", "hip", None, "training", 5000.0, i),
        ("RXA", "SUP-B", "hip", None, "instruments", 40000.0, i),
        ("RXB", "SUP-A", "knee", attune, None, 3000.0, i),
        (None, "SUP-A", "knee", None, "instruments", 0.0, i),
    ]
    record = rows(catalogues, "SELECT kind, version FROM dataimport WHERE id = :i", i=i)[0]
    assert record == {"kind": "switching-costs", "version": 1}


def test_each_bad_column_is_named_with_its_row(catalogues, files, rows):
    path = files.csv(
        "switching.csv",
        [
            HEADER,
            ("RXZ", "SUP-B", "", "", "hip", "1000", "", ""),  # 2 unknown trust
            ("RXA", "SUP-X", "", "", "hip", "1000", "", ""),  # 3 unknown supplier
            ("RXA", "SUP-B", "Nonesuch", "", "", "1000", "", ""),  # 4 unknown brand
            ("RXA", "SUP-B", "", "", "spinal", "1000", "", ""),  # 5 unknown category
            ("RXA", "SUP-C", "", "", "trauma", "1000", "", ""),  # 6 SUP-C has no catalogue yet
            ("RXA", "SUP-B", "", "", "hip", "POA", "", ""),  # 7 bad cost
            ("RXA", "SUP-B", "", "", "hip", "1000", "couriers", ""),  # 8 bad kind
            ("RXA", "SUP-B", "CPT", "", "hip", "1000", "", ""),  # 9 brand and category
            ("RXA", "SUP-B", "", "", "", "1000", "", ""),  # 10 neither
            ("RXA", "SUP-B", "CPT", "NO-SUCH", "", "1000", "", ""),  # 11 unknown group
            ("RXA", "SUP-B", "", "", "hip", "-5", "", ""),  # 12 negative
            ("RXA", "SUP-B", "", "", "hip", "2000", "", ""),  # 13 good
            ("RXA", "SUP-B", "", "", "HIP", "3000", "", ""),  # 14 repeats row 13
        ],
    )
    report = import_switching_costs(catalogues, path)
    rejects = stored_rejects(rows, catalogues, report.import_id)
    assert [(r[0], r[1]) for r in rejects] == [
        (2, "Trust"),
        (3, "Supplier"),
        (4, "Brand"),
        (5, "Category"),
        (6, "Category"),
        (7, "Cost GBP"),
        (8, "Kind"),
        (9, "Category"),
        (10, "Brand"),
        (11, "Group"),
        (12, "Cost GBP"),
        (14, "Trust"),
    ]
    assert rejects[0][3] == "unknown trust code"
    assert rejects[-1][3].startswith("repeats row 13")
    assert (report.rows_accepted, report.rows_rejected) == (1, 12)
    assert_counts_add_up(report, rows, catalogues)
    assert [r[:6] for r in stored(rows, catalogues)] == [("RXA", "SUP-B", "hip", None, None, 2000.0)]


def test_a_newer_file_replaces_the_older_figures_which_stay_on_record(catalogues, files, rows):
    first = import_switching_costs(
        catalogues, files.csv("s1.csv", [HEADER, ("ALL", "SUP-B", "", "", "hip", "25000", "", "")])
    )
    second = import_switching_costs(
        catalogues,
        files.csv(
            "s2.csv",
            [HEADER, ("RXA", "SUP-B", "", "", "hip", "30000", "", ""), ("RXB", "SUP-A", "", "", "knee", "0", "", "")],
        ),
    )
    assert second.version == 2 and any("replaces" in n for n in second.notes)
    assert len(stored(rows, catalogues)) == 3  # the first file's row is kept, linked to its import
    with Session(catalogues) as session:
        in_force = costs_in_force(session)
    assert in_force[["trust", "supplier", "category", "cost"]].values.tolist() == [
        ["RXA", "SUP-B", "hip", 30000.0],
        ["RXB", "SUP-A", "knee", 0.0],
    ]
    again = import_switching_costs(catalogues, files.path("s1.csv"))
    assert again.duplicate_of == first.import_id


def test_a_brand_in_several_groups_names_each_line_and_group_narrows_it(catalogues, files, rows):
    vanguard = rows(
        catalogues,
        "SELECT l.code, g.code AS grp FROM productline l JOIN equivalencegroup g ON g.id = l.group_id "
        "WHERE l.brand = 'Vanguard' ORDER BY l.code",
    )
    assert len(vanguard) == 2
    report = import_switching_costs(
        catalogues,
        files.csv(
            "s.csv",
            [
                HEADER,
                ("RXA", "SUP-B", "Vanguard", "", "", "1000", "", ""),
                ("RXB", "SUP-B", "vanguard", vanguard[0]["grp"], "", "500", "", ""),
            ],
        ),
    )
    assert report.rows_accepted == 2
    assert sorted((r[0], r[3]) for r in stored(rows, catalogues)) == sorted(
        [("RXA", v["code"]) for v in vanguard] + [("RXB", vanguard[0]["code"])]
    )


def test_one_transaction_a_file_without_the_columns_writes_nothing(catalogues, files, snapshot):
    path = files.csv("s.csv", [("Trust", "Supplier", "Cost GBP"), ("RXA", "SUP-B", "100")])
    refused_without_writing(
        lambda: import_switching_costs(catalogues, path), catalogues, snapshot, InputFileError, "brand/category"
    )


def test_xlsx(catalogues, files):
    path = files.xlsx("s.xlsx", [HEADER, ("ALL", "SUP-A", "", "", "hip", 12000, "instruments", "")])
    assert import_switching_costs(catalogues, path).rows_accepted == 1


@pytest.mark.parametrize("trust", ["ALL", "all"])
def test_all_is_any_case(catalogues, files, trust):
    path = files.csv("s.csv", [HEADER, (trust, "SUP-A", "", "", "hip", "1", "", "")])
    assert import_switching_costs(catalogues, path).rows_accepted == 1
