"""Trusts and suppliers: the codes every other file refers to (added or updated by code)."""

from pathlib import Path

import pandas as pd
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from catalogues.normalise import clean_text
from catalogues.read import TableSpec
from procurement.importers.core import FileImporter, ImportReport, Problems, sql_records
from procurement.importers.identity import check_reference_codes, check_reference_shape
from procurement.importers.replaced import keep_rows
from procurement.models import Supplier, Trust

TRUSTS_SPEC = TableSpec(
    "trusts",
    required=["code", "name"],
    optional=["region"],
    aliases={"code": ["trust_code", "ods_code", "trust"], "name": ["trust_name"]},
)
SUPPLIERS_SPEC = TableSpec(
    "suppliers",
    required=["code", "name"],
    optional=["gs1_prefix"],
    aliases={
        "code": ["supplier_code", "supplier"],
        "name": ["supplier_name"],
        "gs1_prefix": ["gs1", "company_prefix"],
    },
)


class _ReferenceImport(FileImporter):
    """Rows of code, name and one optional column; a known code is updated, a new one added."""

    model: type[Trust] | type[Supplier]

    def optional(self, table: pd.DataFrame, problems: Problems) -> dict[str, pd.Series]:
        """The optional column(s), checked, by name."""
        raise NotImplementedError

    def check(self, session: Session, table: pd.DataFrame, problems: Problems, report: ImportReport) -> pd.DataFrame:
        code = clean_text(table["code"]).str.upper()
        name = clean_text(table["name"])
        problems.add(code == "", "code", "missing code")
        problems.add(
            ~code.str.fullmatch(r"[A-Z0-9][A-Z0-9_.-]{0,31}") & (code != ""),
            "code",
            "code must be letters, digits, '-', '_' or '.' (at most 32)",
        )
        problems.add(name == "", "name", "missing name")
        problems.add(code.duplicated(keep=False) & (code != ""), "code", "code appears more than once in the file")
        check_reference_codes(session, self.kind, code, report.file)
        extra = self.optional(table, problems)
        rows = pd.DataFrame({"code": code, "name": name, **extra})
        # An optional column the file does not have (region, gs1_prefix) leaves the stored
        # value alone: a supplier list without prefixes must not erase them.
        self.absent = [c for c in extra if c not in table.attrs.get("headings", {})]
        return rows

    def store(
        self, session: Session, rows: pd.DataFrame, good: pd.Series, import_id: int, report: ImportReport
    ) -> None:
        rows = rows[good]
        known = dict(session.execute(select(col(self.model.code), col(self.model.id))).all())
        rows = rows.assign(id=rows["code"].map(known))
        new = rows[rows["id"].isna()].drop(columns="id")
        old = rows[rows["id"].notna()].drop(columns=self.absent)
        # What it was, and what is new: kept for a revert.
        keep_rows(session, import_id, self.model, col(self.model.code).in_(list(old["code"])), "updated")
        if len(new):
            session.execute(insert(self.model), sql_records(new))
            keep_rows(session, import_id, self.model, col(self.model.code).in_(list(new["code"])), "inserted")
        if len(old):
            session.execute(update(self.model), sql_records(old, ints=["id"]))
        report.new_items = len(new)
        report.notes.append(f"{len(new)} new, {len(old)} updated (of {len(known)} known before)")

    def run(self, engine: Engine, path: Path) -> ImportReport:
        # A file of the other kind's shape is refused before anything is read into the database.
        check_reference_shape(Path(path), self.kind, SUPPLIERS_SPEC if self.kind == "trusts" else TRUSTS_SPEC)
        return super().run(engine, path)


class _TrustsImport(_ReferenceImport):
    kind = "trusts"
    spec = TRUSTS_SPEC
    model = Trust

    def optional(self, table: pd.DataFrame, problems: Problems) -> dict[str, pd.Series]:
        return {"region": clean_text(table["region"])}


class _SuppliersImport(_ReferenceImport):
    kind = "suppliers"
    spec = SUPPLIERS_SPEC
    model = Supplier

    def optional(self, table: pd.DataFrame, problems: Problems) -> dict[str, pd.Series]:
        prefix = clean_text(table["gs1_prefix"])
        problems.add(
            (prefix != "") & ~prefix.str.fullmatch(r"\d{6,12}"),
            "gs1_prefix",
            "GS1 company prefix must be 6 to 12 digits",
        )
        return {"gs1_prefix": prefix.where(prefix != "", None)}


def import_trusts(engine: Engine, path: Path, *, user: str | None = None) -> ImportReport:
    """Add or update trusts from a CSV/XLSX of code, name, region."""
    return _TrustsImport(user=user).run(engine, path)


def import_suppliers(engine: Engine, path: Path, *, user: str | None = None) -> ImportReport:
    """Add or update suppliers from a CSV/XLSX of code, name, gs1_prefix."""
    return _SuppliersImport(user=user).run(engine, path)
