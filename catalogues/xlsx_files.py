"""XLSX workbooks: a sheet's rows as lists of text, as openpyxl reads them.

Cells read as openpyxl (read-only, cached formula results) reads them: numbers that
are whole as integers (GTINs and codes typed as numbers), dates as ISO text. A sheet
that python-calamine is sure to read identically is read by calamine instead, several
times faster (see ``_calamine_rows``); anything else streams through openpyxl. A
workbook or sheet that cannot be read raises ``FileFormatError`` naming the file.
"""

import contextlib
import datetime as dt
import io
import math
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from catalogues.errors import FileFormatError
from catalogues.xlsx_package import MAX_COLUMNS, MAX_ROWS, plain_view


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        # Excel stores GTINs and codes typed as numbers as floats.
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def xlsx_rows(path: Path, data: bytes, sheet: str | None) -> Iterator[list[str]]:
    """The rows of an XLSX workbook's sheet (the first if ``sheet`` is None) as lists of
    stripped text: through calamine when it reads them exactly as openpyxl, else openpyxl."""
    fast = _calamine_rows(data, sheet)
    if fast is not None:
        yield from fast
        return
    yield from _openpyxl_rows(path, data, sheet)


def load_readers() -> None:
    """Import the XLSX reader a plain workbook needs now (calamine): ``import_catalogues``'s
    workers do as they start, before their first file. openpyxl (~0.06 s to import) is
    imported where a workbook needs it: one ``plain_view`` does not answer for."""
    with contextlib.suppress(ImportError):
        import python_calamine  # noqa: F401


def _pick_sheet(workbook, sheet: str | None):
    """The named sheet of an openpyxl workbook, the first if ``sheet`` is None; None if absent."""
    if sheet is None:
        return workbook.worksheets[0]
    return workbook[sheet] if sheet in workbook.sheetnames else None


def _openpyxl_rows(path: Path, data: bytes, sheet: str | None) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        kind = (
            "an HTML page"
            if data.lstrip()[:15].lower().startswith((b"<!doctype", b"<html"))
            else "damaged or not an XLSX workbook"
        )
        raise FileFormatError(f"{path.name}: cannot be opened as XLSX: {kind} ({type(exc).__name__})") from exc
    try:
        try:
            worksheet = _pick_sheet(workbook, sheet)
            if worksheet is None:
                raise FileFormatError(
                    f"{path.name}: no sheet named {sheet!r} (sheets: {', '.join(workbook.sheetnames)})"
                )
            rows = worksheet.iter_rows(values_only=True)
        except FileFormatError:
            raise
        except Exception as exc:
            raise FileFormatError(f"{path.name}: damaged XLSX sheet: {exc}") from exc
        while True:  # one row at a time: the sheet is parsed as it is read
            try:
                row = [_cell_text(v) for v in next(rows)]
            except StopIteration:
                break
            except Exception as exc:
                raise FileFormatError(f"{path.name}: damaged XLSX sheet: {exc}") from exc
            yield row
    finally:
        workbook.close()


# ---- XLSX through python-calamine (Rust), with openpyxl as the reference and fallback.
#
# openpyxl's read-only parser is the reference for what a cell reads as; calamine reads
# a sheet many times faster. Calamine is used only where it cannot read differently:
# openpyxl opens the workbook first (anything it refuses stays its to refuse, with its
# message) and names the sheet, its dimension and the styles it reads as dates; for a
# package of the plain shape openpyxl itself writes, ``xlsx_package.plain_view`` finds
# the same answers without openpyxl (its import alone costs ~0.06 s). Anything
# calamine would read otherwise sends the file to openpyxl: error cells such as #N/A
# (calamine blanks them), cells styled as dates or times (the two detect them by
# different rules), ISO-date cells, "_x000D_" escapes (calamine decodes them), integers
# beyond float precision, numeric cells holding something other than a plain number
# (calamine keeps them as text, openpyxl refuses or converts them), malformed sheet XML
# (calamine may read past it) and a sheet larger than its <dimension> (openpyxl stops
# there). Calamine holds the whole sheet in memory, so large sheets, and sparse ones
# whose extent would be huge, stream through openpyxl instead.
CALAMINE_MAX_XML_BYTES = 64 << 20  # uncompressed sheet XML
CALAMINE_MAX_CELLS = 4_000_000  # rows x columns of the sheet's extent
# Byte patterns over the sheet XML; they only decide whether calamine may be used, so
# each errs towards openpyxl (an unusual but valid file just takes the slower path).
_ESCAPED_CHAR = re.compile(rb"_x[0-9A-Fa-f]{4}_")
_ESCAPED_TEXT = re.compile(r"_x[0-9A-Fa-f]{4}_")
# A row's number ("12") or a cell's reference ("AB12"): the places "<row r=(digits)" or
# " r=(letters)(digits)" name, as one group, found from the literal ' r="' (fast to scan for).
_PLACES = re.compile(rb' r="(?:(?<=<row r=")|(?=[A-Z]))([A-Z]{0,3}[0-9]{1,7})"')
_PLACE_WIDTH = 10  # 3 letters and 7 digits at most
_STYLE_REF = re.compile(rb' s="([0-9]+)"')
_STYLE_WITH_LEADING_ZERO = re.compile(rb' s="0[0-9]')  # s="007" is style 7
# The cells calamine may read: the sheetData of the schema's common shape and nothing
# else. Cells with other types (e: errors, d: ISO dates) or attributes (rich values),
# numeric cells whose value is not a plain number (openpyxl refuses or converts them,
# calamine keeps them as text), and XML that is well formed but not a worksheet's (the
# two read it differently) go to openpyxl.
_T = rb'(?:<t(?: xml:space="preserve")?+>[^<]*</t>|<t\s*+/>)'
_RUN = rb"<r>\s*+(?:<rPr>(?:\s*+<[a-zA-Z]+(?: [a-zA-Z]+=\"[^\"<>]*\")*+\s*+/>)*+\s*+</rPr>)?+\s*+" + _T + rb"\s*+</r>"
_RICH = (
    rb"\s*+(?:" + _T + rb"|(?:" + _RUN + rb"\s*+)++)\s*+"
    rb"(?:<rPh\b[^>]*>\s*+" + _T + rb"\s*+</rPh>\s*+)*+(?:<phoneticPr\b[^>]*/>\s*+)?+"
)
_FORMULA = rb'(?:<f(?: [a-zA-Z]+="[^"<>]*")*+\s*+(?:/>|>[^<]*</f>)\s*+)?+'


def _sheet_data_pattern(plain: bool) -> re.Pattern[bytes]:
    """The sheet data's grammar; ``plain``: without formulas, text runs, phonetic text and rows
    with attributes besides r, which most price lists never use (so none of the markup that
    ``_LOOSE_MARKUP`` finds, whose attributes the grammar does not pin down)."""
    rich, formula = (rb"\s*+" + _T + rb"\s*+", b"") if plain else (_RICH, _FORMULA)
    row_attributes = b"" if plain else rb'(?: (?!xmlns)[a-zA-Z:]+="[^"<>]*")*+'

    def tail(value: bytes) -> bytes:
        return rb"(?:/>|>\s*+" + formula + rb"(?:(?:<v>" + value + rb"</v>|<v\s*+/>)\s*+)?+</c>)"

    cell = (
        rb'<c r="[A-Z]{1,3}[0-9]{1,7}"(?: s="[0-9]{1,6}")?+(?:'
        + rb'(?: t="n")?+\s*+'
        + tail(rb"-?[0-9]+(?:\.[0-9]+)?+(?:[eE][-+]?[0-9]+)?+")
        + rb'| t="s"\s*+'
        + tail(rb"[0-9]+")
        + rb'| t="b"\s*+'
        + tail(rb"[01]")
        + rb'| t="str"\s*+'
        + tail(rb"[^<]*")
        + rb'| t="inlineStr"\s*+(?:/>|>\s*+(?:<is>'
        + rich
        + rb"</is>\s*+)?+</c>))"
    )
    row = rb'<row r="[0-9]{1,7}"' + row_attributes + rb"\s*+(?:/>|>\s*+(?:" + cell + rb"\s*+)*+</row>)"
    return re.compile(rb"<sheetData\s*+/>|<sheetData>\s*+(?:" + row + rb"\s*+)*+</sheetData>")


_SHEET_DATA = _sheet_data_pattern(plain=False)
_PLAIN_SHEET_DATA = _sheet_data_pattern(plain=True)
_LOOSE_LOOKAHEAD = 1 << 16  # bytes of sheet data searched for loose markup before trying the plain grammar
_ROOT = re.compile(rb"(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>\s*)?<worksheet\b([^>]*)>")
_STRINGS = re.compile(
    rb"(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>\s*)?<sst"
    + rb' xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"(?: (?:count|uniqueCount)="[0-9]+")*\s*'
    + rb"(?:/>|>\s*(?:<si>"
    + _RICH
    + rb"</si>\s*)*</sst>)\s*"
)
_SHARED_INDEX = re.compile(rb'<c [^>]*\bt="s"[^>]*>\s*(?:<f[^>]*/>|<f[^>]*>[^<]*</f>)?\s*<v>([^<]*)</v>')
_MAIN_NS = b' xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


class _UseOpenpyxl(Exception):
    """Calamine might read this workbook differently from openpyxl."""


def _extent(data_xml: bytes) -> tuple[int, int] | None:
    """(last row, last column) of the cells, or None unless rows come in order and each
    cell sits in its row, after the cell before it (where openpyxl and calamine agree).

    Vectorised over the places (row numbers and cell references) as a byte matrix: a
    column's number is its letters in base 26 (A=1), a row's its decimal digits.
    """
    places = _PLACES.findall(data_xml)
    if not places:
        return 0, 0
    chars = np.array(places, dtype=f"S{_PLACE_WIDTH}").view(np.uint8).reshape(len(places), _PLACE_WIDTH)
    chars = chars.astype(np.int64)
    letter = chars >= ord("A")
    digit = (chars >= ord("0")) & (chars <= ord("9"))
    column = np.zeros(len(places), dtype=np.int64)
    number = np.zeros(len(places), dtype=np.int64)
    for j in range(_PLACE_WIDTH):
        column = np.where(letter[:, j], column * 26 + chars[:, j] - (ord("A") - 1), column)
        number = np.where(digit[:, j], number * 10 + chars[:, j] - ord("0"), number)
    is_row = ~letter[:, 0]
    row_numbers = number[is_row]
    if len(row_numbers) and (row_numbers[0] <= 0 or (np.diff(row_numbers) <= 0).any()):
        return None
    # The row each place is in: the number of the last row marker at or before it (0: none).
    marker = np.maximum.accumulate(np.where(is_row, np.arange(len(places)), -1))
    current = np.where(marker >= 0, number[np.maximum(marker, 0)], 0)
    cell = ~is_row
    if (number[cell] != current[cell]).any():
        return None
    # Within a row, each cell's column after the one before it (the first: any column >= 1).
    after_cell = cell[1:] & cell[:-1]
    if (column[1:][after_cell] <= column[:-1][after_cell]).any():
        return None
    return int(row_numbers[-1]) if len(row_numbers) else 0, int(column[cell].max(initial=0))


def _calamine_cell(value: object) -> str:
    if type(value) is str:
        return value.strip()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        # openpyxl reads "<v>1000000000000000</v>" as an int and "1E+15" as a float;
        # calamine reads both as a float, so such cells go to openpyxl.
        if not math.isfinite(value) or (value.is_integer() and abs(value) >= 1e15):
            raise _UseOpenpyxl
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, int):
        return str(value)
    raise _UseOpenpyxl  # a date, time or duration: openpyxl decides those


def _openpyxl_view(data: bytes, sheet: str | None) -> tuple[str, str, set[int], int | None, int | None, int] | None:
    """What openpyxl would read: (sheet title, its zip member, date style ids, max column,
    max row, number of shared strings).

    None if openpyxl would refuse the workbook or the sheet, or reads it in a way this
    module does not mirror (a chart sheet, an escaped character in the shared strings).
    """
    from openpyxl import load_workbook

    try:
        # Its warnings are the ones reading the file with openpyxl gives (once each).
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:
        return None
    try:
        worksheet = _pick_sheet(book, sheet)
        if worksheet is None:
            return None
        if any(_ESCAPED_TEXT.search(text) for text in worksheet._shared_strings):
            return None
        return (
            worksheet.title,
            worksheet._worksheet_path,  # a chart sheet has none: AttributeError
            set(book._date_formats),
            worksheet.max_column,
            worksheet.max_row,
            len(worksheet._shared_strings),
        )
    except Exception:
        return None
    finally:
        book.close()


def _openpyxl_parse(xml: bytes, date_styles: set[int]) -> None:
    """Run openpyxl's sheet parser over ``xml``: raises where openpyxl would."""
    from openpyxl.worksheet._reader import WorkSheetParser

    for _ in WorkSheetParser(io.BytesIO(xml), [], data_only=True, date_formats=date_styles).parse():
        pass


def _well_formed(xml: bytes) -> bool:
    from xml.parsers import expat  # the parser under openpyxl's ElementTree

    try:
        expat.ParserCreate().Parse(xml, True)
    except expat.ExpatError:
        return False
    return True


# Bytes that may stand in UTF-8 XML 1.0 text: tab, LF, CR and everything from the space up
# (the other C0 controls may not; multi-byte characters are checked by decoding).
_XML_BYTES = b"\t\n\r" + bytes(range(0x20, 0x100))
_NOT_NAMED_ENTITY = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos);)")
# The sheet's start when it is UTF-8: no XML declaration, or one without an encoding or with UTF-8.
_UTF8_START = re.compile(
    rb"(?:\xef\xbb\xbf)?\s*(?:<\?xml(?:(?!encoding)[^>])*(?:encoding=[\"'](?i:utf-8)[\"'][^>]*)?\?>\s*)?<worksheet\b"
)
# Markup of the sheet shape whose attributes _SHEET_DATA does not pin down (an attribute
# could be repeated or malformed there): a row with attributes besides r, formulas, runs'
# properties, phonetic text.
_LOOSE_MARKUP = re.compile(rb'<row r="[0-9]+"\s*+[^\s/>]|<f\b|<rPr\b|<rPh\b|<phoneticPr\b')


def _plain_sheet_data_well_formed(xml: bytes, data_xml: bytes, *, plain: bool = False) -> bool:
    """Whether sheet data that ``_SHEET_DATA`` matched is well-formed XML, by tests cheaper than
    expat's parse, or by expat's parse (``_well_formed`` of the whole sheet) where they cannot tell.
    ``plain``: ``_PLAIN_SHEET_DATA`` matched it too (it holds none of the loose markup).

    The shape leaves four ways for such markup to be malformed: characters XML forbids (C0
    controls, U+FFFE, U+FFFF, bytes that are not UTF-8), a reference to an undeclared entity
    (or a character reference, not tested here), "]]>" in text, and a repeated or malformed
    attribute in the markup ``_LOOSE_MARKUP`` finds. Around the sheet data, openpyxl's own
    parse of the rest (``_openpyxl_parse``) refuses malformed XML.
    """
    if (
        not _UTF8_START.match(xml)
        or data_xml.translate(None, _XML_BYTES)
        or (not plain and _LOOSE_MARKUP.search(data_xml))
        or (b"&" in data_xml and _NOT_NAMED_ENTITY.search(data_xml))
        or (b"]" in data_xml and b"]]>" in data_xml)  # one byte is found far faster than three
    ):
        return _well_formed(xml)
    try:
        text = data_xml.decode("utf-8")
    except UnicodeDecodeError:
        return _well_formed(xml)
    if "\ufffe" in text or "\uffff" in text:
        return _well_formed(xml)
    return True


def _cells_well_formed(xml: bytes, data_xml: bytes) -> bool:
    """Whether the sheet data ``data_xml`` (of the sheet ``xml``) has the shape calamine may read
    (``_SHEET_DATA``) and is well-formed XML."""
    # The plain grammar first where the sheet's start holds no loose markup (the usual price
    # list): where it matches, the search for loose markup through the whole sheet is spared.
    plain = _LOOSE_MARKUP.search(data_xml, 0, _LOOSE_LOOKAHEAD) is None and bool(_PLAIN_SHEET_DATA.fullmatch(data_xml))
    if not (plain or _SHEET_DATA.fullmatch(data_xml)):
        return False
    return _plain_sheet_data_well_formed(xml, data_xml, plain=plain)


def _uses_a_style(xml: bytes, styles: set[int]) -> bool:
    """Whether a cell of the sheet has one of ``styles`` (0 for a cell with no ``s``)."""
    if not styles:
        return False
    if 0 in styles:
        return True  # style 0 counts as used (cells without "s" have it), as it always has
    if len(styles) <= 8 and not _STYLE_WITH_LEADING_ZERO.search(xml):
        # A test per style (in C) beats collecting every cell's style.
        return any(f' s="{style}"'.encode() in xml for style in styles)
    return bool({int(s) for s in _STYLE_REF.findall(xml)} & styles)


def _calamine_rows(data: bytes, sheet: str | None) -> list[list[str]] | None:
    """The sheet's rows as openpyxl would read them, or None to read it with openpyxl."""
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:
        return None
    # A package of the plain shape is answered without openpyxl (``xlsx_package``), with what
    # lies around the sheet's cells checked; any other, openpyxl opens.
    packaged = plain_view(data, sheet, max_sheet_bytes=CALAMINE_MAX_XML_BYTES, cells_well_formed=_cells_well_formed)
    view = packaged[0] if packaged is not None else _openpyxl_view(data, sheet)
    if view is None:
        return None
    title, part, date_styles, max_col, max_row, n_shared = view
    try:
        if packaged is not None:
            xml = packaged[1]
            if b't="s"' in xml and _SHARED_INDEX.search(xml):
                return None  # no shared strings in such a package: a cell naming one is openpyxl's
        else:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if archive.getinfo(part).file_size > CALAMINE_MAX_XML_BYTES:
                    return None
                xml = archive.read(part)
                # Shared strings: openpyxl and calamine find and read the same list only when
                # it has the plain shape (text, or runs of text) at the usual place.
                indexes = _SHARED_INDEX.findall(xml) if b't="s"' in xml else []  # the scan is slow; the test is not
                if indexes:
                    if not all(i.isdigit() and int(i) < n_shared for i in set(indexes)):
                        return None
                    strings = archive.read("xl/sharedStrings.xml")
                    if not _STRINGS.fullmatch(strings) or strings.count(b"<si>") != n_shared:
                        return None
        if b"_" in xml and _ESCAPED_CHAR.search(xml):  # one byte is found far faster than two
            return None
        if _uses_a_style(xml, date_styles):
            return None
        root = _ROOT.match(xml)
        if root is None or _MAIN_NS not in root.group(1):
            return None  # another namespace: openpyxl finds no cells in it
        start, end = xml.find(b"<sheetData"), xml.rfind(b"</sheetData>")
        data_xml = xml[start : end + len(b"</sheetData>")] if end >= 0 else xml[start:]
        if start < 0:
            return None
        if not _cells_well_formed(xml, data_xml):
            return None
        if packaged is None:
            # What openpyxl parses besides the cells (columns, views, merges, formats...):
            # anything it would refuse there, it refuses (``plain_view`` checked it otherwise).
            _openpyxl_parse(xml[:start] + b"<sheetData/>" + xml[start + len(data_xml) :], date_styles)
        extent = _extent(data_xml)  # every row and cell names its place (_SHEET_DATA)
        if extent is None or max_row is None or max_col is None:
            return None  # no <dimension>: openpyxl sizes each row by its own last cell
        last_row, last_col = extent
        if last_col > MAX_COLUMNS or last_row > MAX_ROWS or last_row * last_col > CALAMINE_MAX_CELLS:
            return None
        if last_row > max_row or last_col > max_col:
            return None  # openpyxl stops at the declared dimension
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        try:
            values = workbook.get_sheet_by_name(title).to_python(skip_empty_area=False)
        finally:
            workbook.close()
        rows = [[v.strip() if type(v) is str else _calamine_cell(v) for v in row] for row in values]
    except Exception:  # _UseOpenpyxl, or anything unusual: openpyxl reads it or says why not
        return None
    # openpyxl yields a row for every <row> element, up to the last (blank ones too), and
    # pads every row to the declared width.
    rows = [row[:max_col] if len(row) >= max_col else row + [""] * (max_col - len(row)) for row in rows]
    rows += [[""] * max_col for _ in range(last_row - len(rows))]
    return rows
