"""Reading a returned shortlist back: the integrity check, then the decisions recorded.

``import_shortlist`` finds the export by the id in the workbook, aligns the returned
rows with the snapshot's (so an added or deleted row is named as such rather than as a
cascade of changed cells), compares every locked cell, checks every decision, and
records the decisions only if nothing is wrong: all or nothing, in one transaction,
like every importer (``procurement.importers``).
"""

import datetime as dt
import difflib
import io
import json
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.cell.cell import Cell
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from procurement.db import transaction
from procurement.errors import InputFileError, UnknownReferenceError
from procurement.export.shortlist.snapshot import ID_NAME, ID_SHEET, norm
from procurement.export.shortlist.stale import hold_back_stale, record_overrides
from procurement.importers import DECISIONS, REGIONAL_PANEL, ImportReport, current_user
from procurement.importers.core import find_duplicate, read_bytes
from procurement.models import Approval, DataImport, ProductLine, ShortlistExport, Trust, utcnow

KIND = "shortlist"
ROLE = "Consultant orthopaedic surgeon"
MAX_PROBLEMS_SHOWN = 25


class ShortlistRefused(InputFileError):
    """A returned shortlist that cannot be used; ``problems`` names every cell or row."""

    def __init__(self, file: str, problems: list[str]):
        self.file = file
        self.problems = problems
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        lines = "\n  ".join(shown + ([f"... and {more} more"] if more > 0 else []))
        super().__init__(f"{file}: refused, nothing recorded ({len(problems)} problem(s)):\n  {lines}")


@dataclass
class ShortlistReport(ImportReport):
    """What a shortlist import did: the ``ImportReport`` shape plus the decisions."""

    export_id: int | None = None
    trust: str | None = None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DECISIONS, 0))
    decisions: list[dict] = field(default_factory=list)

    def to_dict(self, max_rejects: int | None = None) -> dict:
        return {
            **super().to_dict(max_rejects),
            "export_id": self.export_id,
            "trust": self.trust,
            "counts": self.counts,
            "decisions": self.decisions,
        }

    def summary(self) -> str:
        c = self.counts
        return f"decisions recorded: {c['approve']} approve, {c['reject']} reject, {c['conditional']} conditional"


def _open_workbook(data: bytes, name: str):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # extensions openpyxl does not keep
            return load_workbook(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise InputFileError(f"{name}: not an Excel workbook (.xlsx) that can be read: {exc}") from exc


def _export_id(wb, name: str) -> int:
    raw = None
    if ID_SHEET in wb.sheetnames:
        raw = wb[ID_SHEET]["B1"].value
    elif ID_NAME in wb.defined_names:
        for sheet, ref in wb.defined_names[ID_NAME].destinations:
            if sheet in wb.sheetnames:
                raw = wb[sheet][ref.replace("$", "")].value
    try:
        return int(str(raw).strip())
    except (TypeError, ValueError):
        raise InputFileError(
            f"{name}: not a shortlist workbook (no shortlist export id; export one with `procure shortlist export`)"
        ) from None


def _show(value) -> str:
    return "empty" if value is None else repr(value)


def _actual_cells(ws) -> dict[tuple[int, int], Cell]:
    return {(cell.row, cell.column): cell for row in ws.iter_rows() for cell in row if norm(cell.value) is not None}


def _check_sheet(ws, spec: dict, export_id: int) -> tuple[list[str], list[dict], int]:
    """Problems, decisions and the number of name-only rows of one returned sheet."""
    name = spec["name"]
    expected = spec["cells"]
    editable_by_key = spec["editable_columns"]  # decision, reason, clinician -> column letter
    editable = set(editable_by_key.values())
    labels = spec["columns"]
    layout = {int(r): v for r, v in spec["rows"].items()}
    actual = _actual_cells(ws)
    actual_rows = max((r for r, _ in actual), default=0)
    actual_cols = max((c for _, c in actual), default=0)
    n_cols = max(spec["last_column"], actual_cols)
    letters = [get_column_letter(c) for c in range(1, n_cols + 1)]
    signature_cols = [(c, letter) for c, letter in enumerate(letters, start=1) if letter not in editable]

    def value(r: int, c: int):
        cell = actual.get((r, c))
        return None if cell is None else norm(cell.value)

    expected_sigs = [
        tuple(expected.get(f"{letter}{r}") for _, letter in signature_cols) for r in range(1, spec["last_row"] + 1)
    ]
    actual_sigs = [tuple(value(r, c) for c, _ in signature_cols) for r in range(1, actual_rows + 1)]
    # Trailing blank rows are layout, not rows (the actual rows end at the last value too).
    while expected_sigs and all(v is None for v in expected_sigs[-1]):
        expected_sigs.pop()
    pairs: list[tuple[int, int]] = []
    problems: list[str] = []
    matcher = difflib.SequenceMatcher(None, expected_sigs, actual_sigs, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        paired = min(i2 - i1, j2 - j1) if tag in ("equal", "replace") else 0
        pairs += [(i1 + k + 1, j1 + k + 1) for k in range(paired)]
        for i in range(i1 + paired, i2):
            row = layout.get(i + 1)
            what = f" ({row['line']})" if row else ""
            problems.append(f"{name} row {i + 1}: row deleted{what}; rows must not be deleted")
        for j in range(j1 + paired, j2):
            problems.append(f"{name} row {j + 1}: row added (not in shortlist #{export_id}); rows must not be added")

    decisions: list[dict] = []
    name_only = 0
    for er, ar in pairs:
        data_row = layout.get(er)
        for c, letter in enumerate(letters, start=1):
            if data_row and letter in editable:
                continue
            old, new = expected.get(f"{letter}{er}"), value(ar, c)
            if old != new:
                label = f"{labels.get(letter, 'cell')} " if data_row else ""
                problems.append(f"{name}!{letter}{ar}: {label}changed from {_show(old)} to {_show(new)}")
        if not data_row:
            continue
        cells = {}
        for key, letter in editable_by_key.items():
            cell = actual.get((ar, letters.index(letter) + 1))
            cells[key] = (f"{letter}{ar}", cell)
        for key, (address, cell) in cells.items():
            if cell is not None and cell.data_type == "f":
                problems.append(f"{name}!{address}: {key} is a formula ({cell.value}); type the text instead")
        text = {
            key: ("" if cell is None or cell.data_type == "f" else str(norm(cell.value)).strip())
            for key, (_, cell) in cells.items()
        }
        decision = text["decision"].lower()
        if not decision:
            if text["reason"]:
                problems.append(
                    f"{name}!{cells['decision'][0]}: a reason is given but no decision "
                    "(choose approve, reject or conditional, or clear the reason)"
                )
            elif text["clinician"]:
                name_only += 1
            continue
        if decision not in DECISIONS:
            problems.append(
                f"{name}!{cells['decision'][0]}: decision {text['decision']!r} is not one of {', '.join(DECISIONS)}"
            )
            continue
        if not text["clinician"]:
            problems.append(
                f"{name}!{cells['clinician'][0]}: decision {decision!r} in {cells['decision'][0]} has no clinician name"
            )
            continue
        decisions.append(
            {
                "sheet": name,
                "row": ar,
                "line_id": data_row["line_id"],
                "line": data_row["line"],
                "decision": decision,
                "reason": text["reason"],
                "clinician": text["clinician"],
            }
        )
    return problems, decisions, name_only


def check_shortlist(wb, snapshot: dict, export_id: int) -> tuple[list[str], list[dict], int]:
    """Compare a returned workbook with its export's snapshot: (problems, decisions, name-only rows)."""
    problems: list[str] = []
    decisions: list[dict] = []
    name_only = 0
    expected = [s["name"] for s in snapshot["sheets"]]
    for extra in [n for n in wb.sheetnames if n not in expected]:
        problems.append(f"sheet {extra!r} was added; sheets must not be added")
    for spec in snapshot["sheets"]:
        if spec["name"] not in wb.sheetnames:
            problems.append(f"sheet {spec['name']!r} is missing (deleted or renamed)")
            continue
        found, rows, blank = _check_sheet(wb[spec["name"]], spec, export_id)
        problems += found
        decisions += rows
        name_only += blank
    return problems, decisions, name_only


def import_shortlist(
    engine: Engine, path: Path, *, user: str | None = None, override: str | None = None
) -> ShortlistReport:
    """Read a returned shortlist; append its decisions as ``Approval`` rows (all or nothing).

    Refused (``ShortlistRefused``, nothing written) if a locked cell changed, a row or
    sheet was added or deleted, a decision is not approve/reject/conditional, or a
    decision has no clinician name. An identical file imported before is reported as a
    duplicate and nothing is written. A decision on a line that received a newer decision
    after the export is not taken (a rejected row naming the newer one), unless
    ``override`` gives the reason to take it anyway (``procurement.approvals``).
    """
    path = Path(path)
    data, sha = read_bytes(path)
    wb = _open_workbook(data, path.name)
    export_id = _export_id(wb, path.name)
    with transaction(engine) as session:
        previous = find_duplicate(session, KIND, sha)
        if previous:
            report = ShortlistReport(kind=KIND, file=path.name, sha256=sha, duplicate_of=previous, export_id=export_id)
            report.notes.append(f"identical file already imported as import #{previous}; nothing written")
            return report
        export = session.get(ShortlistExport, export_id)
        if export is None:
            raise UnknownReferenceError(
                f"{path.name}: unknown shortlist export #{export_id} (not exported from this database)"
            )
        trust = session.get(Trust, export.trust_id) if export.trust_id is not None else None
        problems, decisions, name_only = check_shortlist(wb, json.loads(export.snapshot), export_id)
        if problems:
            raise ShortlistRefused(path.name, problems)
        report = ShortlistReport(
            kind=KIND,
            file=path.name,
            sha256=sha,
            export_id=export_id,
            trust=trust.code if trust else REGIONAL_PANEL,
            profile=f"shortlist #{export_id}",
        )
        earlier = session.scalars(
            select(col(DataImport.id)).where(col(DataImport.kind) == KIND, col(DataImport.profile) == report.profile)
        ).all()
        record = DataImport(
            kind=KIND,
            file_name=path.name,
            sha256=sha,
            trust_id=export.trust_id,
            profile=report.profile,
            imported_by=current_user(user),
            rows_read=len(decisions),
            rows_accepted=len(decisions),
        )
        session.add(record)
        session.flush()
        assert record.id is not None, "flushed: the import has its id"
        decisions, overridden = hold_back_stale(session, export, decisions, record.id, report, override)
        now = utcnow()
        approvals = [
            Approval(
                trust_id=export.trust_id,
                product_line_id=d["line_id"],
                decision=d["decision"],
                clinician=d["clinician"],
                role=ROLE,
                decided_at=now,
                comment=d["reason"],
                source_sha256=sha,
                import_id=record.id,
                recorded_at=now,
            )
            for d in decisions
        ]
        session.add_all(approvals)
        session.flush()
        record_overrides(session, approvals, decisions, overridden, override)
        report.import_id = record.id
        report.rows_accepted = len(decisions)
        report.rows_read = report.rows_accepted + report.rows_rejected
        record.rows_read, record.rows_accepted, record.rows_rejected = (
            report.rows_read,
            report.rows_accepted,
            report.rows_rejected,
        )
        report.decisions = decisions
        for d in decisions:
            report.counts[d["decision"]] += 1
        if not decisions:
            report.notes.append("no decisions in the workbook (every decision cell is blank)")
        if name_only:
            report.notes.append(f"{name_only} row(s) have a clinician name but no decision: not recorded")
        if earlier:
            report.notes.append(
                f"shortlist #{export_id} was read back before (import #{', #'.join(map(str, earlier))}); "
                "these decisions are appended and the latest wins"
            )
        superseded = _dated_later(session, export.trust_id, [d["line_id"] for d in decisions], now)
        if superseded:
            report.notes.append(
                f"{len(superseded)} decision(s) stay overridden by decisions dated later than today "
                f"(the latest decided_at wins): {', '.join(superseded[:5])}"
            )
    return report


def _dated_later(session: Session, trust_id: int | None, line_ids: list[int], now: dt.datetime) -> list[str]:
    """Codes of lines on which this trust (or the panel) has a decision dated after ``now``."""
    if not line_ids:
        return []
    owner = col(Approval.trust_id).is_(None) if trust_id is None else col(Approval.trust_id) == trust_id
    return sorted(
        set(
            session.scalars(
                select(col(ProductLine.code))
                .join(Approval, col(Approval.product_line_id) == col(ProductLine.id))
                .where(owner, col(Approval.product_line_id).in_(line_ids), col(Approval.decided_at) > now)
            )
        )
    )
