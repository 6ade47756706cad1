"""Read CSV and XLSX files into frames of raw text, through mapping profiles.

Two entry points:

* ``read_catalogue(path, profile)`` reads a supplier price file whose layout a
  ``Profile`` describes (sheet, header row, column names) and returns a frame whose
  columns are the engine's field names, plus ``_row``: the row number a spreadsheet
  shows for that record.
* ``read_table(path, spec)`` reads the engine's own CSV/XLSX formats (usage,
  contracts, tiers, ...) whose columns are matched by name and alias.

Every value is returned as stripped text (``""`` for empty); parsing into numbers,
dates and codes happens in ``catalogues.normalise`` so that a bad value becomes a
rejected row, not an exception. A file that cannot be read at all raises
``FileFormatError`` naming the file and, where it applies, the row and column.

XLSX cells read as openpyxl (read-only, cached formula results) reads them; a sheet
that python-calamine is sure to read identically is read by calamine instead, several
times faster (see ``_calamine_rows``).
"""

import codecs
import contextlib
import csv
import datetime as dt
import io
import itertools
import math
import re
import tomllib
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

PROFILES_DIR = Path(__file__).parent / "profiles"
HEADER_SEARCH_ROWS = 60
ROW_COLUMN = "_row"

CATALOGUE_FIELDS = (
    "supplier_code",
    "gtin",
    "description",
    "brand",
    "component",
    "size",
    "pack",
    "price",
)
REQUIRED_CATALOGUE_FIELDS = ("supplier_code", "description", "brand", "price")


class FileFormatError(Exception):
    """The file cannot be read as the format it claims; nothing was imported."""


def heading_key(text: object) -> str:
    """Normalise a column heading for matching: lower case, letters and digits only."""
    return re.sub(r"[^0-9a-z]+", "", str(text).lower())


# --------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class Profile:
    """Where the fields of a supplier's price file are (see docs/formats.md)."""

    name: str
    columns: Mapping[str, str]
    description: str = ""
    supplier: str | None = None
    sheet: str | None = None
    header_row: int | None = None  # 1-based; None = search
    delimiter: str | None = None  # None = detect
    encoding: str | None = None  # None = detect
    price_per: str = "unit"
    includes_vat: bool = False
    vat_rate: float = 0.20
    source: Path | None = None

    @classmethod
    def from_toml(cls, path: Path) -> "Profile":
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise FileFormatError(f"profile {path}: cannot be read as TOML: {exc}") from exc
        columns = data.get("columns") or {}
        unknown = sorted(set(columns) - set(CATALOGUE_FIELDS))
        if unknown:
            raise FileFormatError(
                f"profile {path}: unknown field(s) in [columns]: {', '.join(unknown)} "
                f"(known: {', '.join(CATALOGUE_FIELDS)})"
            )
        missing = [f for f in REQUIRED_CATALOGUE_FIELDS if f not in columns]
        if missing:
            raise FileFormatError(f"profile {path}: [columns] must map {', '.join(missing)}")
        price = data.get("price") or {}
        per = price.get("per", "unit")
        if per not in ("unit", "pack"):
            raise FileFormatError(f'profile {path}: price.per must be "unit" or "pack"')
        header_row = data.get("header_row", "auto")
        if header_row != "auto" and (not isinstance(header_row, int) or header_row < 1):
            raise FileFormatError(f'profile {path}: header_row must be a row number or "auto"')
        delimiter = data.get("delimiter", "auto")
        encoding = data.get("encoding", "auto")
        return cls(
            name=data.get("name", path.stem),
            description=data.get("description", ""),
            supplier=data.get("supplier"),
            sheet=data.get("sheet"),
            header_row=None if header_row == "auto" else header_row,
            delimiter=None if delimiter == "auto" else delimiter,
            encoding=None if encoding == "auto" else encoding,
            columns=dict(columns),
            price_per=per,
            includes_vat=bool(price.get("includes_vat", False)),
            vat_rate=float(price.get("vat_rate", 0.20)),
            source=path,
        )


def shipped_profiles() -> list[Profile]:
    """The profiles shipped in ``catalogues/profiles``, by name."""
    return [Profile.from_toml(p) for p in sorted(PROFILES_DIR.glob("*.toml"))]


def load_profile(name_or_path: str) -> Profile:
    """A shipped profile by name, or a profile TOML file by path."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" and candidate.exists():
        return Profile.from_toml(candidate)
    for profile in shipped_profiles():
        if profile.name == name_or_path:
            return profile
    names = ", ".join(p.name for p in shipped_profiles()) or "none"
    raise LookupError(f"unknown profile {name_or_path!r} (shipped profiles: {names})")


# --------------------------------------------------------------------------- raw grids

_CHUNK = 1 << 20  # bytes decoded at a time when checking an encoding


def _check_decodes(data: bytes, encoding: str) -> None:
    """Raise UnicodeDecodeError (offsets into the whole file) unless ``data`` decodes.

    Decoded a megabyte at a time and thrown away: a large file is never held as text.
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    view = memoryview(data)
    for start in range(0, len(data), _CHUNK):
        try:
            decoder.decode(view[start : start + _CHUNK], final=start + _CHUNK >= len(data))
        except UnicodeDecodeError as exc:
            raise UnicodeDecodeError(exc.encoding, data, start + exc.start, start + exc.end, exc.reason) from None


# UTF-8 for accented letters, "£", "°", non-breaking space, dashes, quotes and "€": as
# Windows-1252 they read "Ã©", "Â£", "â€“", which real Windows-1252 text never holds.
_UTF8_LETTERS = re.compile(rb"\xc3[\x80-\xbf]|\xc2[\xa0-\xbf]|\xe2\x80[\x90-\xbf]|\xe2\x82\xac")


def _encoding(data: bytes, path: Path, encoding: str | None) -> str:
    """The encoding to read a CSV file with: the given one if it fits, else detected."""
    if encoding:
        try:
            _check_decodes(data, encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise FileFormatError(f"{path.name}: cannot be decoded as {encoding}: {exc}") from exc
        return encoding
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            _check_decodes(data, "utf-16")
        except UnicodeDecodeError as exc:
            raise FileFormatError(f"{path.name}: starts like UTF-16 but is damaged ({exc})") from exc
        return "utf-16"
    if b"\x00" in data[:4096]:
        raise FileFormatError(f"{path.name}: binary data (NUL bytes) where a CSV text file was expected")
    try:
        _check_decodes(data, "utf-8-sig")
        return "utf-8-sig"
    except UnicodeDecodeError:
        # Windows-1252 is what spreadsheet exports on UK desktops produce.
        try:
            _check_decodes(data, "cp1252")
        except UnicodeDecodeError as exc:
            raise FileFormatError(f"{path.name}: not UTF-8, UTF-16 or Windows-1252 text ({exc})") from exc
        # ... but not when UTF-8 letters are in it too (rows pasted from two exports):
        # read as Windows-1252 they would be stored garbled ("CafÃ©").
        utf8 = _UTF8_LETTERS.search(data)
        if utf8:
            raise FileFormatError(
                f"{path.name}: line {data.count(b'\n', 0, utf8.start()) + 1}: mixes UTF-8 and Windows-1252 "
                "text; save the file again in one encoding (UTF-8)"
            ) from None
        return "cp1252"


def _text_stream(data: bytes, encoding: str) -> io.TextIOWrapper:
    # BytesIO shares the bytes object's buffer: no copy of the file is made.
    return io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")


def _sniff_delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:HEADER_SEARCH_ROWS])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {d: sample.count(d) for d in ",;\t|"}
        return max(counts, key=counts.get) if any(counts.values()) else ","


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


def iter_rows(
    path: Path,
    *,
    sheet: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> Iterator[list[str]]:
    """The rows of a CSV or XLSX file as lists of stripped text, one at a time.

    A file that cannot be read raises ``FileFormatError`` when iteration starts (or, for
    a malformed CSV record, when it is reached); close the iterator if you stop early.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    if data.strip() in (b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raise FileFormatError(f"{path.name}: the file is empty")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        yield from _xlsx_rows(path, data, sheet)
        return
    if suffix == ".xls":
        raise FileFormatError(f"{path.name}: old binary Excel (.xls) is not supported; save it as .xlsx or CSV")
    if data[:2] == b"PK" and zipfile.is_zipfile(io.BytesIO(data)):
        yield from _xlsx_rows(path, data, sheet)
        return
    yield from _csv_rows(path, data, delimiter, encoding)


def _csv_rows(path: Path, data: bytes, delimiter: str | None, encoding: str | None) -> Iterator[list[str]]:
    enc = _encoding(data, path, encoding)
    if delimiter:
        delim = delimiter
    else:
        with _text_stream(data, enc) as head:
            delim = _sniff_delimiter("".join(itertools.islice(head, HEADER_SEARCH_ROWS)))
    stream = _text_stream(data, enc)
    reader = csv.reader(stream, delimiter=delim)
    record, next_line, first_line = 0, 1, 1  # physical lines where records start
    try:
        for row in reader:
            record += 1
            first_line, next_line = next_line, reader.line_num + 1
            yield [cell.strip() for cell in row]
    except csv.Error as exc:
        raise FileFormatError(f"{path.name}: row {record + 1}: malformed CSV: {exc}") from exc
    finally:
        stream.close()
    if reader.line_num > first_line:
        # The last record spans several lines: legitimate for a quoted cell holding line
        # breaks, but also what an opening quote that is never closed looks like (the rest
        # of the file silently becomes one cell). Re-read that record strictly to tell.
        with _text_stream(data, enc) as tail:
            try:
                for _ in csv.reader(itertools.islice(tail, first_line - 1, None), delimiter=delim, strict=True):
                    pass
            except csv.Error as exc:
                if "unexpected end of data" not in str(exc):
                    return
                raise FileFormatError(
                    f'{path.name}: row {record}: a quote (") opened in this row is never closed, so the '
                    f"rest of the file ({reader.line_num - first_line + 1} lines) would be one cell; "
                    "fix the quote or save the file again as CSV"
                ) from exc


def _xlsx_rows(path: Path, data: bytes, sheet: str | None) -> Iterator[list[str]]:
    fast = _calamine_rows(data, sheet)
    if fast is not None:
        yield from fast
        return
    yield from _openpyxl_rows(path, data, sheet)


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
# message) and names the sheet, its dimension and the styles it reads as dates. Anything
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
_PLACES = re.compile(rb'<row r="([0-9]{1,7})"| r="([A-Z]{1,3})([0-9]{1,7})"')
_STYLE_REF = re.compile(rb' s="([0-9]+)"')
_MAX_ROWS, _MAX_COLUMNS = 1_048_576, 16_384  # Excel's limits
# The cells calamine may read: the sheetData of the schema's common shape and nothing
# else. Cells with other types (e: errors, d: ISO dates) or attributes (rich values),
# numeric cells whose value is not a plain number (openpyxl refuses or converts them,
# calamine keeps them as text), and XML that is well formed but not a worksheet's (the
# two read it differently) go to openpyxl.
_T = rb'(?:<t(?: xml:space="preserve")?>[^<]*</t>|<t\s*/>)'
_RUN = rb"<r>\s*(?:<rPr>(?:\s*<[a-zA-Z]+(?: [a-zA-Z]+=\"[^\"<>]*\")*\s*/>)*\s*</rPr>)?\s*" + _T + rb"\s*</r>"
_RICH = (
    rb"\s*(?:" + _T + rb"|(?:" + _RUN + rb"\s*)+)\s*"
    rb"(?:<rPh\b[^>]*>\s*" + _T + rb"\s*</rPh>\s*)*(?:<phoneticPr\b[^>]*/>\s*)?"
)
_FORMULA = rb'(?:<f(?: [a-zA-Z]+="[^"<>]*")*\s*(?:/>|>[^<]*</f>)\s*)?'


def _tail(value: bytes) -> bytes:
    return rb"(?:/>|>\s*" + _FORMULA + rb"(?:(?:<v>" + value + rb"</v>|<v\s*/>)\s*)?</c>)"


_CELL = (
    rb'<c r="[A-Z]{1,3}[0-9]{1,7}"(?: s="[0-9]{1,6}")?(?:'
    + rb'(?: t="n")?\s*'
    + _tail(rb"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
    + rb'| t="s"\s*'
    + _tail(rb"[0-9]+")
    + rb'| t="b"\s*'
    + _tail(rb"[01]")
    + rb'| t="str"\s*'
    + _tail(rb"[^<]*")
    + rb'| t="inlineStr"\s*(?:/>|>\s*(?:<is>'
    + _RICH
    + rb"</is>\s*)?</c>))"
)
_ROW = rb'<row r="[0-9]{1,7}"(?: (?!xmlns)[a-zA-Z:]+="[^"<>]*")*\s*(?:/>|>\s*(?:' + _CELL + rb"\s*)*</row>)"
_SHEET_DATA = re.compile(rb"<sheetData\s*/>|<sheetData>\s*(?:" + _ROW + rb"\s*)*</sheetData>")
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


def _column_number(letters: bytes) -> int:
    number = 0
    for ch in letters:
        number = number * 26 + ch - 64
    return number


def _extent(data_xml: bytes) -> tuple[int, int] | None:
    """(last row, last column) of the cells, or None unless rows come in order and each
    cell sits in its row, after the cell before it (where openpyxl and calamine agree)."""
    row = col = last_col = 0
    for row_ref, letters, digits in _PLACES.findall(data_xml):
        if row_ref:
            if int(row_ref) <= row:
                return None
            row, col = int(row_ref), 0
        else:
            number = _column_number(letters)
            if int(digits) != row or number <= col:
                return None
            col, last_col = number, max(last_col, number)
    return row, last_col


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


def _calamine_rows(data: bytes, sheet: str | None) -> list[list[str]] | None:
    """The sheet's rows as openpyxl would read them, or None to read it with openpyxl."""
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:
        return None
    view = _openpyxl_view(data, sheet)
    if view is None:
        return None
    title, part, date_styles, max_col, max_row, n_shared = view
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if archive.getinfo(part).file_size > CALAMINE_MAX_XML_BYTES:
                return None
            xml = archive.read(part)
            # Shared strings: openpyxl and calamine find and read the same list only when
            # it has the plain shape (text, or runs of text) at the usual place.
            indexes = _SHARED_INDEX.findall(xml)
            if indexes:
                if not all(i.isdigit() and int(i) < n_shared for i in set(indexes)):
                    return None
                strings = archive.read("xl/sharedStrings.xml")
                if not _STRINGS.fullmatch(strings) or strings.count(b"<si>") != n_shared:
                    return None
        if _ESCAPED_CHAR.search(xml):
            return None
        if ({int(s) for s in _STYLE_REF.findall(xml)} | {0}) & date_styles or not _well_formed(xml):
            return None
        root = _ROOT.match(xml)
        if root is None or _MAIN_NS not in root.group(1):
            return None  # another namespace: openpyxl finds no cells in it
        start, end = xml.find(b"<sheetData"), xml.rfind(b"</sheetData>")
        data_xml = xml[start : end + len(b"</sheetData>")] if end >= 0 else xml[start:]
        if start < 0 or not _SHEET_DATA.fullmatch(data_xml):
            return None
        # What openpyxl parses besides the cells (columns, views, merges, formats...):
        # anything it would refuse there, it refuses.
        _openpyxl_parse(xml[:start] + b"<sheetData/>" + xml[start + len(data_xml) :], date_styles)
        extent = _extent(data_xml)  # every row and cell names its place (_SHEET_DATA)
        if extent is None or max_row is None:
            return None  # no <dimension>: openpyxl sizes each row by its own last cell
        last_row, last_col = extent
        if last_col > _MAX_COLUMNS or last_row > _MAX_ROWS or last_row * last_col > CALAMINE_MAX_CELLS:
            return None
        if last_row > max_row or last_col > max_col:
            return None  # openpyxl stops at the declared dimension
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        try:
            values = workbook.get_sheet_by_name(title).to_python(skip_empty_area=False)
        finally:
            workbook.close()
        rows = [[_calamine_cell(v) for v in row] for row in values]
    except Exception:  # _UseOpenpyxl, or anything unusual: openpyxl reads it or says why not
        return None
    # openpyxl yields a row for every <row> element, up to the last (blank ones too), and
    # pads every row to the declared width.
    rows = [row[:max_col] if len(row) >= max_col else row + [""] * (max_col - len(row)) for row in rows]
    rows += [[""] * max_col for _ in range(last_row - len(rows))]
    return rows


def read_grid(
    path: Path,
    *,
    sheet: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> list[list[str]]:
    """All rows of a CSV or XLSX file as lists of stripped text."""
    return list(iter_rows(path, sheet=sheet, delimiter=delimiter, encoding=encoding))


def _head(rows: Iterator[list[str]], n: int) -> list[list[str]]:
    return list(itertools.islice(rows, n))


def _one_column_hint(head: Sequence[Sequence[str]]) -> str:
    """Why no heading matched, when every row is a single cell: the delimiter."""
    if head and all(sum(1 for c in row if c) <= 1 for row in head):
        return "; every row is a single column: separate the columns with , ; tab or |"
    return ""


# --------------------------------------------------------------------------- frames


def _find_header(grid: Sequence[Sequence[str]], wanted: Sequence[str], header_row: int | None) -> int | None:
    """0-based index of the first row that holds every wanted heading."""
    wanted_keys = {heading_key(w) for w in wanted}
    rows = [header_row - 1] if header_row else range(min(len(grid), HEADER_SEARCH_ROWS))
    for i in rows:
        if 0 <= i < len(grid) and wanted_keys <= {heading_key(c) for c in grid[i]}:
            return i
    return None


def _frame_from(
    header: Sequence[str], body: Iterable[Sequence[str]], first_row: int, mapping: Mapping[str, str]
) -> pd.DataFrame:
    """The mapped columns of ``body`` (rows below ``header``; the first is row ``first_row``).

    Only the mapped cells are kept: a wide export's other columns are never stored.
    """
    keys = [heading_key(c) for c in header]
    positions = {fld: keys.index(heading_key(col)) for fld, col in mapping.items()}
    width = max(positions.values()) + 1
    columns: dict[str, list[str]] = {fld: [] for fld in mapping}
    appends = [(columns[fld].append, pos) for fld, pos in positions.items()]
    row_numbers: list[int] = []
    for offset, row in enumerate(body):
        if not any(row):
            continue  # blank rows are layout, not records
        if len(row) < width:
            row = list(row) + [""] * (width - len(row))
        for append, pos in appends:
            append(row[pos])
        row_numbers.append(first_row + offset)
    frame = pd.DataFrame(columns, dtype="object")
    frame[ROW_COLUMN] = pd.Series(row_numbers, dtype="int64")
    return frame


def read_catalogue(path: Path, profile: Profile) -> pd.DataFrame:
    """A supplier's price file as a frame of the profile's fields (raw text) and ``_row``."""
    path = Path(path)
    rows = iter_rows(path, sheet=profile.sheet, delimiter=profile.delimiter, encoding=profile.encoding)
    with contextlib.closing(rows):
        head = _head(rows, max(HEADER_SEARCH_ROWS, profile.header_row or 0))
        wanted = list(profile.columns.values())
        index = _find_header(head, wanted, profile.header_row)
        if index is None:
            where = f"row {profile.header_row}" if profile.header_row else f"the first {HEADER_SEARCH_ROWS} rows"
            present = {heading_key(c) for row in head[:HEADER_SEARCH_ROWS] for c in row}
            missing = [c for c in wanted if heading_key(c) not in present]
            found = "not found"
            if not missing and not profile.header_row:
                found = "they are there, but not all on one row (a heading split over merged cells?)"
            raise FileFormatError(
                f"{path.name}: profile {profile.name!r} expects the column(s) "
                f"{', '.join(repr(c) for c in (missing or wanted))} in {where}; {found}{_one_column_hint(head)}"
            )
        body = itertools.chain(head[index + 1 :], rows)
        frame = _frame_from(head[index], body, index + 2, profile.columns)
    for fld in CATALOGUE_FIELDS:
        if fld not in frame:
            frame[fld] = ""
    return frame


def detect_profile(path: Path, profiles: Sequence[Profile] | None = None) -> Profile:
    """The one shipped profile whose every column heading appears in the file's header."""
    path = Path(path)
    profiles = list(profiles if profiles is not None else shipped_profiles())
    grid_cache: dict[tuple, list[list[str]]] = {}
    matches = []
    # Only the rows where a header can be are read, not the whole file.
    depth = max([HEADER_SEARCH_ROWS, *(p.header_row or 0 for p in profiles)])
    for profile in profiles:
        key = (profile.sheet, profile.delimiter, profile.encoding)
        if key not in grid_cache:
            try:
                rows = iter_rows(path, sheet=profile.sheet, delimiter=profile.delimiter, encoding=profile.encoding)
                with contextlib.closing(rows):
                    grid_cache[key] = _head(rows, depth)
            except FileFormatError as exc:
                if "no sheet named" in str(exc) or "cannot be decoded" in str(exc):
                    grid_cache[key] = []
                    continue
                raise
        if _find_header(grid_cache[key], list(profile.columns.values()), profile.header_row) is not None:
            matches.append(profile)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise LookupError(
            f"{path.name}: no shipped profile matches its column headings; "
            "write a profile for this layout (see docs/formats.md) and pass --profile"
        )
    # Prefer the most specific profile (the one mapping most columns).
    matches.sort(key=lambda p: len(p.columns), reverse=True)
    if len(matches[0].columns) > len(matches[1].columns):
        return matches[0]
    raise LookupError(f"{path.name}: several profiles match ({', '.join(p.name for p in matches)}); pass --profile")


@dataclass(frozen=True)
class TableSpec:
    """The columns of one of the engine's own input formats."""

    name: str
    required: Sequence[str]
    optional: Sequence[str] = ()
    aliases: Mapping[str, Sequence[str]] = field(default_factory=dict)
    one_of: Sequence[Sequence[str]] = ()  # at least one column of each group


def read_table(path: Path, spec: TableSpec) -> pd.DataFrame:
    """Read one of the engine's CSV/XLSX formats; columns renamed to their canonical names.

    The header is the first row (within the first rows) that holds every required
    column; columns may be named by canonical name or alias (see docs/formats.md).
    """
    path = Path(path)
    rows = iter_rows(path)
    with contextlib.closing(rows):
        return _read_table(path, spec, rows)


def _read_table(path: Path, spec: TableSpec, rows: Iterator[list[str]]) -> pd.DataFrame:
    head = _head(rows, HEADER_SEARCH_ROWS)
    names = list(spec.required) + list(spec.optional)
    canonical = {heading_key(name): name for name in names}
    # An alias may serve two columns (``supplier_code`` is the item code of a usage
    # file, or its supplier when an item code column is there too): a heading goes to
    # the first of its columns that no other heading has taken.
    aliases: dict[str, list[str]] = {}
    for name in names:
        for alias in spec.aliases.get(name, ()):
            aliases.setdefault(heading_key(alias), []).append(name)

    def assign(row: Sequence[str]) -> dict[str, str]:
        taken: dict[str, str] = {}
        keys = [heading_key(c) for c in row]
        for cell, key in zip(row, keys, strict=True):
            if key in canonical and canonical[key] not in taken:
                taken[canonical[key]] = cell
        for cell, key in zip(row, keys, strict=True):
            if key in canonical:
                continue
            free = [n for n in aliases.get(key, ()) if n not in taken]
            if free:
                taken[free[0]] = cell
        return taken

    best_index, best_found = None, set()
    for i, row in enumerate(head):
        found = set(assign(row))
        if set(spec.required) <= found and all(set(g) & found for g in spec.one_of):
            best_index, best_found = i, found
            break
        if len(found) > len(best_found):
            best_found = found
    if best_index is None:
        missing = [c for c in spec.required if c not in best_found]
        missing += ["one of " + "/".join(g) for g in spec.one_of if not set(g) & best_found]
        raise FileFormatError(
            f"{path.name}: not a {spec.name} file: missing required column(s) "
            f"{', '.join(missing)} (see docs/formats.md){_one_column_hint(head)}"
        )
    mapping = assign(head[best_index])
    frame = _frame_from(head[best_index], itertools.chain(head[best_index + 1 :], rows), best_index + 2, mapping)
    for name in names:
        if name not in frame:
            frame[name] = ""
    # The file's own headings, so that messages name columns as the user sees them.
    frame.attrs["headings"] = dict(mapping)
    return frame
