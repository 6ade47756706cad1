"""Switching costs of a scenario: the imported figures in force, as the solver's ``switching`` table.

The rule (README, ``solver.model``): a trust pays a supplier's *system* cost (a row
without a line: instrument sets, training, consignment stock) once when it starts to
use any line of that supplier in that category and uses none of them today; it pays a
*line* cost for each line it starts to use; where no row is about that (trust, line)
(neither a line row nor a row for the line's system), the scenario's
``switching_cost`` default is paid per new line instead, as before switching costs
were data, so a database without a switching-costs file gives the same answers.

The figures in force are the rows of the newest switching-costs import that stored
any (earlier imports keep theirs, on record). A row for ``ALL`` trusts applies to
every trust of the scenario; a row for one trust replaces the ``ALL`` row with the
same supplier, system or line, and kind.
"""

import pandas as pd
from sqlalchemy import func, select
from sqlmodel import Session, col

from procurement.models import SwitchingCost
from procurement.reference import codes, frame, join_codes

COLUMNS = ["trust", "supplier", "category", "line", "kind", "cost"]
_KEY = ["supplier", "category", "line", "kind"]


def costs_in_force(session: Session) -> pd.DataFrame:
    """The switching costs in force: trust (None: every trust), supplier, category, line, kind, cost, note.

    Codes, not ids; ``line`` None for a system cost. Empty (with these columns) when no
    switching-costs file was imported.
    """
    newest = session.execute(select(func.max(col(SwitchingCost.import_id)))).scalar_one_or_none()
    columns = [*COLUMNS, "note"]
    if newest is None:
        return pd.DataFrame(columns=columns)
    keys = {
        "trust": SwitchingCost.trust_id,
        "supplier": SwitchingCost.supplier_id,
        "category": SwitchingCost.category_id,
        "line": SwitchingCost.product_line_id,
    }
    query = (
        select(*codes(*keys), col(SwitchingCost.kind), col(SwitchingCost.cost), col(SwitchingCost.note))
        .where(col(SwitchingCost.import_id) == newest)
        .order_by(col(SwitchingCost.id))
    )
    # no trust: every trust (ALL); no line: a cost of the supplier's system
    rows = frame(session, join_codes(query, keys, outer=("trust", "line")))
    return rows[columns]


def switching_for_problem(
    session: Session, trusts: list[str], lines: pd.DataFrame, pairs: pd.DataFrame, default_cost: float
) -> tuple[pd.DataFrame, pd.Series]:
    """The solver's ``switching`` rows and the fallback cost per candidate (trust, line).

    ``lines`` holds the problem's lines (line, supplier, category), ``pairs`` its
    candidates (trust, line, category, in_use). Rows about trusts, lines or systems
    outside the problem are left out. Returns ``(switching, switch_cost)``: the rows
    (columns ``COLUMNS``) and, aligned with ``pairs``, ``default_cost`` for each new
    (trust, line) no row is about, else 0.
    """
    in_force = costs_in_force(session)
    everyone = in_force[in_force["trust"].isna()].drop(columns="trust")
    expanded = everyone.merge(pd.DataFrame({"trust": trusts}), how="cross")
    own = in_force[in_force["trust"].isin(trusts)]
    rows = pd.concat([own, expanded], ignore_index=True)  # own rows first: they win a key
    key = rows[["trust", *_KEY]].astype(object).where(rows[["trust", *_KEY]].notna(), "")
    rows = rows[~key.duplicated(keep="first")]
    systems = lines[["supplier", "category"]].drop_duplicates()
    is_system = rows["line"].isna()
    in_problem = rows.merge(systems.assign(known=True), on=["supplier", "category"], how="left")["known"].notna()
    in_problem &= ~(~is_system & ~rows["line"].isin(lines["line"])).to_numpy()
    rows = rows[in_problem.to_numpy()].reset_index(drop=True)[COLUMNS]

    # Which candidate (trust, line) pairs some row is about: a row of the line or of its system.
    candidates = pairs[["trust", "line"]].merge(lines[["line", "supplier", "category"]], on="line", how="left")
    by_line = rows.loc[rows["line"].notna(), ["trust", "line"]].drop_duplicates().assign(by_line=True)
    by_system = rows.loc[rows["line"].isna(), ["trust", "supplier", "category"]].drop_duplicates()
    covered = (
        candidates.merge(by_line, on=["trust", "line"], how="left")
        .merge(by_system.assign(by_system=True), on=["trust", "supplier", "category"], how="left")[
            ["by_line", "by_system"]
        ]
        .notna()
        .any(axis=1)
        .to_numpy()
    )
    fallback = (~pairs["in_use"].astype(bool) & ~covered).astype(float) * default_cost
    return rows, pd.Series(fallback.to_numpy(), index=pairs.index)


__all__ = ["COLUMNS", "costs_in_force", "switching_for_problem"]
