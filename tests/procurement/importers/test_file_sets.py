"""A set of price files at once (``procure import catalogues``): a folder named by supplier, or a list."""

import pytest

import catalogues.read
from procurement.errors import InputFileError, UnknownReferenceError
from procurement.importers import catalogue_files, import_catalogue_set, usage_files
from tests.procurement.importers.importer_checks import refused_without_writing


@pytest.fixture
def shipped(files, monkeypatch, tmp_path):
    """The test layout as the only shipped profile (a folder's files are recognised by header)."""
    folder = tmp_path / "shipped"
    folder.mkdir()
    files.profile().rename(folder / "test-pack.toml")
    monkeypatch.setattr(catalogues.read, "PROFILES_DIR", folder)


@pytest.fixture
def folder(files, catalogue_items, tmp_path):
    """SUP-A's CSV and SUP-B's XLSX price lists named after their suppliers, with an Office lock
    file, a hidden file and a note beside them (none of which is a price list)."""
    folder = tmp_path / "catalogues"
    folder.mkdir()
    made = [
        files.catalogue("sup-a.csv", catalogue_items["SUP-A"]),  # any case
        files.catalogue("SUP-B.xlsx", catalogue_items["SUP-B"]),
        files.raw("~$SUP-B.xlsx", b"lock"),
        files.raw(".sup-c.csv", b"hidden"),
        files.raw("read-me.txt", b"notes"),
    ]
    for path in made:
        path.rename(folder / path.name)
    return folder


def supplier_of_each_import(rows, engine) -> list[tuple[str, str, int]]:
    return [
        (r["file_name"], r["code"], r["rows_accepted"])
        for r in rows(
            engine,
            "SELECT d.file_name, s.code, d.rows_accepted FROM dataimport d JOIN supplier s ON s.id = d.supplier_id"
            " WHERE d.kind = 'catalogue' ORDER BY d.id",
        )
    ]


@pytest.mark.parametrize("workers", [0, 1])
def test_a_folder_imports_each_file_under_the_supplier_it_is_named_after(
    region, folder, shipped, rows, catalogue_items, workers
):
    landed = []
    reports = import_catalogue_set(region, folder, workers=workers, on_report=lambda f, r: landed.append((f, r)))
    assert [(f.supplier, r.file) for f, r in landed] == [("SUP-B", "SUP-B.xlsx"), ("SUP-A", "sup-a.csv")]
    assert [r for _, r in landed] == reports
    assert [r.profile for r in reports] == ["test-pack", "test-pack"]
    assert supplier_of_each_import(rows, region) == [
        ("SUP-B.xlsx", "SUP-B", len(catalogue_items["SUP-B"])),
        ("sup-a.csv", "SUP-A", len(catalogue_items["SUP-A"])),
    ]
    again = import_catalogue_set(region, folder, workers=workers)  # a second run skips both
    assert [r.duplicate_of for r in again] == [r.import_id for r in reports]


def test_a_file_named_after_no_supplier_stops_the_set_before_anything_is_imported(
    region, folder, files, shipped, snapshot
):
    files.catalogue("zimmer 2026.csv", []).rename(folder / "zimmer 2026.csv")
    refused_without_writing(
        lambda: import_catalogue_set(region, folder),
        region,
        snapshot,
        UnknownReferenceError,
        r"zimmer 2026\.csv is named after no known supplier code \(known: SUP-A, SUP-B, SUP-C\)\. "
        r"Name each file after its supplier's code .* Nothing was imported\.",
    )


def test_a_folder_without_price_files_and_a_missing_path_are_named(region, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match=r"empty: no CSV or XLSX files in this folder"):
        catalogue_files(region, tmp_path / "empty")
    with pytest.raises(InputFileError, match=r"nowhere: no such folder or file"):
        catalogue_files(region, tmp_path / "nowhere")


def test_a_list_names_each_file_its_supplier_and_profile(region, files, catalogue_items, profile, rows):
    files.catalogue("Acme price list 2026.csv", catalogue_items["SUP-A"])
    files.catalogue("b.xlsx", catalogue_items["SUP-B"])
    listing = files.csv(
        "price-files.csv",
        [("File", "Supplier", "Profile"), ("Acme price list 2026.csv", "sup-a", profile), ("b.xlsx", "SUP-B", profile)],
    )
    reports = import_catalogue_set(region, listing)
    assert [(r.file, r.rows_accepted) for r in reports] == [
        ("Acme price list 2026.csv", len(catalogue_items["SUP-A"])),
        ("b.xlsx", len(catalogue_items["SUP-B"])),
    ]
    assert [code for _, code, _ in supplier_of_each_import(rows, region)] == ["SUP-A", "SUP-B"]


def test_a_list_with_bad_rows_names_each_row_and_column_and_imports_nothing(
    region, files, catalogue_items, profile, snapshot
):
    files.catalogue("a.csv", catalogue_items["SUP-A"])
    listing = files.csv(
        "price-files.csv",
        [("file", "supplier"), ("a.csv", "SUP-A"), ("gone.csv", "SUP-B"), ("a.csv", "SUP-Q"), ("", "")],
    )
    refused_without_writing(
        lambda: import_catalogue_set(region, listing),
        region,
        snapshot,
        InputFileError,
        r"price-files\.csv: row 3, column file: gone\.csv not found in .*; row 4, column supplier: unknown "
        r"supplier 'SUP-Q' \(known suppliers: SUP-A, SUP-B, SUP-C\)\. Nothing was imported\.",
    )
    no_column = files.csv("names.csv", [("name", "supplier"), ("a.csv", "SUP-A")])
    with pytest.raises(InputFileError, match=r"names\.csv: no column file in the header row \(found: name, supplier\)"):
        catalogue_files(region, no_column)
    with pytest.raises(InputFileError, match=r"a\.csv\b.*no column file"):  # a price list is not a list of files
        catalogue_files(region, files.root / "a.csv")


def test_a_file_that_cannot_be_imported_stops_the_set_saying_what_was_imported(
    region, files, catalogue_items, profile, rows
):
    files.catalogue("a.csv", catalogue_items["SUP-A"])
    files.raw("garbage.csv", bytes(range(256)) * 16)
    files.catalogue("b.xlsx", catalogue_items["SUP-B"])
    listing = files.csv(
        "price-files.csv",
        [("file", "supplier", "profile"), ("a.csv", "SUP-A", profile), ("garbage.csv", "SUP-C", profile)]
        + [("b.xlsx", "SUP-B", profile)],
    )
    with pytest.raises(InputFileError, match=r"garbage\.csv: binary data") as info:
        import_catalogue_set(region, listing)
    assert info.value.exit_code == 2
    assert "[1 of the 3 files before it imported, 1 after it not: import the set again" in str(info.value)
    assert [name for name, _, _ in supplier_of_each_import(rows, region)] == ["a.csv"]


def test_usage_files_are_named_after_known_trusts_or_listed(region, files, tmp_path):
    folder = tmp_path / "usage"
    folder.mkdir()
    for name in ("rxa.csv", "RXB.xlsx", "~$RXB.xlsx", ".rxc.csv", "notes.txt"):
        (folder / name).write_text("gtin,quantity,unit_price,date\n")
    assert [(f.path.name, f.trust) for f in usage_files(region, folder)] == [("RXB.xlsx", "RXB"), ("rxa.csv", "RXA")]
    (folder / "theatres.csv").write_text("gtin,quantity,unit_price,date\n")
    with pytest.raises(UnknownReferenceError, match=r"theatres\.csv is named after no known trust code \(known: RXA"):
        usage_files(region, folder)
    listing = files.csv("listed.csv", [("file", "trust"), ("usage/rxa.csv", "RXC"), ("usage/gone.csv", "RXZ")])
    with pytest.raises(InputFileError, match=r"row 3, column file: usage/gone\.csv not found.*unknown trust 'RXZ'"):
        usage_files(region, listing)
