"""The contracts register: each trust's current contracts (a file replaces the trusts it lists).

Terms a contract carries (docs/formats.md): ``notice_months`` (notice needed to leave
before ``end``), ``early_exit`` (``no``: it cannot be ended before ``end``),
``exit_fee`` (GBP) and ``exit_fee_pct`` (percent of the remaining value: the trust's
monthly spend on it times the months left) for leaving early, ``extension_months`` and
``extension_uplift_pct`` (how long, and at what uplift, it can bridge to a later join).
Every term is optional: an old register without the new columns imports as before,
with ``early_exit`` yes and no percentage fee.
"""

from pathlib import Path

import pandas as pd
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from catalogues.classify import Taxonomy
from catalogues.normalise import clean_text, parse_bool, parse_date, parse_money
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
    optional=[
        "reference",
        "notice_months",
        "early_exit",
        "exit_fee",
        "exit_fee_pct",
        "extension_months",
        "extension_uplift_pct",
    ],
    aliases={
        "trust": ["trust_code"],
        "supplier": ["supplier_code"],
        "category": ["lot"],
        "start": ["start_date", "contract_start"],
        "end": ["end_date", "contract_end", "expiry"],
        "reference": ["contract_reference", "contract_ref", "ref"],
        "notice_months": ["notice", "notice_period_months"],
        "early_exit": ["can_exit_early", "early_termination"],
        "exit_fee": ["termination_fee"],
        "exit_fee_pct": ["termination_fee_pct", "exit_fee_percent"],
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
        # early_exit: blank means yes (the default); parse_bool reads blank as no
        exit_text = clean_text(table["early_exit"])
        early_exit = parse_bool(exit_text.where(exit_text != "", "yes"), what="early exit")
        problems.add_parsed("early_exit", early_exit)
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
                "early_exit": early_exit.values.astype(bool),
                "exit_fee": _optional_number(table, "exit_fee", problems, maximum=100_000_000, money=True),
                "exit_fee_pct": _optional_number(table, "exit_fee_pct", problems, maximum=100),
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
            session, import_id, Contract, col(Contract.trust_id).in_([int(t) for t in rows["trust_id"].unique()])
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
