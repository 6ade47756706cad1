"""XLSX sheets (catalogues.xlsx_files): python-calamine reads exactly what openpyxl reads, or falls back to it."""

import datetime as dt
import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from catalogues import xlsx_files
from catalogues.read import FileFormatError, iter_rows, read_grid

pytest.importorskip("python_calamine")

BAD = Path(__file__).parent.parent / "data" / "bad"


def openpyxl_rows(path: Path) -> list[list[str]]:
    return list(xlsx_files._openpyxl_rows(path, path.read_bytes(), None))


def calamine_rows(path: Path) -> list[list[str]] | None:
    return xlsx_files._calamine_rows(path.read_bytes(), None)


def workbook(path: Path, rows, *, merge: str | None = None, dates: bool = False) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = "Price List"
    for row in rows:
        sheet.append(row)
    if merge:
        sheet.merge_cells(merge)
    if dates:
        sheet.append(["Valid from", dt.datetime(2026, 4, 1)])
    book.save(path)
    return path


def patched(source: Path, target: Path, sheet_xml) -> Path:
    """A copy of ``source`` whose first sheet's XML is ``sheet_xml(old_xml)`` (which must differ)."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                edited = sheet_xml(data.decode()).encode("utf-8", "surrogateescape")  # "\udcff": byte 0xff
                assert edited != data, "the edit did not apply"
                data = edited
            zout.writestr(item, data)
    return target


ROWS = [
    ["Alpha Orthopaedics price list", None, None, None],
    ["Product Code", "GTIN", "Description", "Pack Price"],
    ["A-100", 5012345001007, "  Cemented   stem ", 1000],
    ["A-200", "05012345002004", "Uncemented HA stem", 425.5],
    [None, None, None, None],
    ["A-300", "0123", True, "£12.00"],
]


@pytest.mark.parametrize("name", sorted(p.name for p in BAD.glob("*.xlsx")))
def test_the_bad_input_corpus_reads_the_same_either_way(name):
    path = BAD / name
    fast = calamine_rows(path)
    if fast is None:
        return  # read by openpyxl, as before
    assert fast == openpyxl_rows(path)


def test_a_plain_price_list_is_read_by_calamine_exactly_as_openpyxl_reads_it(tmp_path):
    path = workbook(tmp_path / "prices.xlsx", ROWS, merge="A1:D1")
    fast = calamine_rows(path)
    assert fast is not None
    assert fast == openpyxl_rows(path)
    assert fast[2] == ["A-100", "5012345001007", "Cemented   stem", "1000"]
    assert read_grid(path) == fast


EDITS = {
    # calamine blanks #N/A; openpyxl keeps the text
    "error cell": lambda x: x.replace('<c r="D3" t="n"><v>1000</v></c>', '<c r="D3" t="e"><v>#N/A</v></c>'),
    # date detection rules differ between the two
    "date cell": lambda x: x.replace("Valid from", "Valid from (dd/mm/yyyy)"),
    # calamine decodes _x000D_; openpyxl keeps it
    "escaped character": lambda x: x.replace("Uncemented HA stem", "Uncemented_x000D_HA stem"),
    # openpyxl stops at the declared dimension
    "stale dimension": lambda x: x.replace('<dimension ref="A1:D6" />', '<dimension ref="A1:B2" />'),
    # without a dimension openpyxl sizes each row by its last cell
    "no dimension": lambda x: x.replace('<dimension ref="A1:D6" />', ""),
    # openpyxl reads an int, calamine a float
    "huge integer": lambda x: x.replace("<v>1000</v>", "<v>1000000000000000000</v>"),
    # openpyxl refuses a number that is not one; calamine reads it as text
    "not a number": lambda x: x.replace("<v>1000</v>", "<v>12,5</v>"),
    # openpyxl converts 1_000 (Python's int()); calamine keeps the text
    "python-only number": lambda x: x.replace("<v>1000</v>", "<v>1_000</v>"),
    # a cell whose reference names another row: the two place it differently
    "misplaced cell": lambda x: x.replace('<c r="A4" ', '<c r="A1" '),
    # a namespace openpyxl does not know: it finds no cells
    "other namespace": lambda x: x.replace("spreadsheetml/2006/main", "spreadsheetml/2006/mainx", 1),
    # well formed, but not a worksheet's shape
    "unknown element": lambda x: x.replace("<is><t>A-200</t></is>", "<is><x>A-200</x></is>"),
    # openpyxl refuses what it parses besides the cells
    "bad sheet format": lambda x: x.replace('baseColWidth="8"', 'baseColWidth="wide"'),
    # malformed XML in the cells (expat refuses it; calamine might read past it)
    "undeclared entity": lambda x: x.replace("Uncemented HA stem", "Uncemented &nbsp; stem"),
    "control character": lambda x: x.replace("Uncemented HA stem", "Uncemented\x01HA stem"),
    "forbidden character": lambda x: x.replace("Uncemented HA stem", "Uncemented\uffffHA stem"),
    "CDATA end in text": lambda x: x.replace("Uncemented HA stem", "Uncemented ]]> stem"),
    "repeated attribute": lambda x: x.replace('<row r="4">', '<row r="4" ht="15" ht="16">'),
    "malformed attribute": lambda x: x.replace('<row r="4">', '<row r="4" ht=15>'),
    "not UTF-8": lambda x: x.replace("Uncemented", "Unc\udcffemented"),
}


@pytest.mark.parametrize("case", sorted(EDITS))
def test_cells_calamine_could_read_differently_send_the_file_to_openpyxl(tmp_path, case):
    base = workbook(tmp_path / "base.xlsx", ROWS, dates=case == "date cell")
    edits = EDITS
    path = patched(base, tmp_path / "edited.xlsx", edits[case])
    assert calamine_rows(path) is None
    try:
        expected = openpyxl_rows(path)
    except FileFormatError as exc:
        with pytest.raises(FileFormatError, match=re.escape(str(exc))):
            list(iter_rows(path))
    else:
        assert list(iter_rows(path)) == expected


LONG = [ROWS[1]] + [[f"L-{i:05d}", f"0501234500{i:04d}", f"Locking plate {i} hole", 100 + i / 4] for i in range(3000)]


class _Spy:
    """A stand-in for a compiled pattern that counts its ``fullmatch`` calls."""

    def __init__(self, pattern):
        self.pattern, self.calls = pattern, 0

    def fullmatch(self, data):
        self.calls += 1
        return self.pattern.fullmatch(data)


def test_a_long_plain_price_list_is_checked_by_the_plain_grammar_alone(tmp_path, monkeypatch):
    spy = _Spy(xlsx_files._SHEET_DATA)
    monkeypatch.setattr(xlsx_files, "_SHEET_DATA", spy)
    path = workbook(tmp_path / "long.xlsx", LONG)
    fast = calamine_rows(path)
    assert spy.calls == 0  # the plain grammar matched: the loose one (and its search) was not needed
    assert fast is not None and fast == openpyxl_rows(path)


LATE_EDITS = {
    # loose markup past the part of the sheet looked at before choosing the plain grammar
    "late repeated attribute": (lambda x: x.replace('<row r="3001">', '<row r="3001" ht="15" ht="16">'), False),
    "late malformed attribute": (lambda x: x.replace('<row r="3001">', '<row r="3001" ht=15>'), False),
    "late formula": (lambda x: x.replace('<c r="D3001" t="n"><v>', '<c r="D3001" t="n"><f>1+1</f><v>'), True),
    "late text run": (
        lambda x: x.replace(
            "<is><t>Locking plate 2999 hole</t></is>", "<is><r><t>Locking plate 2999 hole</t></r></is>"
        ),
        True,
    ),
    "late CDATA end": (lambda x: x.replace("Locking plate 2999 hole", "Locking ]]> plate"), False),
}


@pytest.mark.parametrize("case", sorted(LATE_EDITS))
def test_loose_markup_late_in_a_long_sheet_is_checked_as_anywhere_else(tmp_path, case):
    edit, calamine_may_read = LATE_EDITS[case]
    path = patched(workbook(tmp_path / "long.xlsx", LONG), tmp_path / "edited.xlsx", edit)
    assert len(zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml")) > 4 * xlsx_files._LOOSE_LOOKAHEAD
    fast = calamine_rows(path)
    if not calamine_may_read:
        assert fast is None
    try:
        expected = openpyxl_rows(path)
    except FileFormatError:
        assert fast is None
        return
    assert fast is None or fast == expected
    if calamine_may_read:
        assert fast == expected  # well formed: read by calamine, through the loose grammar


SHARED = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="Prices" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'worksheet" Target="worksheets/sheet1.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'sharedStrings" Target="sharedStrings.xml"/></Relationships>'
    ),
    "xl/worksheets/sheet1.xml": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<dimension ref="A1:C3"/><sheetData>'
        '<row r="1" spans="1:3"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>'
        '<c r="C1" t="s"><v>2</v></c></row>'
        '<row r="3" spans="1:3"><c r="A3" t="s"><v>3</v></c><c r="B3"><v>5012345001007</v></c>'
        '<c r="C3"><f>500*2.5</f><v>1250.5</v></c></row>'
        "</sheetData></worksheet>"
    ),
    "xl/sharedStrings.xml": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="4" uniqueCount="4">'
        '<si><t>Product Code</t></si><si><t>GTIN</t></si><si><r><t xml:space="preserve">Pack </t></r>'
        "<r><rPr><b/></rPr><t>Price</t></r></si><si><t>A-100</t></si></sst>"
    ),
}


def test_text_with_entities_and_accents_is_read_by_calamine_as_openpyxl_reads_it(tmp_path):
    rows = [["Code", "Description"], ["S&N-1", "Smith & Nephew <Größe 5> \"A/B\" 'x' – ±2°"]]
    path = workbook(tmp_path / "prices.xlsx", rows)
    fast = calamine_rows(path)
    assert fast is not None
    assert fast == openpyxl_rows(path)
    assert fast[1][1] == "Smith & Nephew <Größe 5> \"A/B\" 'x' – ±2°"


def test_shared_strings_as_excel_writes_them_are_read_by_calamine_as_openpyxl_reads_them(tmp_path):
    path = tmp_path / "excel.xlsx"
    with zipfile.ZipFile(path, "w") as book:
        for name, text in SHARED.items():
            book.writestr(name, text)
    fast = calamine_rows(path)
    assert fast is not None
    assert (
        fast
        == openpyxl_rows(path)
        == [
            ["Product Code", "GTIN", "Pack Price"],
            ["", "", ""],
            ["A-100", "5012345001007", "1250.5"],
        ]
    )


def test_without_python_calamine_openpyxl_reads_every_workbook(tmp_path, monkeypatch):
    import builtins

    path = workbook(tmp_path / "prices.xlsx", ROWS)
    real_import = builtins.__import__

    def no_calamine(name, *args, **kwargs):
        if name == "python_calamine":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_calamine)
    assert calamine_rows(path) is None
    assert read_grid(path) == openpyxl_rows(path)


@pytest.mark.parametrize(
    ("xml", "extent"),
    [
        (b"<sheetData/>", (0, 0)),
        (b'<row r="1"><c r="A1"/><c r="C1"/></row><row r="4" spans="1:2"><c r="AB4"/></row>', (4, 28)),
        (b'<row r="2"><c r="B2"/></row><row r="2"><c r="C2"/></row>', None),  # a row repeated
        (b'<row r="3"><c r="B2"/></row>', None),  # a cell naming another row
        (b'<row r="3"><c r="C3"/><c r="B3"/></row>', None),  # cells out of order
        (b'<row r="0"><c r="A0"/></row>', None),
        (b'<row r="A5"><c r="B5"/></row>', None),  # a row named like a cell is a cell (of no row)
    ],
)
def test_the_extent_of_a_sheet_is_found_only_where_rows_and_cells_are_in_order(xml, extent):
    assert xlsx_files._extent(xml) == extent


@pytest.mark.parametrize(
    ("xml", "styles", "used"),
    [
        (b'<row r="1"><c r="A1" s="3"/></row>', {3}, True),
        (b'<row r="1"><c r="A1" s="3"/></row>', {33}, False),
        (b'<row r="1"><c r="A1" s="33"/></row>', {3}, False),
        (b'<row r="1"><c r="A1" s="007"/></row>', {7}, True),  # leading zeros: style 7
        (b'<row r="1"><c r="A1"/></row>', {0}, True),  # no "s": style 0
        (b'<row r="1" s="4" customFormat="1"><c r="A1"/></row>', {4}, True),  # a row's style counts too
        (b'<row r="1"><c r="A1" s="9"/></row>', set(range(1, 20)), True),  # many styles: collected
    ],
)
def test_a_date_style_is_found_wherever_a_cell_or_row_uses_it(xml, styles, used):
    assert xlsx_files._uses_a_style(xml, styles) is used
