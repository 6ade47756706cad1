"""Reading supplier files through profiles, and the engine's own formats by heading."""

import datetime as dt
import io
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from catalogues.read import (
    ROW_COLUMN,
    FileFormatError,
    Profile,
    TableSpec,
    _frame_from,
    detect_profile,
    heading_key,
    load_profile,
    read_catalogue,
    read_grid,
    read_table,
)

COLUMNS = {
    "supplier_code": "Product Code",
    "gtin": "GTIN",
    "description": "Description",
    "brand": "Brand",
    "size": "Size",
    "pack": "Pack",
    "price": "Pack Price",
}
PROFILE = Profile(name="test", columns=COLUMNS)
HEADER = list(COLUMNS.values())
ITEMS = [
    ["A-100", "05012345001007", "Cemented femoral stem", "Exeter", "3", "1", "£1,000.00"],
    ["A-200", "05012345002004", "Uncemented HA stem", "Corail", "10", "Box of 2", "£1,900.00"],
]
TITLE = ["Alpha Orthopaedics Ltd", "NHS price list, valid from 1 April 2026", ""]


# --------------------------------------------------------------------------- catalogues


def test_csv_header_is_found_below_a_title_block_and_rows_keep_spreadsheet_numbers(files):
    path = files.csv("prices.csv", [HEADER, ITEMS[0], ["", "", "", "", "", "", ""], ITEMS[1]], title=TITLE)
    frame = read_catalogue(path, PROFILE)
    assert frame["supplier_code"].tolist() == ["A-100", "A-200"]
    assert frame["price"].tolist() == ["£1,000.00", "£1,900.00"]
    # Title rows 1-3, header row 4, data rows 5 and 7 (row 6 is blank layout).
    assert frame["_row"].tolist() == [5, 7]
    # Fields the profile does not map are present and empty.
    assert frame["component"].tolist() == ["", ""]


def test_xlsx_header_is_found_below_a_merged_title_block(files):
    workbook_rows = [HEADER, *ITEMS, ["A-300", 5012345003001, "Tibial tray", "Attune", 5, 1, 425.5]]
    path = files.xlsx("prices.xlsx", workbook_rows, title=TITLE)
    frame = read_catalogue(path, PROFILE)
    assert frame["supplier_code"].tolist() == ["A-100", "A-200", "A-300"]
    # Numbers typed into cells come back as the text a user sees: no "5012345003001.0".
    assert frame.loc[2, ["gtin", "size", "pack", "price"]].tolist() == ["5012345003001", "5", "1", "425.5"]
    assert frame["_row"].tolist() == [5, 6, 7]


def test_xlsx_dates_and_named_sheet(files):
    path = files.xlsx(
        "book.xlsx",
        [
            ["Product Code", "Description", "Brand", "Pack Price", "Valid From"],
            ["A-1", "Cemented stem", "Exeter", 10, dt.datetime(2026, 4, 1)],
        ],
        sheet="Price List",
        extra_sheets=["Notes"],
    )
    grid = read_grid(path, sheet="Price List")
    assert grid[1] == ["A-1", "Cemented stem", "Exeter", "10", "2026-04-01"]
    assert read_grid(path, sheet="Notes") == [["notes"]]


def test_explicit_header_row(files):
    path = files.csv("prices.csv", [HEADER, *ITEMS], title=TITLE)
    frame = read_catalogue(path, Profile(name="fixed", columns=COLUMNS, header_row=4))
    assert frame["supplier_code"].tolist() == ["A-100", "A-200"]
    with pytest.raises(FileFormatError, match=r"prices\.csv: profile 'wrong' expects .* in row 2; not found"):
        read_catalogue(path, Profile(name="wrong", columns=COLUMNS, header_row=2))


def test_missing_columns_are_named(files):
    path = files.csv("prices.csv", [["Product Code", "Description", "Brand", "Price"], ITEMS[0][:4]])
    with pytest.raises(FileFormatError) as info:
        read_catalogue(path, PROFILE)
    message = str(info.value)
    assert message.startswith("prices.csv: profile 'test' expects the column(s)")
    assert "'GTIN'" in message and "'Pack Price'" in message and "'Brand'" not in message


def test_a_missing_sheet_names_the_sheets_there_are(files):
    path = files.xlsx("book.xlsx", [HEADER, *ITEMS], sheet="Prices 2026", extra_sheets=["Notes"])
    message = r"book\.xlsx: no sheet named 'Price List' \(sheets: Prices 2026, Notes\)"
    with pytest.raises(FileFormatError, match=message):
        read_catalogue(path, Profile(name="s", columns=COLUMNS, sheet="Price List"))


@pytest.mark.parametrize("data", [b"", b"   \r\n\r\n  "])
def test_an_empty_file_is_refused(files, data):
    path = files.raw("empty.csv", data)
    with pytest.raises(FileFormatError, match=r"^empty\.csv: the file is empty$"):
        read_catalogue(path, PROFILE)


def test_binary_garbage_is_refused(files):
    path = files.raw("prices.csv", bytes(range(256)) * 8)
    with pytest.raises(FileFormatError, match=r"prices\.csv: binary data"):
        read_grid(path)


def test_html_saved_as_xlsx_is_refused(files):
    path = files.raw("prices.xlsx", b"<!DOCTYPE html><html><body><h1>Session expired</h1></body></html>")
    with pytest.raises(FileFormatError, match=r"prices\.xlsx: cannot be opened as XLSX: an HTML page"):
        read_catalogue(path, PROFILE)


def test_truncated_xlsx_is_refused(files):
    whole = files.xlsx("whole.xlsx", [HEADER, *ITEMS]).read_bytes()
    path = files.raw("cut.xlsx", whole[: len(whole) // 2])
    with pytest.raises(FileFormatError, match=r"cut\.xlsx: cannot be opened as XLSX: damaged or not an XLSX"):
        read_catalogue(path, PROFILE)


def test_a_zip_that_is_not_a_workbook_is_refused(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    path = files.raw("prices.xlsx", buffer.getvalue())
    with pytest.raises(FileFormatError, match=r"prices\.xlsx: cannot be opened as XLSX"):
        read_grid(path)


def test_old_excel_is_refused_with_advice(files):
    path = files.raw("prices.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    with pytest.raises(FileFormatError, match=r"prices\.xls: old binary Excel \(\.xls\) is not supported"):
        read_grid(path)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(FileFormatError, match=r"nowhere\.csv: cannot be read"):
        read_grid(tmp_path / "nowhere.csv")


# --------------------------------------------------------------------------- encodings, delimiters


def test_windows_1252_with_semicolons(files):
    rows = [
        HEADER,
        ["A-1", "", "Tige fémorale cimentée", "Müller", "3", "1", "£1.234,00"],
        ["A-2", "", "Cemented stem – size 4", "Exeter", "4", "1", "£1,234.50"],
    ]
    path = files.csv("prices.csv", rows, title=["Prix – 2026"], delimiter=";", encoding="cp1252")
    assert b"\xa3" in path.read_bytes()  # really Windows-1252, not UTF-8
    frame = read_catalogue(path, PROFILE)
    assert frame["description"].tolist() == ["Tige fémorale cimentée", "Cemented stem – size 4"]
    assert frame["brand"].tolist() == ["Müller", "Exeter"]
    assert frame["price"].tolist() == ["£1.234,00", "£1,234.50"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig"])
def test_utf16_and_utf8_with_bom(files, encoding):
    path = files.csv("prices.csv", [HEADER, *ITEMS], title=TITLE, delimiter="\t", encoding=encoding)
    if encoding == "utf-16-be":  # Python writes no BOM for an explicit byte order
        path.write_bytes(b"\xfe\xff" + path.read_bytes())
    frame = read_catalogue(path, PROFILE)
    assert frame["supplier_code"].tolist() == ["A-100", "A-200"]
    assert frame["price"].tolist() == ["£1,000.00", "£1,900.00"]


def test_an_explicit_encoding_that_does_not_fit_is_named(files):
    path = files.csv("prices.csv", [HEADER, ["A-1", "", "Tige fémorale", "B", "1", "1", "£5"]], encoding="cp1252")
    with pytest.raises(FileFormatError, match=r"prices\.csv: cannot be decoded as utf-8"):
        read_catalogue(path, Profile(name="u", columns=COLUMNS, encoding="utf-8"))


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_detected(files, delimiter):
    rows = [HEADER, ["A-1", "", "Cemented femoral stem, collared", "Exeter", "3", "Box of 2", "£1,000.00"], *ITEMS]
    path = files.csv("prices.csv", rows, title=TITLE, delimiter=delimiter)
    frame = read_catalogue(path, PROFILE)
    assert frame["supplier_code"].tolist() == ["A-1", "A-100", "A-200"]
    assert frame.loc[0, "description"] == "Cemented femoral stem, collared"
    assert frame.loc[0, "price"] == "£1,000.00"


# --------------------------------------------------------------------------- profiles


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD_COLUMNS = '[columns]\nsupplier_code = "Code"\ndescription = "Desc"\nbrand = "Brand"\nprice = "Price"\n'


def test_a_profile_toml_is_loaded(tmp_path):
    path = _write(
        tmp_path,
        'name = "acme"\nsupplier = "SUP-A"\nsheet = "Prices"\nheader_row = 5\n'
        'delimiter = ";"\nencoding = "cp1252"\n'
        + GOOD_COLUMNS
        + '[price]\nper = "pack"\nincludes_vat = true\nvat_rate = 0.2\n',
    )
    profile = load_profile(str(path))
    assert (profile.name, profile.supplier, profile.sheet, profile.header_row) == ("acme", "SUP-A", "Prices", 5)
    assert (profile.delimiter, profile.encoding, profile.price_per, profile.includes_vat) == (
        ";",
        "cp1252",
        "pack",
        True,
    )
    assert profile.columns["price"] == "Price"
    auto = Profile.from_toml(_write(tmp_path, GOOD_COLUMNS))
    assert (auto.name, auto.header_row, auto.delimiter, auto.encoding, auto.price_per) == (
        "p",
        None,
        None,
        None,
        "unit",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = 'x'\n[columns\n", "cannot be read as TOML"),
        (GOOD_COLUMNS + 'colour = "Colour"\n', r"unknown field\(s\) in \[columns\]: colour"),
        ('[columns]\nsupplier_code = "Code"\ndescription = "Desc"\n', r"\[columns\] must map brand, price"),
        ("name = 'x'\n", r"\[columns\] must map supplier_code, description, brand, price"),
        (GOOD_COLUMNS + '[price]\nper = "box"\n', 'price.per must be "unit" or "pack"'),
        ("header_row = 0\n" + GOOD_COLUMNS, 'header_row must be a row number or "auto"'),
        ('header_row = "first"\n' + GOOD_COLUMNS, 'header_row must be a row number or "auto"'),
    ],
)
def test_profile_validation_errors(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(FileFormatError, match=message) as info:
        Profile.from_toml(path)
    assert str(path) in str(info.value)


def test_an_unknown_profile_name_is_a_lookup_error():
    with pytest.raises(LookupError, match=r"unknown profile 'no-such-profile'"):
        load_profile("no-such-profile")


def test_detect_profile_picks_the_one_that_matches(files):
    path = files.csv("prices.csv", [HEADER, *ITEMS], title=TITLE)
    other = Profile(
        name="other", columns={"supplier_code": "Cat No", "description": "Item", "brand": "Range", "price": "Net"}
    )
    assert detect_profile(path, [other, PROFILE]).name == "test"


def test_detect_profile_skips_profiles_for_another_sheet(files):
    path = files.xlsx("book.xlsx", [HEADER, *ITEMS], title=TITLE, sheet="Price List")
    elsewhere = Profile(name="elsewhere", columns=COLUMNS, sheet="Tarif")
    here = Profile(name="here", columns=COLUMNS, sheet="Price List")
    assert detect_profile(path, [elsewhere, here]).name == "here"


def test_detect_profile_prefers_the_most_specific(files):
    path = files.csv("prices.csv", [HEADER, *ITEMS])
    fewer = Profile(name="fewer", columns={k: COLUMNS[k] for k in ("supplier_code", "description", "brand", "price")})
    assert detect_profile(path, [fewer, PROFILE]).name == "test"


def test_detect_profile_refuses_when_none_matches(files):
    path = files.csv("prices.csv", [["Cat No", "Item", "Net"], ["1", "x", "2"]])
    with pytest.raises(LookupError, match=r"prices\.csv: no shipped profile matches"):
        detect_profile(path, [PROFILE])


def test_detect_profile_refuses_when_ambiguous(files):
    path = files.csv("prices.csv", [HEADER, *ITEMS])
    twin = Profile(name="twin", columns=dict(COLUMNS))
    with pytest.raises(LookupError, match=r"several profiles match \(test, twin\); pass --profile"):
        detect_profile(path, [PROFILE, twin])


# --------------------------------------------------------------------------- the engine's own formats

SPEC = TableSpec(
    "usage",
    required=["quantity", "unit_price", "date"],
    optional=["gtin", "item_code", "supplier"],
    one_of=[("gtin", "item_code")],
    aliases={
        "quantity": ["qty"],
        "unit_price": ["unit_cost"],
        "item_code": ["supplier_code", "cat_no"],
        "supplier": ["supplier_code", "vendor"],
    },
)


def test_read_table_matches_headings_by_alias_and_keeps_the_files_headings(files):
    path = files.csv(
        "usage.csv",
        [["Report: theatre usage"], ["Cat. No.", "QTY", "Unit Cost", "Date"], ["A-1", "2", "10.00", "2026-04-01"]],
    )
    frame = read_table(path, SPEC)
    assert frame.loc[0, ["item_code", "quantity", "unit_price", "date", "gtin"]].tolist() == [
        "A-1",
        "2",
        "10.00",
        "2026-04-01",
        "",
    ]
    assert frame.attrs["headings"] == {
        "item_code": "Cat. No.",
        "quantity": "QTY",
        "unit_price": "Unit Cost",
        "date": "Date",
    }
    assert frame["_row"].tolist() == [3]


@pytest.mark.parametrize(
    "header",
    [
        ["Supplier Code", "Item Code", "Qty", "Unit Cost", "Date"],
        ["Item Code", "Supplier Code", "Qty", "Unit Cost", "Date"],
    ],
)
def test_an_alias_shared_by_two_columns_goes_to_the_one_still_free(files, header):
    """``supplier_code`` is the item code, unless an item code column is there too."""
    values = {"Supplier Code": "SUP-B", "Item Code": "12-345", "Qty": "1", "Unit Cost": "5", "Date": "2026-04-01"}
    path = files.csv("usage.csv", [header, [values[h] for h in header]])
    frame = read_table(path, SPEC)
    assert frame.loc[0, "item_code"] == "12-345"
    assert frame.loc[0, "supplier"] == "SUP-B"
    only_code = files.csv("usage2.csv", [["Supplier Code", "Qty", "Unit Cost", "Date"], ["12-345", "1", "5", "x"]])
    assert read_table(only_code, SPEC).loc[0, ["item_code", "supplier"]].tolist() == ["12-345", ""]


def test_read_table_names_the_missing_columns(files):
    path = files.csv("usage.csv", [["Qty", "Unit Cost", "When"], ["1", "2", "3"]])
    with pytest.raises(FileFormatError) as info:
        read_table(path, SPEC)
    assert str(info.value) == (
        "usage.csv: not a usage file: missing required column(s) date, one of gtin/item_code (see docs/formats.md)"
    )


def test_read_table_reads_xlsx(files):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["GTIN", "Qty", "Unit Cost", "Date"])
    sheet.append([5012345001007, 3, 99.5, dt.date(2026, 5, 1)])
    path = files.path("usage.xlsx")
    workbook.save(path)
    frame = read_table(path, SPEC)
    assert frame.loc[0, ["gtin", "quantity", "unit_price", "date"]].tolist() == [
        "5012345001007",
        "3",
        "99.5",
        "2026-05-01",
    ]


def _frame_row_by_row(header, body, first_row, mapping):
    """The rows-to-frame step as it was written first (one row at a time): the reference."""
    keys = [heading_key(c) for c in header]
    positions = {fld: keys.index(heading_key(c)) for fld, c in mapping.items()}
    width = max(positions.values()) + 1
    columns: dict[str, list[str]] = {fld: [] for fld in mapping}
    numbers = []
    for offset, row in enumerate(body):
        if not any(row):
            continue
        if len(row) < width:
            row = list(row) + [""] * (width - len(row))
        for fld, pos in positions.items():
            columns[fld].append(row[pos])
        numbers.append(first_row + offset)
    frame = pd.DataFrame(columns, dtype="object")
    frame[ROW_COLUMN] = pd.Series(numbers, dtype="int64")
    return frame


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(["", "", "x", " y", "12"]), max_size=6), max_size=12),
    st.lists(st.integers(0, 4), min_size=1, max_size=4, unique=True),
)
def test_rows_become_the_same_frame_as_row_by_row(body, picked):
    header = ["A", "B", "C", "D", "E"]
    mapping = {f"f{i}": header[p] for i, p in enumerate(picked)}
    pd.testing.assert_frame_equal(_frame_from(header, body, 3, mapping), _frame_row_by_row(header, body, 3, mapping))
