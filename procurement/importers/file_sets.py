"""Several files at once: a folder of them named after their owners, or a list naming each one's owner.

``procure import catalogues PATH`` (supplier price files) and ``procure import usage PATH``
(trusts' usage exports), docs/formats.md: every file is checked to belong to a known
supplier or trust before the first is imported; then the files are imported in order by
``import_catalogues`` or ``import_usage_files`` (one transaction each, the next files read
ahead on another core).
"""

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from procurement.errors import InputFileError, ProcureError, UnknownReferenceError
from procurement.importers.catalogue import CatalogueFile, import_catalogues
from procurement.importers.core import ImportReport
from procurement.importers.usage import UsageFile, import_usage_files
from procurement.reference import suppliers_by_code, trusts_by_code

SUFFIXES = (".csv", ".xlsx", ".xlsm")  # of the files a folder holds
LIST_COLUMNS = ("file", "supplier", "profile")
"""Columns of a list of catalogue files (``profile`` optional: recognised from the header)."""
USAGE_LIST_COLUMNS = ("file", "trust")
"""Columns of a list of usage files."""


@dataclass(frozen=True)
class _Kind:
    """What a set of one kind of file names: its owners, how files are named and listed."""

    owner: str  # "supplier" or "trust"
    files: str  # "price files", "usage files"
    example: str  # a file named after its owner
    columns: tuple[str, ...]  # of a list: file, the owner, then optional columns
    one: str  # how to import one file instead

    def known_list(self, known: dict[str, int]) -> str:
        return ", ".join(sorted(known)) or f"none yet: add them with `procure import {self.owner}s FILE`"


_CATALOGUES = _Kind(
    "supplier", "price files", "SUP-A.xlsx", LIST_COLUMNS, "procure import catalogue FILE --supplier CODE"
)
_USAGE = _Kind("trust", "usage files", "RXA.csv", USAGE_LIST_COLUMNS, "procure import usage FILE --trust CODE")


def catalogue_files(engine: Engine, path: Path) -> list[CatalogueFile]:
    """The price files ``path`` names, each with its supplier, or a clear refusal.

    A folder: every CSV or XLSX file in it (not in sub-folders), by name, each named after its
    supplier's code (``SUP-A.xlsx``; any case), skipping hidden files and Office lock files
    (``~$...``). A CSV file: a list with the columns ``file`` (relative to the list's folder),
    ``supplier`` and optionally ``profile``. Every supplier code must be known; every listed
    file must exist. Nothing is imported here.
    """
    with Session(engine) as session:
        known = suppliers_by_code(session)
    named = _named_files(Path(path), known, _CATALOGUES)
    return [CatalogueFile(path=p, supplier=owner, profile=extra.get("profile") or None) for p, owner, extra in named]


def usage_files(engine: Engine, path: Path) -> list[UsageFile]:
    """The usage exports ``path`` names, each with its trust, or a clear refusal.

    A folder: every CSV or XLSX file in it (not in sub-folders), by name, each named after its
    trust's code (``RXA.csv``; any case), skipping hidden files and Office lock files. A CSV
    file: a list with the columns ``file`` (relative to the list's folder) and ``trust``. Every
    trust code must be known; every listed file must exist. Nothing is imported here.
    """
    with Session(engine) as session:
        known = trusts_by_code(session)
    return [UsageFile(path=p, trust=owner) for p, owner, _ in _named_files(Path(path), known, _USAGE)]


def _named_files(path: Path, known: dict[str, int], kind: _Kind) -> list[tuple[Path, str, dict[str, str]]]:
    """(file, owner code, the list's other cells) of each file of a folder or a list."""
    if path.is_dir():
        return [(p, owner, {}) for p, owner in _folder(path, known, kind)]
    if not path.exists():
        raise InputFileError(f"{path}: no such folder or file")
    return _listed(path, known, kind)


def _folder(folder: Path, known: dict[str, int], kind: _Kind) -> list[tuple[Path, str]]:
    found = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith((".", "~$"))
    )
    if not found:
        raise InputFileError(f"{folder}: no CSV or XLSX files in this folder")
    unnamed = [p.name for p in found if p.stem.strip().upper() not in known]
    if unnamed:
        raise UnknownReferenceError(
            f"{folder}: {', '.join(unnamed)} {'is' if len(unnamed) == 1 else 'are'} named after no known "
            f"{kind.owner} code (known: {kind.known_list(known)}). Name each file after its {kind.owner}'s code "
            f"({kind.example}), or list the files in a CSV file with the columns {_and(kind.columns)} "
            "and import that. Nothing was imported."
        )
    return [(p, p.stem.strip().upper()) for p in found]


def _and(names: tuple[str, ...]) -> str:
    return ", ".join(names[:-1]) + " and " + names[-1]


def _listed(listing: Path, known: dict[str, int], kind: _Kind) -> list[tuple[Path, str, dict[str, str]]]:
    if listing.suffix.lower() != ".csv":
        raise InputFileError(
            f"{listing}: give a folder of {kind.files} or a CSV list of them (columns {', '.join(kind.columns)})"
        )
    try:
        with listing.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{listing}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise InputFileError(f"{listing}: cannot be read: {exc.strerror or exc}") from exc
    if not rows:
        raise InputFileError(f"{listing}: empty; expected the columns {_and(kind.columns)}")
    header = [name.strip().lower() for name in rows[0]]
    missing = [name for name in kind.columns[:2] if name not in header]
    if missing:
        raise InputFileError(
            f"{listing}: no column {' or '.join(missing)} in the header row "
            f"(found: {', '.join(rows[0]) or 'nothing'}); a list of {kind.files} has the columns "
            f"{_and(kind.columns)} (one file: `{kind.one}`)"
        )
    where = {name: header.index(name) for name in kind.columns if name in header}
    files: list[tuple[Path, str, dict[str, str]]] = []
    problems: list[str] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(name: str, row: list[str] = row) -> str:
            index = where.get(name)
            return row[index].strip() if index is not None and index < len(row) else ""

        name, owner = cell("file"), cell(kind.owner).upper()
        target = listing.parent / name
        if not name:
            problems.append(f"row {number}, column file: empty")
        elif not target.is_file():
            problems.append(f"row {number}, column file: {name} not found in {listing.parent}")
        if not owner:
            problems.append(f"row {number}, column {kind.owner}: empty")
        elif owner not in known:
            problems.append(f"row {number}, column {kind.owner}: unknown {kind.owner} {owner!r}")
        files.append((target, owner, {extra: cell(extra) for extra in kind.columns[2:]}))
    if problems:
        unknown = any(f"unknown {kind.owner}" in p for p in problems)
        hint = f" (known {kind.owner}s: {kind.known_list(known)})" if unknown else ""
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
    ``procure import catalogue`` would and in a transaction of its own (``_import_set``)."""
    files = catalogue_files(engine, path)
    return _import_set(
        files, lambda landed: import_catalogues(engine, files, user=user, workers=workers, on_report=landed), on_report
    )


def import_usage_set(
    engine: Engine,
    path: Path,
    *,
    user: str | None = None,
    workers: int = 1,
    on_report: Callable[[UsageFile, ImportReport], None] | None = None,
) -> list[ImportReport]:
    """Import every usage export ``path`` names (:func:`usage_files`), in order, each as
    ``procure import usage`` would and in a transaction of its own (``_import_set``)."""
    files = usage_files(engine, path)
    return _import_set(
        files, lambda landed: import_usage_files(engine, files, user=user, workers=workers, on_report=landed), on_report
    )


def _import_set[F](
    files: list[F],
    run: Callable[[Callable[[ImportReport], None]], object],
    on_report: Callable[[F, ImportReport], None] | None,
) -> list[ImportReport]:
    """``run(landed)`` imports ``files`` in order, calling ``landed`` with each report.

    ``on_report`` receives each file and its report as it lands. A file that cannot be imported
    stops the run with its own error (and its exit code), saying how many files before it
    were imported and that the ones after it were not: importing the same set again skips
    the files already imported (identical files are recognised)."""
    done: list[ImportReport] = []

    def landed(report: ImportReport) -> None:
        if on_report is not None:
            on_report(files[len(done)], report)
        done.append(report)

    try:
        run(landed)
    except ProcureError as exc:
        after = len(files) - len(done) - 1
        exc.args = (
            f"{exc} [{len(done)} of the {len(files)} files before it imported, {after} after it not: "
            "import the set again once it is fixed; files already imported are skipped]",
        )
        raise
    return done
