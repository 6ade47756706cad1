"""Switching costs: what moving a trust onto a supplier's system or product line costs once.

Each row names a trust (or ``ALL``), a supplier, and either a ``brand`` (with an
optional ``group``: one product line; a brand in several groups names each of its
lines) or a ``category`` (the supplier's whole system there: the instrument sets,
training and consignment stock its lines share), a one-off ``cost_gbp``, an optional
``kind`` and ``note``. Semantics (README, ``solver.model``): a system cost is paid
once per trust that does not use the system today and starts to; a line cost for
each line a trust starts to use.

A file replaces the figures of the previous one as a whole: every import keeps its
rows (linked to its ``DataImport``, so earlier figures stay on record and auditable);
the newest import's rows are in force (``procurement.scenarios.switching``).
"""

from pathlib import Path

import pandas as pd
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from catalogues.classify import Taxonomy
from catalogues.normalise import clean_text, parse_money, slug
from catalogues.read import ROW_COLUMN, TableSpec
from procurement.importers.core import (
    FileImporter,
    ImportReport,
    Problems,
    category_ids,
    lookup_codes,
    sql_records,
)
from procurement.models import DataImport, SwitchingCost
from procurement.reference import groups_frame, lines_frame, suppliers_by_code, trusts_by_code

KIND = "switching-costs"
ALL_TRUSTS = "ALL"
SWITCHING_KINDS = ("instruments", "training", "consignment", "other")  # as solver.problem.SWITCHING_KINDS
MAX_SWITCHING_COST_GBP = 10_000_000.0  # far above any real figure: a typo guard

SWITCHING_SPEC = TableSpec(
    "switching-costs",
    required=["trust", "supplier", "cost_gbp"],
    optional=["brand", "group", "category", "kind", "note"],
    aliases={
        "trust": ["trust_code"],
        "supplier": ["supplier_code"],
        "brand": ["product", "range", "brand_name"],
        "category": ["system", "lot"],
        "cost_gbp": ["cost", "amount", "one_off_cost"],
        "kind": ["cost_kind", "type"],
        "note": ["notes", "comment"],
    },
    one_of=[["brand", "category"]],
)
KEY = ["trust_id", "supplier_id", "category_id", "product_line_id", "kind"]


class _SwitchingImport(FileImporter):
    kind = KIND
    spec = SWITCHING_SPEC
    uses_taxonomy = True

    def check(self, session: Session, table: pd.DataFrame, problems: Problems, report: ImportReport) -> pd.DataFrame:
        """One row per (file row, product line or system it names), ready to store."""
        trust_code = clean_text(table["trust"]).str.upper()
        everyone = trust_code == ALL_TRUSTS
        # ALL is looked up as a placeholder id (0) and stored as NULL: every trust.
        known_trusts = {**trusts_by_code(session), ALL_TRUSTS: 0}
        trust_id = lookup_codes(problems, table, "trust", known_trusts, "trust").mask(everyone)
        supplier_id = lookup_codes(problems, table, "supplier", suppliers_by_code(session), "supplier")
        supplier = clean_text(table["supplier"]).str.upper()

        brand = clean_text(table["brand"])
        group = clean_text(table["group"]).str.upper()
        category = clean_text(table["category"]).str.lower()
        is_line, is_system = brand != "", category != ""
        problems.add(
            is_line & is_system,
            "category",
            "give either brand (one product line) or category (the supplier's whole system), not both",
        )
        problems.add(
            ~is_line & ~is_system,
            "brand",
            "missing brand (one product line) or category (the supplier's whole system)",
        )
        problems.add((group != "") & ~is_line, "group", "group names a product line: give its brand too")
        unknown_group = (group != "") & ~group.isin(set(groups_frame(session)["group"]))
        problems.add(unknown_group, "group", "unknown group code")

        lines = lines_frame(session)
        systems = pd.DataFrame({"index": table.index[is_system & ~is_line], "category": category[is_system & ~is_line]})
        known_categories = category_ids(session)
        systems["category_id"] = systems["category"].map(known_categories)
        problems.add(is_system & ~is_line & ~category.isin(known_categories.index), "category", "unknown category code")
        offered = pd.Series(
            pd.MultiIndex.from_arrays([supplier, category]).isin(
                pd.MultiIndex.from_frame(lines[["supplier", "category"]])
            ),
            index=table.index,
        )  # the supplier has a line in the category
        problems.add(
            is_system & ~is_line & category.isin(known_categories.index) & supplier_id.notna() & ~offered,
            "category",
            "the supplier has no product line in this category (import its catalogue first)",
        )

        wanted = pd.DataFrame({"index": table.index, "supplier": supplier, "brand_key": slug(brand), "group": group})
        wanted = wanted[is_line & ~is_system]
        named = wanted.merge(
            lines.assign(brand_key=slug(lines["brand"]))[
                ["line_id", "supplier", "brand_key", "group", "category"]
            ].rename(columns={"group": "line_group"}),
            on=["supplier", "brand_key"],
        )
        named = named[(named["group"] == "") | (named["group"] == named["line_group"])]
        named = named.assign(category_id=named["category"].map(known_categories))
        unmatched = (
            table.index.isin(wanted["index"]) & ~table.index.isin(named["index"]) & supplier_id.notna() & ~unknown_group
        )
        problems.add(
            pd.Series(unmatched, index=table.index),
            "brand",
            "no product line of this supplier and brand (in this group) (import its catalogue first)",
        )

        cost = parse_money(table["cost_gbp"], allow_zero=True, maximum=MAX_SWITCHING_COST_GBP, what="switching cost")
        problems.add_parsed("cost_gbp", cost)
        kind = clean_text(table["kind"]).str.lower()
        problems.add(
            (kind != "") & ~kind.isin(SWITCHING_KINDS),
            "kind",
            f"kind must be one of {', '.join(SWITCHING_KINDS)} or empty",
        )

        rows = pd.concat(
            [
                systems[["index", "category_id"]].assign(product_line_id=pd.NA),
                named[["index", "category_id", "line_id"]].rename(columns={"line_id": "product_line_id"}),
            ],
            ignore_index=True,
        ).sort_values("index", kind="stable", ignore_index=True)  # in file order
        at = rows["index"]
        rows = rows.assign(
            trust_id=trust_id.loc[at].to_numpy(),
            supplier_id=supplier_id.loc[at].to_numpy(),
            kind=kind.loc[at].replace("", None).to_numpy(),
            cost=cost.values.loc[at].to_numpy(),
            note=clean_text(table["note"]).loc[at].to_numpy(),
            source_row=table[ROW_COLUMN].loc[at].to_numpy(),
        )
        self._reject_repeats(rows, table, problems)

        previous = session.execute(select(func.count()).where(col(DataImport.kind) == KIND)).scalar_one()
        report.version = previous + 1
        if previous:
            report.notes.append(f"replaces the switching costs of the {previous} earlier file(s); they stay on record")
        return rows

    @staticmethod
    def _reject_repeats(rows: pd.DataFrame, table: pd.DataFrame, problems: Problems) -> None:
        """A second row with the key of an earlier one (trust, supplier, system or line, kind).

        Among rows without other problems: a rejected row cannot hide a good one.
        """
        rows = rows[~problems.bad().loc[rows["index"]].to_numpy()]
        keyed = rows.assign(**{c: rows[c].astype(object).where(rows[c].notna(), "-") for c in KEY})
        first_row = keyed.groupby(KEY)["source_row"].transform("min")
        repeats = keyed[keyed["source_row"] != first_row]
        mask = pd.Series(table.index.isin(repeats["index"]), index=table.index)
        reason = pd.Series("", index=table.index, dtype=object)
        same = "(same trust, supplier, system or line and kind)"
        reason.loc[repeats["index"].to_numpy()] = [f"repeats row {int(r)} {same}" for r in first_row.loc[repeats.index]]
        problems.add(mask, "trust", reason)

    def store(
        self, session: Session, rows: pd.DataFrame, good: pd.Series, import_id: int, report: ImportReport
    ) -> None:
        rows = rows[rows["index"].map(good)].drop(columns="index").assign(import_id=import_id)
        if len(rows):
            ints = ["trust_id", "supplier_id", "category_id", "product_line_id", "source_row"]
            session.execute(insert(SwitchingCost), sql_records(rows, ints=ints))


def import_switching_costs(
    engine: Engine, path: Path, *, user: str | None = None, taxonomy: Taxonomy | None = None
) -> ImportReport:
    """Import a switching-costs file (CSV or XLSX); its rows replace the earlier file's.

    One transaction; rejected rows name file row and column (docs/formats.md).
    """
    return _SwitchingImport(user=user, taxonomy=taxonomy).run(engine, path)
