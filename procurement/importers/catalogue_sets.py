"""Several supplier price files at once: a folder of them, or a list naming each one's supplier.

``procure import catalogues PATH`` (docs/formats.md): every file is checked to belong to a
known supplier before the first is imported; then the files are imported in order by
``import_catalogues`` (one transaction each, the next file read ahead on another core).
"""

import csv
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from procurement.errors import InputFileError, ProcureError, UnknownReferenceError
from procurement.importers.catalogue import CatalogueFile, import_catalogues
from procurement.importers.core import ImportReport
from procurement.reference import suppliers_by_code

CATALOGUE_SUFFIXES = (".csv", ".xlsx", ".xlsm")
LIST_COLUMNS = ("file", "supplier", "profile")
"""Columns of a list of catalogue files (``profile`` optional: recognised from the header)."""


def catalogue_files(engine: Engine, path: Path) -> list[CatalogueFile]:
    """The price files ``path`` names, each with its supplier, or a clear refusal.

    A folder: every CSV or XLSX file in it (not in sub-folders), by name, each named after its
    supplier's code (``SUP-A.xlsx``; any case), skipping hidden files and Office lock files
    (``~$...``). A CSV file: a list with the columns ``file`` (relative to the list's folder),
    ``supplier`` and optionally ``profile``. Every supplier code must be known; every listed
    file must exist. Nothing is imported here.
    """
    path = Path(path)
    with Session(engine) as session:
        known = suppliers_by_code(session)
    if path.is_dir():
        return _folder(path, known)
    if not path.exists():
        raise InputFileError(f"{path}: no such folder or file")
    return _listed(path, known)


def _known_list(known: dict[str, int]) -> str:
    return ", ".join(sorted(known)) or "none yet: add them with `procure import suppliers FILE`"


def _folder(folder: Path, known: dict[str, int]) -> list[CatalogueFile]:
    found = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in CATALOGUE_SUFFIXES and not p.name.startswith((".", "~$"))
    )
    if not found:
        raise InputFileError(f"{folder}: no CSV or XLSX files in this folder")
    unnamed = [p.name for p in found if p.stem.strip().upper() not in known]
    if unnamed:
        raise UnknownReferenceError(
            f"{folder}: {', '.join(unnamed)} {'is' if len(unnamed) == 1 else 'are'} named after no known "
            f"supplier code (known: {_known_list(known)}). Name each file after its supplier's code "
            "(SUP-A.xlsx), or list the files in a CSV file with the columns file, supplier and profile "
            "and import that. Nothing was imported."
        )
    return [CatalogueFile(path=p, supplier=p.stem.strip().upper()) for p in found]


def _listed(listing: Path, known: dict[str, int]) -> list[CatalogueFile]:
    if listing.suffix.lower() != ".csv":
        raise InputFileError(
            f"{listing}: give a folder of price files or a CSV list of them (columns file, supplier, profile)"
        )
    try:
        with listing.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{listing}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise InputFileError(f"{listing}: cannot be read: {exc.strerror or exc}") from exc
    if not rows:
        raise InputFileError(f"{listing}: empty; expected the columns file, supplier and profile")
    header = [name.strip().lower() for name in rows[0]]
    missing = [name for name in LIST_COLUMNS[:2] if name not in header]
    if missing:
        raise InputFileError(
            f"{listing}: no column {' or '.join(missing)} in the header row (found: {', '.join(rows[0]) or 'nothing'})"
        )
    where = {name: header.index(name) for name in LIST_COLUMNS if name in header}
    files, problems = [], []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(name: str, row: list[str] = row) -> str:
            index = where.get(name)
            return row[index].strip() if index is not None and index < len(row) else ""

        name, supplier = cell("file"), cell("supplier").upper()
        target = listing.parent / name
        if not name:
            problems.append(f"row {number}, column file: empty")
        elif not target.is_file():
            problems.append(f"row {number}, column file: {name} not found in {listing.parent}")
        if not supplier:
            problems.append(f"row {number}, column supplier: empty")
        elif supplier not in known:
            problems.append(f"row {number}, column supplier: unknown supplier {supplier!r}")
        files.append(CatalogueFile(path=target, supplier=supplier, profile=cell("profile") or None))
    if problems:
        hint = f" (known suppliers: {_known_list(known)})" if any("unknown supplier" in p for p in problems) else ""
        raise InputFileError(f"{listing}: " + "; ".join(problems) + hint + ". Nothing was imported.")
    if not files:
        raise InputFileError(f"{listing}: lists no files")
    return files


def import_catalogue_set(
    engine: Engine,
    path: Path,
    *,
    user: str | None = None,
    workers: int = 1,
    on_report: Callable[[CatalogueFile, ImportReport], None] | None = None,
) -> list[ImportReport]:
    """Import every price file ``path`` names (:func:`catalogue_files`), in order, each as
    ``procure import catalogue`` would and in a transaction of its own.

    ``on_report`` receives each file and its report as it lands. A file that cannot be imported
    stops the run with its own error (and its exit code), saying how many files before it
    were imported and that the ones after it were not: importing the same set again skips
    the files already imported (identical files are recognised)."""
    files = catalogue_files(engine, path)
    done: list[ImportReport] = []

    def landed(report: ImportReport) -> None:
        if on_report is not None:
            on_report(files[len(done)], report)
        done.append(report)

    try:
        import_catalogues(engine, files, user=user, workers=workers, on_report=landed)
    except ProcureError as exc:
        after = len(files) - len(done) - 1
        exc.args = (
            f"{exc} [{len(done)} of the {len(files)} files before it imported, {after} after it not: "
            "import the set again once it is fixed; files already imported are skipped]",
        )
        raise
    return done
