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
"""

import codecs
import csv
import datetime as dt
import io
import re
import tomllib
import zipfile
from collections.abc import Mapping, Sequence
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


def _decode(data: bytes, path: Path, encoding: str | None) -> str:
    if encoding:
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise FileFormatError(f"{path.name}: cannot be decoded as {encoding}: {exc}") from exc
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    if b"\x00" in data[:4096]:
        raise FileFormatError(f"{path.name}: binary data (NUL bytes) where a CSV text file was expected")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Windows-1252 is what spreadsheet exports on UK desktops produce.
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise FileFormatError(f"{path.name}: not UTF-8, UTF-16 or Windows-1252 text ({exc})") from exc


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


def read_grid(
    path: Path,
    *,
    sheet: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> list[list[str]]:
    """All rows of a CSV or XLSX file as lists of stripped text."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    if not data.strip():
        raise FileFormatError(f"{path.name}: the file is empty")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, data, sheet)
    if suffix == ".xls":
        raise FileFormatError(
            f"{path.name}: old binary Excel (.xls) is not supported; save it as .xlsx or CSV"
        )
    if data[:2] == b"PK" and zipfile.is_zipfile(io.BytesIO(data)):
        return _read_xlsx(path, data, sheet)
    text = _decode(data, path, encoding)
    delim = delimiter or _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    try:
        return [[cell.strip() for cell in row] for row in reader]
    except csv.Error as exc:
        raise FileFormatError(f"{path.name}: row {reader.line_num}: malformed CSV: {exc}") from exc


def _read_xlsx(path: Path, data: bytes, sheet: str | None) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        kind = (
            "an HTML page"
            if data.lstrip()[:15].lower().startswith((b"<!doctype", b"<html"))
            else "damaged or not an XLSX workbook"
        )
        raise FileFormatError(
            f"{path.name}: cannot be opened as XLSX: {kind} ({type(exc).__name__})"
        ) from exc
    try:
        if sheet is None:
            worksheet = workbook.worksheets[0]
        elif sheet in workbook.sheetnames:
            worksheet = workbook[sheet]
        else:
            raise FileFormatError(
                f"{path.name}: no sheet named {sheet!r} (sheets: {', '.join(workbook.sheetnames)})"
            )
        return [[_cell_text(v) for v in row] for row in worksheet.iter_rows(values_only=True)]
    except FileFormatError:
        raise
    except Exception as exc:
        raise FileFormatError(f"{path.name}: damaged XLSX sheet: {exc}") from exc
    finally:
        workbook.close()


# --------------------------------------------------------------------------- frames


def _find_header(grid: Sequence[Sequence[str]], wanted: Sequence[str], header_row: int | None) -> int | None:
    """0-based index of the first row that holds every wanted heading."""
    wanted_keys = {heading_key(w) for w in wanted}
    rows = [header_row - 1] if header_row else range(min(len(grid), HEADER_SEARCH_ROWS))
    for i in rows:
        if 0 <= i < len(grid) and wanted_keys <= {heading_key(c) for c in grid[i]}:
            return i
    return None


def _frame_from(grid: Sequence[Sequence[str]], header_index: int, mapping: Mapping[str, str]) -> pd.DataFrame:
    header = [heading_key(c) for c in grid[header_index]]
    positions = {fld: header.index(heading_key(col)) for fld, col in mapping.items()}
    body = grid[header_index + 1 :]
    width = max(positions.values()) + 1
    columns: dict[str, list[str]] = {fld: [] for fld in mapping}
    row_numbers: list[int] = []
    for offset, row in enumerate(body):
        if not any(cell for cell in row):
            continue  # blank rows are layout, not records
        padded = list(row) + [""] * (width - len(row))
        for fld, pos in positions.items():
            columns[fld].append(padded[pos])
        row_numbers.append(header_index + 2 + offset)
    frame = pd.DataFrame(columns, dtype="object")
    frame[ROW_COLUMN] = pd.Series(row_numbers, dtype="int64")
    return frame


def read_catalogue(path: Path, profile: Profile) -> pd.DataFrame:
    """A supplier's price file as a frame of the profile's fields (raw text) and ``_row``."""
    path = Path(path)
    grid = read_grid(path, sheet=profile.sheet, delimiter=profile.delimiter, encoding=profile.encoding)
    wanted = list(profile.columns.values())
    index = _find_header(grid, wanted, profile.header_row)
    if index is None:
        where = f"row {profile.header_row}" if profile.header_row else f"the first {HEADER_SEARCH_ROWS} rows"
        present = {heading_key(c) for row in grid[:HEADER_SEARCH_ROWS] for c in row}
        missing = [c for c in wanted if heading_key(c) not in present]
        raise FileFormatError(
            f"{path.name}: profile {profile.name!r} expects the column(s) "
            f"{', '.join(repr(c) for c in (missing or wanted))} in {where}; not found"
        )
    frame = _frame_from(grid, index, profile.columns)
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
    for profile in profiles:
        key = (profile.sheet, profile.delimiter, profile.encoding)
        if key not in grid_cache:
            try:
                grid_cache[key] = read_grid(
                    path, sheet=profile.sheet, delimiter=profile.delimiter, encoding=profile.encoding
                )
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
    raise LookupError(
        f"{path.name}: several profiles match ({', '.join(p.name for p in matches)}); pass --profile"
    )


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
    grid = read_grid(path)
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
    for i, row in enumerate(grid[:HEADER_SEARCH_ROWS]):
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
            f"{', '.join(missing)} (see docs/formats.md)"
        )
    mapping = assign(grid[best_index])
    frame = _frame_from(grid, best_index, mapping)
    for name in names:
        if name not in frame:
            frame[name] = ""
    # The file's own headings, so that messages name columns as the user sees them.
    frame.attrs["headings"] = dict(mapping)
    return frame
