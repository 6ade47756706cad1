"""The contracts register: each trust's current contracts (a file replaces the trusts it lists)."""

from pathlib import Path

import pandas as pd
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session

from catalogues.classify import Taxonomy
from catalogues.normalise import clean_text, parse_date, parse_money
from catalogues.read import TableSpec
from procurement.importers.core import (
    FileImporter,
    ImportReport,
    Problems,
    category_ids,
    lookup_codes,
    sql_records,
    without_percent,
)
from procurement.importers.replaced import delete_keeping
from procurement.models import Contract
from procurement.reference import suppliers_by_code, trusts_by_code

CONTRACTS_SPEC = TableSpec(
    "contracts",
    required=["trust", "supplier", "category", "start", "end"],
    optional=["reference", "notice_months", "exit_fee", "extension_months", "extension_uplift_pct"],
    aliases={
        "trust": ["trust_code"],
        "supplier": ["supplier_code"],
        "category": ["lot"],
        "start": ["start_date", "contract_start"],
        "end": ["end_date", "contract_end", "expiry"],
        "reference": ["contract_reference", "contract_ref", "ref"],
        "notice_months": ["notice", "notice_period_months"],
        "exit_fee": ["termination_fee"],
        "extension_months": ["extension"],
        "extension_uplift_pct": ["extension_uplift", "uplift_pct"],
    },
)


def _optional_number(
    table: pd.DataFrame,
    column: str,
    problems: Problems,
    *,
    integer: bool = False,
    maximum: float | None = None,
    money: bool = False,
) -> pd.Series:
    text = without_percent(table[column]) if column.endswith("_pct") else clean_text(table[column])
    parsed = parse_money(
        text.where(text != "", "0"), allow_zero=True, maximum=maximum, what=column.replace("_", " "), money=money
    )
    problems.add_parsed(column, parsed)
    if integer:
        problems.add(
            (parsed.errors == "") & (parsed.values % 1 != 0),
            column,
            f"{column.replace('_', ' ')} must be whole",
        )
    return parsed.values.fillna(0)


class _ContractsImport(FileImporter):
    kind = "contracts"
    spec = CONTRACTS_SPEC
    uses_taxonomy = True

    def check(self, session: Session, table: pd.DataFrame, problems: Problems, report: ImportReport) -> pd.DataFrame:
        trust_id = lookup_codes(problems, table, "trust", trusts_by_code(session), "trust")
        supplier_id = lookup_codes(problems, table, "supplier", suppliers_by_code(session), "supplier")
        category_id = lookup_codes(
            problems,
            table.assign(category=clean_text(table["category"]).str.lower()),
            "category",
            category_ids(session).to_dict(),
            "category",
        )
        start = parse_date(table["start"], what="start date")
        end = parse_date(table["end"], what="end date")
        problems.add_parsed("start", start)
        problems.add_parsed("end", end)
        both = (start.errors == "") & (end.errors == "")
        problems.add(
            both & (pd.to_datetime(end.values) < pd.to_datetime(start.values)),
            "end",
            "contract ends before it starts",
        )
        return pd.DataFrame(
            {
                "trust_id": trust_id,
                "supplier_id": supplier_id,
                "category_id": category_id,
                "reference": clean_text(table["reference"]),
                "start": start.values,
                "end": end.values,
                "notice_months": _optional_number(table, "notice_months", problems, integer=True, maximum=120),
                "exit_fee": _optional_number(table, "exit_fee", problems, maximum=100_000_000, money=True),
                "extension_months": _optional_number(table, "extension_months", problems, integer=True, maximum=120),
                "extension_uplift_pct": _optional_number(table, "extension_uplift_pct", problems, maximum=100),
            }
        )

    def store(
        self, session: Session, rows: pd.DataFrame, good: pd.Series, import_id: int, report: ImportReport
    ) -> None:
        rows = rows[good].assign(import_id=import_id)
        if not len(rows):
            return
        replaced = delete_keeping(  # kept for a revert
            session, import_id, Contract, Contract.trust_id.in_([int(t) for t in rows["trust_id"].unique()])
        )
        if replaced:
            report.notes.append(f"replaced {replaced} earlier contracts of the trusts in this file")
        ints = ["trust_id", "supplier_id", "category_id", "notice_months", "extension_months"]
        session.execute(insert(Contract), sql_records(rows, ints=ints))


def import_contracts(
    engine: Engine, path: Path, *, user: str | None = None, taxonomy: Taxonomy | None = None
) -> ImportReport:
    """Import the contracts register. It replaces the contracts of the trusts it lists."""
    return _ContractsImport(user=user, taxonomy=taxonomy).run(engine, path)
