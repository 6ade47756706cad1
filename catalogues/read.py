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

One module per job: this one holds the profiles and finds the header row (by the
profile's or the format's headings) and builds the frame; ``catalogues.csv_files``
reads CSV text (encoding, delimiter, records) and ``catalogues.xlsx_files`` reads
XLSX sheets (openpyxl, or calamine where it reads identically). ``iter_rows`` picks
between the two by the file's name and first bytes. ``FileFormatError``
(``catalogues.errors``) is re-exported here.
"""

import codecs
import contextlib
import functools
import io
import itertools
import operator
import re
import tomllib
import zipfile
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from catalogues.csv_files import HEADER_SEARCH_ROWS, csv_records, csv_rows
from catalogues.errors import FileFormatError
from catalogues.xlsx_files import xlsx_rows

PROFILES_DIR = Path(__file__).parent / "profiles"
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
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise FileFormatError(f"profile {path}: cannot be read as TOML: {exc}") from exc
        return _profile_from(path, text) if cls is Profile else cls._from_text(path, text)

    @classmethod
    def _from_text(cls, path: Path, text: str) -> "Profile":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
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


@functools.lru_cache(maxsize=64)
def _profile_from(path: Path, text: str) -> Profile:
    """The profile of the file ``path`` holding ``text``, remembered per process (keyed by
    the whole text: an edited file is read afresh). Every catalogue import reads them."""
    return Profile._from_text(path, text)


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


def _file_bytes(path: Path) -> bytes:
    """The file's bytes; unreadable or empty is a ``FileFormatError``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    if data.strip() in (b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raise FileFormatError(f"{path.name}: the file is empty")
    return data


def _is_xlsx(path: Path, data: bytes) -> bool:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return True
    if path.suffix.lower() == ".xls":
        raise FileFormatError(f"{path.name}: old binary Excel (.xls) is not supported; save it as .xlsx or CSV")
    return data[:2] == b"PK" and zipfile.is_zipfile(io.BytesIO(data))


def iter_rows(
    path: Path,
    *,
    sheet: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> Generator[list[str], None, None]:
    """The rows of a CSV or XLSX file as lists of stripped text, one at a time.

    A file that cannot be read raises ``FileFormatError`` when iteration starts (or, for
    a malformed CSV record, when it is reached); close the iterator if you stop early.
    """
    path = Path(path)
    data = _file_bytes(path)
    if _is_xlsx(path, data):
        yield from xlsx_rows(path, data, sheet)
        return
    yield from csv_rows(path, data, delimiter, encoding)


def _csv_grid(path: Path, delimiter: str | None = None, encoding: str | None = None) -> list[list[str]] | None:
    """Every row of a CSV file at once (``read_grid``'s rows), or None: use ``iter_rows``.

    None for XLSX and for the CSV files ``csv_records`` leaves to ``csv_rows`` (a
    malformed record, a record over several lines), whose messages depend on how far
    a reader got. A file that cannot be read at all raises as ``iter_rows`` would.
    """
    path = Path(path)
    data = _file_bytes(path)
    if _is_xlsx(path, data):
        return None
    return csv_records(path, data, delimiter, encoding)


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
    # Blank rows are layout, not records; short rows are padded to the mapped width.
    body = body if isinstance(body, list) else list(body)
    if all(map(any, body)) and (not body or min(map(len, body)) >= width):
        # The usual file, no blank or short row: both checks in C, the rows as they are.
        rows: Sequence[Sequence[str]] = body
        row_numbers: Sequence[int] = range(first_row, first_row + len(body))
    else:
        kept = [(first_row + offset, row) for offset, row in enumerate(body) if any(row)]
        row_numbers = [number for number, _ in kept]
        rows = [row if len(row) >= width else list(row) + [""] * (width - len(row)) for _, row in kept]
    # One C-level pick of the mapped cells per row, then the rows turned into columns.
    pick = operator.itemgetter(*positions.values(), 0)  # the extra 0: a tuple even for one field
    picked = list(zip(*map(pick, rows), strict=True)) if rows else [() for _ in range(len(positions) + 1)]
    columns = {fld: list(picked[i]) for i, fld in enumerate(positions)}
    frame = pd.DataFrame(columns, dtype="object")
    frame[ROW_COLUMN] = pd.Series(np.asarray(row_numbers, dtype="int64"))
    return frame


def read_catalogue(path: Path, profile: Profile) -> pd.DataFrame:
    """A supplier's price file as a frame of the profile's fields (raw text) and ``_row``."""
    path = Path(path)
    # The usual CSV file is read in one go (as read_table reads it); XLSX and the CSV files
    # csv_records leaves to the row reader (messages naming the row) go through iter_rows.
    grid = _csv_grid(path, delimiter=profile.delimiter, encoding=profile.encoding)
    if grid is not None:
        return _catalogue_frame(path, profile, iter(grid))
    rows = iter_rows(path, sheet=profile.sheet, delimiter=profile.delimiter, encoding=profile.encoding)
    with contextlib.closing(rows):
        return _catalogue_frame(path, profile, rows)


def _catalogue_frame(path: Path, profile: Profile, rows: Iterator[list[str]]) -> pd.DataFrame:
    """``read_catalogue``'s frame from the file's rows."""
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
    grid = _csv_grid(path)
    if grid is not None:  # the usual CSV file: read in one go
        return _read_table(path, spec, iter(grid))
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


__all__ = [
    "CATALOGUE_FIELDS",
    "HEADER_SEARCH_ROWS",
    "PROFILES_DIR",
    "REQUIRED_CATALOGUE_FIELDS",
    "ROW_COLUMN",
    "FileFormatError",
    "Profile",
    "TableSpec",
    "detect_profile",
    "heading_key",
    "iter_rows",
    "load_profile",
    "read_catalogue",
    "read_grid",
    "read_table",
    "shipped_profiles",
]
