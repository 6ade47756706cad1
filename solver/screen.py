r"""Line screening: solve large instances over the lines that can matter.

The join-month hull of :mod:`solver.model` is tight but has a column per (trust,
line, candidate month) and per tier on top; nationally (130 trusts, 2,000 lines,
200,000 usable pairs) that is millions of columns and the LP relaxation alone does
not finish in minutes. The range cap keeps only a few lines per group, and most
lines are never worth keeping, so a large instance is solved over a candidate set
of lines instead:

- the ``per_group`` lines of each group with the largest *line score*, the savings
  if every trust that may use the line put its whole group demand on it at the
  line's deepest tier price, :math:`\sum_t D_{tg} (b_{tg} - p_l (1 - \bar d_l))`
  with :math:`b_{tg}` the trust's average price paid today;
- the best-scored line of every (supplier, category), so the supplier-count and
  share rules keep their choices;
- every trust's cheapest usable line in each of its groups, so coverage holds;
- the lines of a known plan (the greedy one), so it stays feasible and can be the
  first incumbent.

The restricted problem's plans are plans of the full problem (only candidate
pairs are dropped), so its objective is a valid lower bound; its solver bound is a
bound *within the candidate set*, which is why :func:`solver.solve.solve` reports
how many lines were screened out with every screened run.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from solver.data import ModelData
from solver.problem import ProblemData

HULL_COLUMNS_LIMIT = 250_000
"""Screen when the model would have more (trust, line, month) columns than this."""

HULL_COLUMNS_TARGET = 80_000
"""Largest screened model: the most lines per group whose model stays under this.

Measured on the national instance (130 trusts, 1,656 usable lines, HiGHS, one
thread, 120 s): 3 lines per group by score (93 candidate lines, 46,000 columns)
solved to optimality within them in 14 s; 5 (128 lines, 64,000) in 59 s, 0.5 %
better; 8 (183 lines, 92,000) stopped at the time limit 0.03 % from its own bound,
0.1 % better again; 12 (259 lines) had not solved its root LP in 120 s. See
docs/benchmarks.md.
"""

MAX_PER_GROUP = 50


def hull_columns(data: ModelData, lines: set[str] | None = None) -> int:
    """(trust, line, candidate month) allocation columns of the model, on ``lines`` if given."""
    months = data.join_options.groupby(["trust", "category"]).size().rename("months").reset_index()
    pairs = data.pairs if lines is None else data.pairs[data.pairs["line"].isin(lines)]
    per_pair = pairs[["trust", "category"]].merge(months, on=["trust", "category"], how="left")
    return int(per_pair["months"].fillna(0).sum())


def line_scores(data: ModelData) -> pd.DataFrame:
    """Every usable line with its score (see module docstring): line, group, supplier, score."""
    pairs = data.pairs
    deepest = data.tiers.groupby("offer")["discount"].max()
    discount = pairs["offer"].map(deepest).astype(float).fillna(0.0).to_numpy()
    tg = data.tg.set_index(["trust", "group"])
    paid = (tg["baseline"] / tg["demand"].where(tg["demand"] > 0)).fillna(0.0)
    paid_today = paid.reindex(pd.MultiIndex.from_frame(pairs[["trust", "group"]])).to_numpy()
    gain = pairs["demand"].to_numpy() * (paid_today - pairs["price"].to_numpy() * (1.0 - discount))
    scored = pairs[["line", "group", "supplier"]].assign(score=gain)
    return scored.groupby(["line", "group", "supplier"], as_index=False)["score"].sum()


def candidate_lines(data: ModelData, per_group: int, keep: set[str] | frozenset[str] = frozenset()) -> set[str]:
    """The candidate set of lines with ``per_group`` lines by score (see module docstring)."""
    scores = line_scores(data).sort_values(["group", "score", "line"], ascending=[True, False, True])
    top = scores.groupby("group").head(per_group)["line"]
    category = data.pairs.drop_duplicates("line").set_index("line")["category"]
    per_supplier = scores.assign(category=scores["line"].map(category)).drop_duplicates(["supplier", "category"])["line"]
    cheapest = data.pairs.sort_values(["trust", "group", "price", "line"]).drop_duplicates(["trust", "group"])["line"]
    return set(top) | set(per_supplier) | set(cheapest) | set(keep)


def screened_lines(
    data: ModelData, keep: set[str] | frozenset[str] = frozenset(), target: int = HULL_COLUMNS_TARGET
) -> set[str]:
    """The largest candidate set (most lines per group by score) whose model has at most
    ``target`` allocation columns; one line per group by score at least."""
    best = candidate_lines(data, 1, keep)
    for per_group in range(2, MAX_PER_GROUP + 1):
        lines = candidate_lines(data, per_group, keep)
        if hull_columns(data, lines) > target or lines == best:
            break
        best = lines
    return best


def restrict(problem: ProblemData, lines: set[str]) -> ProblemData:
    """``problem`` with trusts allowed only the given lines (other candidates dropped)."""
    keep = problem.candidates["line"].isin(lines).to_numpy()
    return dataclasses.replace(problem, candidates=problem.candidates[keep].reset_index(drop=True))


def should_screen(data: ModelData) -> bool:
    """Whether the full model is too large to solve directly (:data:`HULL_COLUMNS_LIMIT`)."""
    return hull_columns(data) > HULL_COLUMNS_LIMIT


def screened_share(data: ModelData, lines: set[str]) -> tuple[int, int]:
    """(candidate lines, usable lines) for reporting."""
    usable = data.pairs["line"].unique()
    return int(np.isin(usable, list(lines)).sum()), len(usable)
