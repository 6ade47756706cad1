r"""Line screening: solve large instances over the lines that can matter.

The join-month hull of :mod:`solver.model` is tight but has a column per (trust,
line, candidate month) and per tier on top; nationally (130 trusts, 2,000 lines,
200,000 usable pairs) that is 1.5 million columns and the LP relaxation alone does
not finish in minutes, and with many lines per group the search for the range is
what is hard. The range cap keeps only a few lines per group, and most lines are
never worth keeping, so a large instance is solved over candidate sets of lines:

- the ``per_group`` lines of each group with the largest *line score*, the savings
  if every trust that may use the line put its whole group demand on it at the
  line's deepest tier price, :math:`\sum_t D_{tg} (b_{tg} - p_l (1 - \bar d_l))`
  with :math:`b_{tg}` the trust's average price paid today;
- the best-scored line of every (supplier, category), so the supplier-count and
  share rules keep their choices;
- every trust's cheapest usable line in each of its groups, so coverage holds;
- the lines of a known plan (the greedy one), so it stays feasible and can be the
  first incumbent;
- the lines of the Lagrangian relaxation's plan (:mod:`solver.bound`: the range it keeps
  in capped groups, the lines trusts take elsewhere), added by the caller: measured on
  the national instance they lift the staged plan by 1.6% within the same time.

:func:`solver.solve.solve` solves in stages of growing sets (:data:`STAGES` lines
per group, then every line), each warm-started from the best plan so far, while the
time limit allows. A restricted problem's plans are plans of the full problem (only
candidate pairs are dropped), so every stage's objective is a valid lower bound and
the stages never get worse; a stage's solver bound is a bound *within its candidate
set*, which is why every screened run reports how many lines its stages held. A
stage holding every usable line proves the full problem's optimum.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from solver.data import ModelData
from solver.problem import ProblemData

HULL_COLUMNS_LIMIT = 20_000
"""Screen when the model would have more (trust, line, month) columns than this.

The demo region has about 2,600 and solves to a proven optimum in under a second;
the multi-region instance has 53,000 and the unscreened model found nothing better
than greedy in 100 s."""

STAGES: tuple[int, ...] = (3, 5, 8, 12, 20, 35, 50)
"""Lines per group by score in successive screening stages.

Measured with HiGHS, one thread, from the greedy start: on the national instance (130
trusts, 1,656 usable lines) 3 lines per group (93 candidate lines) solved to
optimality within them in 14 s, 5 (128 lines) in 59 s and 0.5 % better, 8 (183
lines) stopped at 120 s 0.03 % from its own bound and 0.1 % better again, 12 (259
lines) had not solved its root LP in 120 s. On the multi-region instance (30 trusts,
473 usable lines) the unscreened model stopped at 100 s no better than greedy (6.8 %
gap), while 3 per group (76 lines) was optimal within them in 16 s, 3.9 % above
greedy. See docs/benchmarks.md.
"""

MIN_STAGE_SECONDS = 5.0
"""A new stage starts only with at least this much of the time limit left."""


def hull_columns(data: ModelData) -> int:
    """(trust, line, candidate month) allocation columns of the model."""
    months = data.join_options.groupby(["trust", "category"]).size().rename("months").reset_index()
    per_pair = data.pairs[["trust", "category"]].merge(months, on=["trust", "category"], how="left")
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
    by_supplier = scores.assign(category=scores["line"].map(category))
    per_supplier = by_supplier.drop_duplicates(["supplier", "category"])["line"]
    cheapest = data.pairs.sort_values(["trust", "group", "price", "line"]).drop_duplicates(["trust", "group"])["line"]
    return set(top) | set(per_supplier) | set(cheapest) | set(keep)


def candidate_stages(data: ModelData) -> list[set[str]]:
    """The candidate sets of the screening stages (:data:`STAGES`), growing, the last
    being every usable line (so a run with time to spare ends with the full problem).
    The caller adds the lines of its best plan so far to each."""
    sets = [candidate_lines(data, k) for k in STAGES]
    sets.append(set(data.pairs["line"]))
    return sets


def restrict(problem: ProblemData, lines: set[str]) -> ProblemData:
    """``problem`` with trusts allowed only the given lines (other candidates dropped)."""
    keep = problem.candidates["line"].isin(lines).to_numpy()
    return dataclasses.replace(problem, candidates=problem.candidates[keep].reset_index(drop=True))


def should_screen(data: ModelData) -> bool:
    """Whether the full model is too large to solve directly (:data:`HULL_COLUMNS_LIMIT`)."""
    return hull_columns(data) > HULL_COLUMNS_LIMIT
