"""A plain XLSX package's view without openpyxl (catalogues.xlsx_package): openpyxl's own, or none."""

import datetime as dt
import re
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.styles.numbers import BUILTIN_FORMATS
from openpyxl.styles.numbers import is_date_format as openpyxl_is_date_format

from catalogues import xlsx_files, xlsx_package

pytest.importorskip("python_calamine")

LIMIT = xlsx_files.CALAMINE_MAX_XML_BYTES


def openpyxl_view(path: Path, sheet: str | None = None):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        view = xlsx_files._openpyxl_view(path.read_bytes(), sheet)
    return view, [str(w.message) for w in caught]


def plain(path: Path, sheet: str | None = None):
    found = xlsx_package.plain_view(
        path.read_bytes(), sheet, max_sheet_bytes=LIMIT, cells_well_formed=xlsx_files._cells_well_formed
    )
    return None if found is None else found[0]


def styled_workbook(path: Path, variant: str) -> Path:
    """Price lists as openpyxl writes them, each with other styles, sheets and properties."""
    book = Workbook()
    sheet = book.active
    sheet.title = {"names": "Prices & <Terms> \"2027\" 'UK' – Größe"}.get(variant, "Price List")
    sheet.append(["Alpha Orthopaedics price list"])
    sheet.append(["Code", "GTIN", "Description", "Price", "Valid from"])
    for i in range(30):
        sheet.append([f"A-{i:03d}", f"0501234500{i:04d}", f"Stem size {i}", 100 + i / 4, None])
    sheet["A1"].font = Font(bold=True, size=14, italic=variant == "fonts", underline="single", color="FF0000")
    if variant == "fonts":
        sheet["B2"].font = Font(name="Arial", strike=True, vertAlign="superscript", scheme="minor", charset=0)
        sheet["C2"].font = Font(color="FF112233", family=2, outline=True, shadow=True)
    if variant == "fills":
        sheet["A2"].fill = PatternFill("solid", fgColor="FFFF00")
        sheet["B2"].fill = PatternFill("darkTrellis", fgColor="00FF00", bgColor="0000FF")
    if variant == "borders":
        thin, thick = Side(style="thin", color="000000"), Side(style="thick")
        sheet["A2"].border = Border(left=thin, right=thick, top=thin, bottom=thin, diagonal=thin, diagonalUp=True)
    if variant == "alignment":
        sheet["A2"].alignment = Alignment(horizontal="center", vertical="top", wrap_text=True, indent=2)
        sheet["B2"].protection = Protection(locked=False, hidden=True)
    if variant in ("formats", "dates"):
        for row in sheet.iter_rows(min_row=3, min_col=4, max_col=4):
            row[0].number_format = "£#,##0.00"
        sheet["B3"].number_format = "@"
    if variant == "dates":
        sheet["E3"] = dt.datetime(2027, 4, 1)
        sheet["E4"].number_format = 'yyyy-mm-dd;"never"'
        sheet["E5"].number_format = "[h]:mm:ss"
        sheet["E6"].number_format = '"Quoted days" 0'  # not a date: the letters are quoted
    if variant == "layout":
        sheet.merge_cells("A1:E1")
        sheet.freeze_panes = "A3"
        sheet.column_dimensions["C"].width = 60
        sheet.column_dimensions["A"].hidden = True
        sheet.sheet_properties.tabColor = "1072BA"
    if variant == "sheets":
        cover = book.create_sheet("Cover", 0)
        cover.append(["Prices valid from 1 April 2027. E&OE."])
        hidden = book.create_sheet("Old prices")
        hidden.sheet_state = "hidden"
        hidden.append(["superseded"])
        book.active = 1
    if variant == "properties":
        book.properties.title = "Price list & terms"
        book.properties.creator = "Alpha <pricing>"
        book.properties.keywords = "hips, knees"
        book.properties.lastModifiedBy = "someone"
    if variant == "1904":
        book.epoch = dt.datetime(1904, 1, 1)  # openpyxl.utils.datetime.CALENDAR_MAC_1904
    book.save(path)
    return path


VARIANTS = ["plain", "fonts", "fills", "borders", "alignment", "formats", "dates", "layout", "sheets", "names"]
VARIANTS += ["properties", "1904"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_openpyxl_written_workbooks_get_openpyxl_s_own_view_without_openpyxl(tmp_path, variant):
    path = styled_workbook(tmp_path / f"{variant}.xlsx", variant)
    names = [None, "Price List", "Cover", "Old prices", "Prices & <Terms> \"2027\" 'UK' – Größe", "missing"]
    answered = 0
    for name in names:
        expected, warned = openpyxl_view(path, name)
        got = plain(path, name)
        if got is not None:
            answered += 1
            assert got == expected
            assert not warned  # nothing openpyxl would have warned about goes unsaid
    assert answered >= 1  # the shape is the plain one: the view was found without openpyxl


def test_the_date_styles_are_the_ones_openpyxl_finds(tmp_path):
    path = styled_workbook(tmp_path / "dates.xlsx", "dates")
    view = plain(path)
    assert view is not None and view[2] == openpyxl_view(path)[0][2] and len(view[2]) >= 2


FORMAT_CODES = [
    *BUILTIN_FORMATS.values(),
    "yyyy-mm-dd",
    '"Due" d',
    "[Red]0.00",
    "[$-409]d-mmm-yy",
    "0.00_ ;[Red]-0.00 ",
    r"\d0",
    "_d0",
    "[hh]:mm",
    "mm:ss.0",
    "General;[Red]yyyy",
    "£#,##0.00",
    "@",
    "",
]


@pytest.mark.parametrize("code", FORMAT_CODES)
def test_date_formats_are_told_as_openpyxl_tells_them(code):
    assert xlsx_package.is_date_format(code) == openpyxl_is_date_format(code)


def test_the_builtin_formats_are_openpyxl_s():
    assert xlsx_package._BUILTIN_FORMATS == BUILTIN_FORMATS


def edited(source: Path, target: Path, part: str, edit) -> Path:
    """A copy of ``source`` with ``part`` replaced by ``edit(text)`` (None: removed; a new part: added)."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        names = zin.namelist()
        for name in names:
            text = zin.read(name).decode("utf-8")
            if name == part:
                new = edit(text)
                assert new != text, "the edit did not apply"
                if new is None:
                    continue
                text = new
            zout.writestr(name, text.encode("utf-8", "surrogateescape"))
        if part not in names:
            zout.writestr(part, edit(None))
    return target


def swap(old: str, new: str):
    def edit(text: str) -> str:
        assert old in text, f"{old!r} is not in the part"
        return text.replace(old, new, 1)

    return edit


SHEET = "xl/worksheets/sheet1.xml"
# Edits of the parts openpyxl reads. Each either leaves the plain shape (None: openpyxl is asked)
# or is one openpyxl reads as this module does: never a different answer.
EDITS = {
    "font size not a number": ("xl/styles.xml", swap('<sz val="14"', '<sz val="big"')),
    "tint out of range": ("xl/styles.xml", swap('<color rgb="00FF0000"', '<color tint="2" rgb="00FF0000"')),
    "unknown pattern": ("xl/styles.xml", swap('patternType="gray125"', 'patternType="stripes"')),
    "font beyond the list": ("xl/styles.xml", swap('fontId="1"', 'fontId="9"')),
    "named style with no format": ("xl/styles.xml", swap('xfId="0" builtinId="0"', 'xfId="5" builtinId="0"')),
    "named style with no name": ("xl/styles.xml", swap('name="Normal" ', "")),
    "no named styles": ("xl/styles.xml", lambda t: t[: t.index("<cellStyles")] + t[t.index("</cellStyles>") + 13 :]),
    "no style sheet": ("xl/styles.xml", lambda t: None),
    "unknown style element": ("xl/styles.xml", swap("<fills", '<dxfs count="0" /><fills')),
    "unknown attribute": ("xl/styles.xml", swap("<fonts ", '<fonts x14ac:knownFonts="1" ')),
    "repeated attribute": ("xl/workbook.xml", swap('sheetId="1"', 'sheetId="1" sheetId="2"')),
    "date1904 not a flag": ("xl/workbook.xml", swap("<workbookPr", '<workbookPr date1904="maybe"')),
    "sheet state unknown": ("xl/workbook.xml", swap('state="visible"', 'state="shown"')),
    "a defined name": (
        "xl/workbook.xml",
        swap("<definedNames", '<definedNames><definedName name="x">Sheet!$A$1</definedName></definedNames><x'),
    ),
    "sheet id with no relationship": ("xl/workbook.xml", swap('r:id="rId1"', 'r:id="rId9"')),
    "no r namespace": (
        "xl/workbook.xml",
        swap('xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" ', ""),
    ),
    "undeclared entity": ("xl/workbook.xml", swap('name="Price List"', 'name="Price&nbsp;List"')),
    "character reference": ("xl/workbook.xml", swap('name="Price List"', 'name="Price&#32;List"')),
    "comment": ("xl/workbook.xml", swap("<sheets>", "<!-- c --><sheets>")),
    "doctype": ("xl/workbook.xml", lambda t: "<!DOCTYPE workbook>" + t),
    "not UTF-8": ("xl/workbook.xml", swap("Price List", "Pr\udcffice List")),
    "sheet missing from the package": (
        "xl/_rels/workbook.xml.rels",
        swap("/xl/worksheets/sheet1.xml", "/xl/worksheets/sheet9.xml"),
    ),
    "chart sheet relationship": (
        "xl/_rels/workbook.xml.rels",
        swap("relationships/worksheet", "relationships/chartsheet"),
    ),
    "shared strings declared": (
        "[Content_Types].xml",
        swap(
            "</Types>",
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sharedStrings+xml" /></Types>',
        ),
    ),
    "template workbook": (
        "[Content_Types].xml",
        swap("spreadsheetml.sheet.main+xml", "spreadsheetml.template.main+xml"),
    ),
    "a part openpyxl reads": ("docProps/custom.xml", lambda t: "<Properties />"),
    "comments of a sheet": ("xl/worksheets/_rels/sheet1.xml.rels", lambda t: "<Relationships />"),
    "core date not a date": ("docProps/core.xml", lambda t: t.replace("T", "X", 1) if "created" in t else t + " "),
    "core date impossible": (
        "docProps/core.xml",
        lambda t: (
            t[: t.index("<dcterms:created")]
            + '<dcterms:created xsi:type="dcterms:W3CDTF">2027-02-30T00:00:00Z</dcterms:created>'
            + t[t.index("</dcterms:created>") + len("</dcterms:created>") :]
        ),
    ),
    "CDATA end in a property": ("docProps/core.xml", swap("Alpha &lt;pricing&gt;", "Alpha ]]&gt; ]]> pricing")),
    "space before the declaration": ("docProps/core.xml", lambda t: ' <?xml version="1.0"?>' + t),
    "dimension beyond the sheet": (SHEET, swap('<dimension ref="A1:E32"', '<dimension ref="A1:XFE32"')),
    "dimension of row 0": (SHEET, swap('<dimension ref="A1:E32"', '<dimension ref="A0:E32"')),
    "no dimension": (SHEET, swap('<dimension ref="A1:E32" />', "")),
    "column range reversed": (SHEET, swap('min="3" max="3"', 'min="3" max="2"')),
    "bad merge": (SHEET, swap('<mergeCell ref="A1:E1"', '<mergeCell ref="A1:E"')),
    "sheet format not a number": (SHEET, swap('baseColWidth="8"', 'baseColWidth="wide"')),
    "pane state unknown": (SHEET, swap('state="frozen"', 'state="melted"')),
    "an element openpyxl reads besides the cells": (
        SHEET,
        swap("<pageMargins", '<autoFilter ref="A2:E32" /><pageMargins'),
    ),
}


STILL_PLAIN = {"no dimension"}  # openpyxl reads no size either (calamine then leaves the sheet to it)


@pytest.mark.parametrize("case", sorted(EDITS))
def test_an_edited_package_is_openpyxl_s_to_answer_unless_it_is_read_the_same(tmp_path, case):
    part, edit = EDITS[case]
    base = styled_workbook(tmp_path / "base.xlsx", "layout")
    if part == "docProps/core.xml":
        base = styled_workbook(tmp_path / "base.xlsx", "properties")
    assert plain(base, "Price List") == openpyxl_view(base, "Price List")[0]
    path = edited(base, tmp_path / "edited.xlsx", part, edit)
    got = plain(path, "Price List")
    expected, _ = openpyxl_view(path, "Price List")
    if got is not None:
        assert got == expected
    # where openpyxl refuses the package (or its sheet), this module never answers
    if expected is None:
        assert got is None
    if case in STILL_PLAIN:
        assert got is not None  # answered, and as openpyxl answers (above)
    else:
        assert got is None  # the edit left the plain shape


def test_a_plain_workbook_is_read_without_importing_openpyxl(tmp_path):
    path = styled_workbook(tmp_path / "layout.xlsx", "layout")
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from catalogues.read import read_grid\n"
        f"rows = read_grid(Path({str(path)!r}))\n"
        "assert rows[2][0] == 'A-000', rows[:3]\n"
        "print('openpyxl' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
    assert xlsx_files._calamine_rows(path.read_bytes(), None) == list(
        xlsx_files._openpyxl_rows(path, path.read_bytes(), None)
    )


SMALL_PARTS = ["[Content_Types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml", SHEET]
VALUE = re.compile(r'="([^"]*)"')


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bases")
    return [styled_workbook(folder / f"{v}.xlsx", v) for v in ("layout", "dates", "fonts", "borders", "sheets")]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    base=st.integers(0, 4),
    part=st.sampled_from(SMALL_PARTS),
    which=st.integers(0, 10_000),
    value=st.text(alphabet="0123456789-.eE+AZaz &;#<>\"'_xX:/]\t", max_size=6),
)
def test_any_attribute_value_changed_gets_openpyxl_s_view_or_none(tmp_path_factory, bases, base, part, which, value):
    """Fuzz: one attribute value of a part openpyxl reads, changed to arbitrary text."""
    source = bases[base]
    with zipfile.ZipFile(source) as book:
        text = book.read(part).decode("utf-8")
    places = list(VALUE.finditer(text))
    place = places[which % len(places)]
    changed = text[: place.start(1)] + value + text[place.end(1) :]
    if changed == text:
        return
    path = edited(source, tmp_path_factory.mktemp("fuzz") / "edited.xlsx", part, lambda _: changed)
    got = plain(path, "Price List")
    if got is not None:
        assert got == openpyxl_view(path, "Price List")[0]
