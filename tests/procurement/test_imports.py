"""Importers: one file, one transaction; rejected rows named; nothing written on refusal."""

import datetime as dt

import pandas as pd
import pytest

import catalogues.read
from catalogues.classify import load_taxonomy
from procurement.errors import InputFileError, UnknownReferenceError
from procurement.importers import (
    import_approvals,
    import_catalogue,
    import_contracts,
    import_ratings,
    import_suppliers,
    import_tiers,
    import_trusts,
    import_usage,
    list_imports,
    rejected_rows,
)
from procurement.ratings import odep_rank, parse_odep

PREFIX_A, PREFIX_B = "5012345", "5098765"


def stored_rejects(rows, engine, import_id: int) -> list[tuple]:
    return [
        (r["row_number"], r["column"], r["value"], r["reason"])
        for r in rows(engine, "SELECT * FROM rejectedrow WHERE import_id = :i ORDER BY row_number, id", i=import_id)
    ]


def assert_counts_add_up(report, rows, engine) -> None:
    assert report.rows_read == report.rows_accepted + report.rows_rejected
    record = rows(engine, "SELECT * FROM dataimport WHERE id = :i", i=report.import_id)[0]
    assert (record["rows_read"], record["rows_accepted"], record["rows_rejected"]) == (
        report.rows_read,
        report.rows_accepted,
        report.rows_rejected,
    )
    distinct_rejected = {r[0] for r in stored_rejects(rows, engine, report.import_id)}
    assert len(distinct_rejected) == report.rows_rejected


def refused_without_writing(call, engine, snapshot, error, match: str):
    before = snapshot(engine)
    with pytest.raises(error, match=match) as info:
        call()
    assert snapshot(engine) == before
    return info.value


@pytest.fixture
def profile(files) -> str:
    return str(files.profile())


# --------------------------------------------------------------------------- trusts, suppliers


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


# --------------------------------------------------------------------------- catalogue


def test_a_catalogue_writes_items_lines_and_price_history(region, files, catalogue_items, rows, profile):
    path = files.catalogue("sup-a.csv", catalogue_items["SUP-A"])
    report = import_catalogue(region, path, supplier="SUP-A", profile=profile)
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (7, 7, 0)
    assert (report.version, report.new_lines, report.new_items, report.price_changes) == (1, 6, 7, 0)
    assert report.profile == "test-pack"
    assert_counts_add_up(report, rows, region)
    items = rows(
        region,
        "SELECT i.supplier_code, i.gtin, i.unit_price, i.pack_size, i.source_row, i.active, p.code AS line "
        "FROM catalogueitem i JOIN productline p ON p.id = i.product_line_id ORDER BY i.source_row",
    )
    assert [(i["supplier_code"], i["unit_price"], i["pack_size"], i["source_row"]) for i in items] == [
        ("A-100", 1000.0, 1, 5),
        ("A-101", 1000.0, 1, 6),
        ("A-200", 950.0, 1, 7),
        ("A-300", 310.5, 1, 8),
        ("A-400", 12.0, 10, 9),  # £120.00 per box of 10
        ("A-500", 240.0, 1, 10),
        ("12-345", 400.0, 1, 11),
    ]
    assert items[0]["gtin"] == "0" + catalogue_items["SUP-A"][0][1] and len(items[0]["gtin"]) == 14
    assert all(i["active"] for i in items)
    assert [i["line"] for i in items[:2]] == ["SUP-A:HIP-STEM-CEM:EXETER"] * 2
    assert {i["line"] for i in items} == {
        "SUP-A:HIP-STEM-CEM:EXETER",
        "SUP-A:HIP-STEM-UNC:CORAIL",
        "SUP-A:KNEE-INSERT-PS:ATTUNE",
        "SUP-A:TRAUMA-SCREW-CORT:LCP",
        "SUP-A:TRAUMA-SHS:DHS",
        "SUP-A:HIP-HEAD-CER:BIOLOX",
    }
    prices = rows(region, "SELECT item_id, import_id, unit_price, pack_size FROM itemprice ORDER BY item_id")
    assert len(prices) == 7 and {p["import_id"] for p in prices} == {report.import_id}
    record = rows(region, "SELECT * FROM dataimport WHERE id = :i", i=report.import_id)[0]
    assert (record["kind"], record["file_name"], record["version"], record["new_lines"]) == (
        "catalogue",
        "sup-a.csv",
        1,
        6,
    )
    assert record["supplier_id"] == rows(region, "SELECT id FROM supplier WHERE code = 'SUP-A'")[0]["id"]
    assert len(record["sha256"]) == 64
    # The taxonomy was synced: every category and group is in the database.
    assert rows(region, "SELECT COUNT(*) AS n FROM equivalencegroup")[0]["n"] == 20


def test_an_xlsx_catalogue_with_numbers_in_cells(catalogues, rows):
    items = rows(
        catalogues,
        "SELECT i.supplier_code, i.gtin, i.unit_price, i.pack_size, i.size FROM catalogueitem i "
        "JOIN supplier s ON s.id = i.supplier_id WHERE s.code = 'SUP-B' ORDER BY i.source_row",
    )
    assert [(i["supplier_code"], i["unit_price"], i["pack_size"], i["size"]) for i in items] == [
        ("B-10", 900.0, 1, "2"),
        ("B-20", 1100.0, 1, "7"),
        ("B-30", 280.0, 1, "12mm"),
        ("B-40", 520.0, 1, "3"),
        ("B-50", 10.0, 5, "24mm"),
        ("12-345", 905.25, 1, "3"),
    ]
    assert items[1]["gtin"].startswith("0" + PREFIX_B) and len(items[1]["gtin"]) == 14


def test_reimporting_the_identical_catalogue_is_a_duplicate_and_writes_nothing(catalogues, files, snapshot, profile):
    before = snapshot(catalogues)
    report = import_catalogue(catalogues, files.path("sup-a.csv"), supplier="SUP-A", profile=profile)
    assert report.duplicate_of == 3 and report.import_id is None and report.rows_read == 0
    assert snapshot(catalogues) == before


def test_a_changed_catalogue_becomes_the_next_version_with_price_history(
    catalogues, files, catalogue_items, rows, profile
):
    v2 = [list(r) for r in catalogue_items["SUP-A"] if r[0] != "A-200"]  # A-200 no longer listed
    v2[0][6] = "£1,050.00"  # A-100 up 5%
    v2.append(["A-600", "", "Acetabular shell 54mm", "Pinnacle", "54", "1", "780.00"])  # a new line
    report = import_catalogue(catalogues, files.catalogue("sup-a-v2.csv", v2), supplier="SUP-A", profile=profile)
    assert (report.version, report.rows_read, report.rows_accepted, report.rows_rejected) == (2, 7, 7, 0)
    assert (report.new_lines, report.new_items, report.price_changes, report.discontinued) == (1, 1, 1, 1)
    assert report.notes == ["catalogue version 2: 1 new SKUs, 1 price changes, 1 no longer listed"]
    record = rows(
        catalogues, "SELECT version, new_lines, price_changes FROM dataimport WHERE id = :i", i=report.import_id
    )[0]
    assert record == {"version": 2, "new_lines": 1, "price_changes": 1}
    history = rows(
        catalogues,
        "SELECT p.import_id, p.unit_price FROM itemprice p JOIN catalogueitem i ON i.id = p.item_id "
        "WHERE i.supplier_code = 'A-100' AND i.supplier_id = (SELECT id FROM supplier WHERE code = 'SUP-A') "
        "ORDER BY p.import_id",
    )
    assert history == [{"import_id": 3, "unit_price": 1000.0}, {"import_id": report.import_id, "unit_price": 1050.0}]
    current = rows(
        catalogues,
        "SELECT supplier_code, unit_price, active, source_import_id FROM catalogueitem "
        "WHERE supplier_code IN ('A-100', 'A-101', 'A-200') ORDER BY supplier_code",
    )
    assert current == [
        {"supplier_code": "A-100", "unit_price": 1050.0, "active": 1, "source_import_id": report.import_id},
        {"supplier_code": "A-101", "unit_price": 1000.0, "active": 1, "source_import_id": report.import_id},
        # No longer listed: inactive, but its history is kept.
        {"supplier_code": "A-200", "unit_price": 950.0, "active": 0, "source_import_id": 3},
    ]
    assert (
        rows(
            catalogues,
            "SELECT COUNT(*) AS n FROM itemprice p JOIN catalogueitem i ON i.id = p.item_id "
            "WHERE i.supplier_code = 'A-200'",
        )[0]["n"]
        == 1
    )
    # Relisted in version 3: active again.
    v3 = [*v2, list(catalogue_items["SUP-A"][2])]
    report3 = import_catalogue(catalogues, files.catalogue("sup-a-v3.csv", v3), supplier="SUP-A", profile=profile)
    assert (report3.version, report3.new_items, report3.discontinued, report3.price_changes) == (3, 0, 0, 0)
    assert rows(catalogues, "SELECT active FROM catalogueitem WHERE supplier_code = 'A-200'") == [{"active": 1}]


def test_a_listed_sku_whose_row_is_rejected_keeps_its_price_and_is_not_discontinued(
    catalogues, files, catalogue_items, rows, profile
):
    v2 = [list(r) for r in catalogue_items["SUP-A"]]
    v2[0][6] = "POA"  # still listed, but its new row is unusable
    v2[1][6] = "£1,010.00"
    report = import_catalogue(catalogues, files.catalogue("v2.csv", v2), supplier="SUP-A", profile=profile)
    assert (report.rows_accepted, report.rows_rejected, report.discontinued, report.price_changes) == (6, 1, 0, 1)
    assert rows(
        catalogues,
        "SELECT supplier_code, unit_price, active, source_import_id FROM catalogueitem "
        "WHERE supplier_code IN ('A-100', 'A-101') ORDER BY supplier_code",
    ) == [
        {"supplier_code": "A-100", "unit_price": 1000.0, "active": 1, "source_import_id": 3},
        {"supplier_code": "A-101", "unit_price": 1010.0, "active": 1, "source_import_id": report.import_id},
    ]


def test_a_version_whose_rows_are_all_rejected_is_recorded_and_changes_no_prices(
    catalogues, files, catalogue_items, rows, profile, count
):
    v2 = [[*r[:6], "price on application"] for r in catalogue_items["SUP-A"]]
    before = rows(catalogues, "SELECT * FROM catalogueitem ORDER BY id")
    report = import_catalogue(catalogues, files.catalogue("v2.csv", v2), supplier="SUP-A", profile=profile)
    assert (report.version, report.rows_read, report.rows_accepted, report.rows_rejected) == (2, 7, 0, 7)
    assert (report.new_items, report.discontinued, report.price_changes) == (0, 0, 0)
    assert rows(catalogues, "SELECT * FROM catalogueitem ORDER BY id") == before
    assert count(catalogues, "itemprice", f"import_id = {report.import_id}") == 0
    assert count(catalogues, "rejectedrow", f"import_id = {report.import_id}") == 7


def test_brands_differing_in_case_or_punctuation_are_one_product_line(region, files, gtin, rows, profile):
    items = [
        ("A-1", gtin(PREFIX_A, 1), "Cemented femoral stem", "Exeter V40", "1", "1", "100.00"),
        ("A-2", gtin(PREFIX_A, 2), "Cemented femoral stem", "EXETER-V40", "2", "1", "100.00"),
        ("A-3", gtin(PREFIX_A, 3), "Cemented femoral stem", "exeter v40", "3", "1", "100.00"),
    ]
    report = import_catalogue(region, files.catalogue("a.csv", items), supplier="SUP-A", profile=profile)
    assert (report.rows_accepted, report.new_lines) == (3, 1)
    assert rows(region, "SELECT code, brand FROM productline") == [
        {"code": "SUP-A:HIP-STEM-CEM:EXETER-V40", "brand": "Exeter V40"}
    ]
    assert rows(region, "SELECT DISTINCT product_line_id FROM catalogueitem") == [{"product_line_id": 1}]
    ratings = files.csv("odep.csv", [("supplier", "brand", "rating"), ("SUP-A", "Exeter-V40", "10A*")])
    assert import_ratings(region, ratings).rows_accepted == 1
    assert rows(region, "SELECT product_line_id, rating FROM clinicalrating") == [
        {"product_line_id": 1, "rating": "10A*"}
    ]


def test_duplicate_supplier_codes(region, files, gtin, rows, profile):
    g = gtin
    items = [
        ("A-1", g(PREFIX_A, 1), "Cemented femoral stem", "Exeter", "1", "1", "100.00"),
        ("A-1", g(PREFIX_A, 1), "Cemented femoral stem", "Exeter", "1", "1", "100.00"),  # exact repeat
        ("A-2", g(PREFIX_A, 2), "Cemented femoral stem", "Exeter", "2", "1", "100.00"),
        ("A-2", g(PREFIX_A, 2), "Cemented femoral stem", "Exeter", "2", "1", "120.00"),  # same code, new price
        ("A-2", g(PREFIX_A, 2), "Cemented femoral stem", "Exeter", "2", "1", "100.00"),
        ("A-3", g(PREFIX_A, 3), "Cemented femoral stem", "Exeter", "3", "1", "100.00"),
    ]
    report = import_catalogue(region, files.catalogue("dups.csv", items, title=()), supplier="SUP-A", profile=profile)
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (6, 2, 4)
    assert stored_rejects(rows, region, report.import_id) == [
        (3, "Product Code", "A-1", "exact duplicate of row 2"),
        (4, "Product Code", "A-2", "same supplier code with different details on rows 4, 5, 6"),
        (5, "Product Code", "A-2", "same supplier code with different details on rows 4, 5, 6"),
        (6, "Product Code", "A-2", "same supplier code with different details on rows 4, 5, 6"),
    ]
    assert rows(region, "SELECT supplier_code, source_row FROM catalogueitem ORDER BY supplier_code") == [
        {"supplier_code": "A-1", "source_row": 2},
        {"supplier_code": "A-3", "source_row": 7},
    ]
    assert_counts_add_up(report, rows, region)


def test_bad_values_reject_their_rows(region, files, gtin, rows, profile):
    good = gtin(PREFIX_A, 7)
    bad_check = good[:-1] + str((int(good[-1]) + 1) % 10)
    items = [
        ("A-7", bad_check, "Cemented femoral stem", "Exeter", "1", "1", "100.00"),
        ("A-8", "50123", "Cemented femoral stem", "Exeter", "1", "1", "100.00"),
        ("A-9", gtin(PREFIX_A, 9), "Cemented femoral stem", "Exeter", "1", "1", "POA"),
        ("A-10", gtin(PREFIX_A, 10), "Cemented femoral stem", "Exeter", "1", "1", "0.00"),
        ("A-11", gtin(PREFIX_A, 11), "Surgical gown", "Drapes", "L", "1", "5.00"),
        ("A-12", gtin(PREFIX_A, 12), "Cemented femoral stem", "", "1", "Crate", "100.00"),
        ("A-13", gtin(PREFIX_A, 13), "Cemented femoral stem", "Exeter", "1", "1", "250,000.00"),
        ("", gtin(PREFIX_A, 14), "Cemented femoral stem", "Exeter", "1", "1", "100.00"),
        ("A-15", gtin(PREFIX_A, 15), "Cemented femoral stem", "Exeter", "1", "1", "100.00"),
    ]
    report = import_catalogue(region, files.catalogue("bad.csv", items, title=()), supplier="SUP-A", profile=profile)
    assert stored_rejects(rows, region, report.import_id) == [
        (2, "GTIN", bad_check, "GTIN check digit is wrong"),
        (3, "GTIN", "50123", "GTIN must have 8, 12, 13 or 14 digits"),
        (4, "Pack Price", "POA", "price is not a number"),
        (5, "Pack Price", "0.00", "zero price"),
        (6, "Description", "Surgical gown", "matches no equivalence group of the taxonomy (unclassified)"),
        (7, "Brand", "", "missing brand"),
        (7, "Pack", "Crate", "pack size not understood"),
        (8, "Pack Price", "250,000.00", "implausible price (over £100,000 per unit)"),
        (9, "Product Code", "", "missing supplier code"),
    ]
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (9, 1, 8)
    assert report.rejects["row"].tolist() == [2, 3, 4, 5, 6, 7, 7, 8, 9]
    assert rows(region, "SELECT supplier_code FROM catalogueitem") == [{"supplier_code": "A-15"}]
    assert rejected_rows(region, report.import_id)["reason"].tolist()[0] == "GTIN check digit is wrong"
    assert_counts_add_up(report, rows, region)


@pytest.mark.parametrize(
    ("per", "vat", "price", "pack", "expected"),
    [
        ("pack", False, "£120.00", "Box of 10", 12.0),
        ("pack", True, "£144.00", "Box of 10", 12.0),
        ("unit", True, "£120.00", "Box of 10", 100.0),
        ("unit", False, "99.99", "Box of 10", 99.99),
        ("pack", False, "100.00", "Box of 3", 33.33),
    ],
)
def test_pack_prices_and_vat(region, files, gtin, rows, per, vat, price, pack, expected):
    path = files.catalogue("p.csv", [("A-1", gtin(PREFIX_A, 1), "Cortical screw 3.5 x 20", "LCP", "20", pack, price)])
    profile = files.profile("custom", per=per, vat=vat)
    report = import_catalogue(region, path, supplier="SUP-A", profile=str(profile))
    assert report.rows_accepted == 1
    assert rows(region, "SELECT unit_price, pack_size FROM catalogueitem") == [
        {"unit_price": expected, "pack_size": 10 if "10" in pack else 3}
    ]


def test_a_profile_is_recognised_from_the_header(region, files, catalogue_items, monkeypatch, tmp_path):
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    files.profile("acme-pack").rename(shipped / "acme-pack.toml")
    (shipped / "other.toml").write_text(
        'name = "other"\n[columns]\nsupplier_code = "Cat No"\ndescription = "Item"\nbrand = "Range"\nprice = "Net"\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(catalogues.read, "PROFILES_DIR", shipped)
    report = import_catalogue(region, files.catalogue("a.csv", catalogue_items["SUP-A"]), supplier="SUP-A")
    assert report.profile == "acme-pack"
    assert report.notes[0] == "layout recognised as profile 'acme-pack'"
    assert report.rows_accepted == 7
    unknown = files.csv("odd.csv", [("Ref", "Text", "Cost"), ("1", "stem", "5")])
    with pytest.raises(UnknownReferenceError, match=r"odd\.csv: no shipped profile matches"):
        import_catalogue(region, unknown, supplier="SUP-A")
    with pytest.raises(UnknownReferenceError, match=r"unknown profile 'nope' \(shipped profiles: acme-pack, other\)"):
        import_catalogue(region, unknown, supplier="SUP-A", profile="nope")


def test_an_unknown_supplier_changes_nothing(region, files, catalogue_items, snapshot, profile):
    path = files.catalogue("a.csv", catalogue_items["SUP-A"])
    error = refused_without_writing(
        lambda: import_catalogue(region, path, supplier="SUP-Z", profile=profile),
        region,
        snapshot,
        UnknownReferenceError,
        r"unknown supplier 'SUP-Z' \(known: SUP-A, SUP-B, SUP-C\)",
    )
    assert error.exit_code == 3


@pytest.mark.parametrize(
    ("name", "data", "match"),
    [
        ("garbage.csv", bytes(range(256)) * 16, r"garbage\.csv: binary data"),
        ("page.xlsx", b"<html><body>Login</body></html>", r"page\.xlsx: cannot be opened as XLSX: an HTML page"),
        ("empty.csv", b"", r"empty\.csv: the file is empty"),
        (
            "layout.csv",
            b"Code,Description,Price\nA-1,Cemented stem,10\n",
            r"layout\.csv: profile 'test-pack' expects the column\(s\) 'Product Code', 'GTIN', 'Brand', "
            r"'Size', 'Pack', 'Pack Price' in the first 60 rows; not found",
        ),
    ],
)
def test_an_unreadable_catalogue_changes_nothing(catalogues, files, snapshot, profile, name, data, match):
    path = files.raw(name, data)
    error = refused_without_writing(
        lambda: import_catalogue(catalogues, path, supplier="SUP-A", profile=profile),
        catalogues,
        snapshot,
        InputFileError,
        match,
    )
    assert error.exit_code == 2


def test_a_missing_file_is_named(region, tmp_path, profile):
    with pytest.raises(InputFileError, match=r"nowhere\.csv: no such file"):
        import_catalogue(region, tmp_path / "nowhere.csv", supplier="SUP-A", profile=profile)


def test_another_suppliers_catalogue_is_refused_by_gs1_prefix(region, files, catalogue_items, snapshot, profile):
    path = files.catalogue("b.xlsx", catalogue_items["SUP-B"])
    refused_without_writing(
        lambda: import_catalogue(region, path, supplier="SUP-A", profile=profile),
        region,
        snapshot,
        InputFileError,
        r"b\.xlsx: only 0% of its GTINs carry SUP-A's GS1 prefix 5012345; 100% carry SUP-B's prefix 5098765\. "
        r"Is this the right supplier\? Nothing was written\.",
    )


def test_another_suppliers_catalogue_is_refused_by_known_gtins(catalogues, files, catalogue_items, snapshot, profile):
    # SUP-C has no GS1 prefix on record: the evidence is SUP-B's GTINs already in the database.
    path = files.catalogue("b-again.csv", catalogue_items["SUP-B"], title=("Beta Medical price list",))
    refused_without_writing(
        lambda: import_catalogue(catalogues, path, supplier="SUP-C", profile=profile),
        catalogues,
        snapshot,
        InputFileError,
        r"b-again\.csv: 6 of its 6 gtins are already in SUP-B's catalogue and 0% in SUP-C's: it looks like "
        r"SUP-B's file\. Refused under SUP-C; nothing was written\.",
    )


def test_a_profile_bound_to_a_supplier_refuses_other_codes(region, files, catalogue_items, snapshot):
    profile = files.profile("sup-b-only", extra='supplier = "SUP-B"')
    path = files.catalogue("a.csv", catalogue_items["SUP-A"])
    refused_without_writing(
        lambda: import_catalogue(region, path, supplier="SUP-A", profile=str(profile)),
        region,
        snapshot,
        InputFileError,
        r"a\.csv: profile 'sup-b-only' is SUP-B's layout, not SUP-A's; check --supplier",
    )


def test_a_shared_code_is_fine_across_suppliers(catalogues, rows):
    shared = rows(
        catalogues,
        "SELECT s.code FROM catalogueitem i JOIN supplier s ON s.id = i.supplier_id "
        "WHERE i.supplier_code = '12-345' ORDER BY s.code",
    )
    assert shared == [{"code": "SUP-A"}, {"code": "SUP-B"}]


# --------------------------------------------------------------------------- usage

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
    import_usage(catalogues, first, trust="RXB")
    before = snapshot(catalogues)
    assert import_usage(catalogues, first, trust="RXB").duplicate_of is not None
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


# --------------------------------------------------------------------------- contracts

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


# --------------------------------------------------------------------------- tiers

TIER_HEADER = ("Supplier", "Offer", "Scope", "Basis", "Threshold", "Discount %")


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


# --------------------------------------------------------------------------- ratings


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


# --------------------------------------------------------------------------- approvals

APPROVAL_HEADER = (
    "Trust",
    "Supplier",
    "Brand",
    "Group",
    "Decision",
    "Clinician",
    "Role",
    "Date",
    "Comment",
    "ODEP Exception",
)


def test_approvals(catalogues, files, rows):
    path = files.csv(
        "approvals.csv",
        [
            APPROVAL_HEADER,
            (
                "REGIONAL",
                "SUP-A",
                "Exeter",
                "",
                "Approved",
                "Ms A Surgeon",
                "Chair, regional panel",
                "2026-03-02",
                "",
                "",
            ),
            (
                "rxa",
                "SUP-A",
                "Corail",
                "HIP-STEM-UNC",
                "conditionally approved",
                "Mr B Bone",
                "Consultant",
                "03/03/2026",
                "only for revision-risk patients",
                "yes",
            ),
            (
                "RXB",
                "SUP-B",
                "Vanguard",
                "KNEE-TRAY",
                "No",
                "Dr C Knee",
                "Consultant",
                "4 Mar 2026",
                "dislocation concerns in our cohort",
                "no",
            ),
            ("RXB", "SUP-A", "Exeter", "", "maybe", "Dr C Knee", "", "2026-03-04", "", ""),
            ("RXQ", "SUP-A", "Exeter", "", "approve", "Dr D", "", "2026-03-04", "", ""),
            ("RXA", "SUP-A", "Exeter", "", "approve", "", "", "2026-03-04", "", ""),
            ("RXA", "SUP-A", "Exeter", "", "approve", "Dr D", "", "2026-03-04", "", "perhaps"),
        ],
    )
    report = import_approvals(catalogues, path)
    assert stored_rejects(rows, catalogues, report.import_id) == [
        (5, "Decision", "maybe", "decision must be approve, reject or conditional"),
        (6, "Trust", "RXQ", "unknown trust code"),
        (7, "Clinician", "", "missing clinician name"),
        (8, "ODEP Exception", "perhaps", "odep_exception must be yes or no"),
    ]
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (7, 3, 4)
    assert_counts_add_up(report, rows, catalogues)
    stored = rows(
        catalogues,
        "SELECT t.code AS trust, a.trust_id, p.code AS line, a.decision, a.odep_exception, a.clinician, a.role, "
        "a.decided_at, a.comment, a.source_sha256, a.import_id FROM approval a "
        "JOIN productline p ON p.id = a.product_line_id LEFT JOIN trust t ON t.id = a.trust_id ORDER BY a.id",
    )
    assert [(s["trust"], s["trust_id"] is None, s["line"], s["decision"], s["odep_exception"]) for s in stored] == [
        (None, True, "SUP-A:HIP-STEM-CEM:EXETER", "approve", 0),
        ("RXA", False, "SUP-A:HIP-STEM-UNC:CORAIL", "conditional", 1),
        ("RXB", False, "SUP-B:KNEE-TRAY:VANGUARD", "reject", 0),
    ]
    assert [s["decided_at"][:10] for s in stored] == ["2026-03-02", "2026-03-03", "2026-03-04"]
    assert stored[2]["comment"] == "dislocation concerns in our cohort"
    assert stored[1]["clinician"] == "Mr B Bone" and stored[1]["role"] == "Consultant"
    assert {s["source_sha256"] for s in stored} == {report.sha256}
    assert {s["import_id"] for s in stored} == {report.import_id}


def test_approvals_are_append_only(catalogues, files, rows):
    first = files.csv(
        "round-1.csv",
        [APPROVAL_HEADER, ("RXA", "SUP-A", "Exeter", "", "approve", "Mr B Bone", "", "2026-03-01", "", "")],
    )
    second = files.csv(
        "round-2.csv",
        [
            APPROVAL_HEADER,
            ("RXA", "SUP-A", "Exeter", "", "reject", "Mr B Bone", "", "2026-06-01", "loosening reports", ""),
        ],
    )
    import_approvals(catalogues, first)
    import_approvals(catalogues, second)
    history = rows(catalogues, "SELECT decision, decided_at FROM approval ORDER BY decided_at")
    assert [h["decision"] for h in history] == ["approve", "reject"]
    # The same file again is a duplicate, not a third decision.
    assert import_approvals(catalogues, second).duplicate_of is not None
    assert rows(catalogues, "SELECT COUNT(*) AS n FROM approval") == [{"n": 2}]


def test_approvals_decided_at_is_timezone_aware(catalogues, files):
    from sqlmodel import Session, select

    from procurement.models import Approval

    import_approvals(
        catalogues,
        files.csv(
            "a.csv", [APPROVAL_HEADER, ("RXA", "SUP-A", "Exeter", "", "approve", "Mr B Bone", "", "2026-03-01", "", "")]
        ),
    )
    with Session(catalogues) as session:
        approval = session.exec(select(Approval)).one()
    assert approval.decided_at == dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    assert approval.recorded_at.tzinfo is not None


# --------------------------------------------------------------------------- every importer


@pytest.mark.parametrize(
    ("importer", "kwargs"),
    [
        (import_usage, {"trust": "RXA"}),
        (import_contracts, {}),
        (import_tiers, {}),
        (import_ratings, {}),
        (import_approvals, {}),
        (import_trusts, {}),
        (import_suppliers, {}),
    ],
)
def test_every_importer_refuses_an_unreadable_file_without_writing(catalogues, files, snapshot, importer, kwargs):
    path = files.raw("export.xlsx", b"PK\x03\x04 truncated")
    error = refused_without_writing(
        lambda: importer(catalogues, path, **kwargs),
        catalogues,
        snapshot,
        InputFileError,
        r"export\.xlsx: cannot be opened as XLSX",
    )
    assert error.exit_code == 2


VALID_FILES = {
    "trusts": (import_trusts, {}, [("code", "name"), ("RXD", "Delta Trust")]),
    "suppliers": (import_suppliers, {}, [("code", "name"), ("SUP-D", "Delta Implants")]),
    "usage": (
        import_usage,
        {"trust": "RXA"},
        [("item_code", "qty", "unit_price", "date"), ("A-100", "2", "990", "2026-04-01")],
    ),
    "contracts": (
        import_contracts,
        {},
        [("trust", "supplier", "category", "start", "end"), ("RXA", "SUP-A", "hip", "2024-01-01", "2027-12-31")],
    ),
    "tiers": (import_tiers, {}, [TIER_HEADER, ("SUP-A", "A1", "hip", "units", "100", "2")]),
    "ratings": (import_ratings, {}, [("supplier", "brand", "rating"), ("SUP-A", "Exeter", "10A")]),
    "approvals": (
        import_approvals,
        {},
        [
            ("trust", "supplier", "brand", "decision", "clinician", "date"),
            ("RXA", "SUP-A", "Exeter", "approve", "Mr B Bone", "2026-03-01"),
        ],
    ),
}


@pytest.mark.parametrize("kind", list(VALID_FILES))
def test_every_importer_reports_an_identical_file_as_a_duplicate_and_writes_nothing(catalogues, files, snapshot, kind):
    importer, kwargs, content = VALID_FILES[kind]
    path = files.csv(f"{kind}.csv", content)
    first = importer(catalogues, path, **kwargs)
    assert (first.rows_read, first.rows_accepted, first.duplicate_of) == (1, 1, None)
    before = snapshot(catalogues)
    again = importer(catalogues, path, **kwargs)
    assert again.duplicate_of == first.import_id and again.import_id is None
    assert again.notes == [f"identical file already imported as import #{first.import_id}; nothing written"]
    assert snapshot(catalogues) == before


def test_list_imports_and_rejected_rows(catalogues, files):
    imports = list_imports(catalogues)
    assert imports["kind"].tolist() == ["trusts", "suppliers", "catalogue", "catalogue"]
    assert imports["file_name"].tolist() == ["trusts.csv", "suppliers.csv", "sup-a.csv", "sup-b.xlsx"]
    assert rejected_rows(catalogues, 3).empty
    with pytest.raises(UnknownReferenceError, match=r"no import #99"):
        rejected_rows(catalogues, 99)


def test_a_bad_taxonomy_is_an_input_file_error(
    region, files, catalogue_items, tmp_path, snapshot, monkeypatch, profile
):
    bad = tmp_path / "taxonomy.toml"
    bad.write_text("[categories.hip]\n", encoding="utf-8")
    monkeypatch.setenv("PROCURE_TAXONOMY", str(bad))
    path = files.catalogue("a.csv", catalogue_items["SUP-A"])
    refused_without_writing(
        lambda: import_catalogue(region, path, supplier="SUP-A", profile=profile),
        region,
        snapshot,
        InputFileError,
        r"no \[\[groups\]\]",
    )
    monkeypatch.delenv("PROCURE_TAXONOMY")
    assert (
        import_catalogue(region, path, supplier="SUP-A", profile=profile, taxonomy=load_taxonomy()).rows_accepted == 7
    )
