"""Catalogues: versions, product lines, price history; refusals write nothing."""

import pytest
from importer_checks import PREFIX_A, PREFIX_B, assert_counts_add_up, refused_without_writing, stored_rejects

import catalogues.read
from procurement.errors import InputFileError, UnknownReferenceError
from procurement.importers import import_catalogue, import_ratings, rejected_rows


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


def test_items_join_the_oldest_of_two_lines_whose_brands_differ_only_in_case(region, files, gtin, rows, profile):
    # Lines this importer makes never share a (group, brand as in codes) key; a database
    # holding two such lines of a supplier (made otherwise) gets its SKUs under the older one.
    first = [("A-1", gtin(PREFIX_A, 1), "Cemented femoral stem", "Exeter V40", "1", "1", "100.00")]
    import_catalogue(region, files.catalogue("a.csv", first), supplier="SUP-A", profile=profile)
    with region.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO productline (code, supplier_id, group_id, brand) "
            "SELECT 'SUP-A:HIP-STEM-CEM:EXETER-V40-B', supplier_id, group_id, 'EXETER-V40' FROM productline"
        )
    second = [*first, ("A-2", gtin(PREFIX_A, 2), "Cemented femoral stem", "EXETER-V40", "2", "1", "100.00")]
    report = import_catalogue(region, files.catalogue("b.csv", second), supplier="SUP-A", profile=profile)
    assert (report.rows_accepted, report.new_lines, report.new_items) == (2, 0, 1)
    assert rows(region, "SELECT supplier_code, product_line_id FROM catalogueitem ORDER BY id") == [
        {"supplier_code": "A-1", "product_line_id": 1},
        {"supplier_code": "A-2", "product_line_id": 1},
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
