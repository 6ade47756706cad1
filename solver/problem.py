"""Input schema of the optimiser: tables, keys, foreign keys and value ranges.

A :class:`ProblemData` is validated and normalised when it is constructed, so an
invalid one cannot exist: every check that fails raises :class:`ProblemDataError`
naming the table, the row key and the column, in words a procurement lead can act on.

Tables (one pandas DataFrame each; extra columns are dropped, keys become ``str``):

============  ===============================  ==============================================
table         key                              columns
============  ===============================  ==============================================
trusts        trust
groups        group                            category
lines         line                             supplier, group -> groups, regional_price > 0,
                                               list_price > 0 (optional: catalogue price,
                                               default regional_price)
demand        trust, group                     units > 0
current       trust, line                      units >= 0, unit_price > 0
candidates    trust, line                      approved, odep_ok (bool), switch_cost >= 0
offers        offer                            supplier, basis in {"units", "spend"}
offer_lines   offer, line (line unique)        the line's supplier is the offer's supplier
tiers         offer, threshold                 threshold > 0 increasing, discount in [0, 1)
                                               non-decreasing within an offer
contracts     trust, category, contract        supplier (None: the trust's spend in the
                                               category on suppliers without a contract of
                                               their own), end_month (int, may be <= 0),
                                               notice_months >= 0, early_exit (bool),
                                               exit_fee >= 0, exit_fee_pct in [0, 1],
                                               extension_months >= 0 or None (no limit),
                                               extension_uplift >= 0
switching     trust, supplier, category,       cost >= 0; line None: the supplier's whole
              line, kind                       system in the category, else a line of that
                                               supplier and category; kind in
                                               :data:`SWITCHING_KINDS` or None
============  ===============================  ==============================================

``switching`` holds one-off switching costs as data (what :mod:`solver.model` states
precisely): a trust pays the rows without a line (a *system* cost: instrument sets,
training, consignment stock shared by the supplier's lines in the category) once
when it first uses a line of that (supplier, category) and uses none of its lines
today, and the rows with a line for each line it uses and does not use today. Rows
that differ only in ``kind`` add up. ``candidates.switch_cost`` is the fallback cost
per new line (kind None), paid on top of any line rows; callers put the scenario's
default there where no row applies, so a problem without ``switching`` rows is
priced as before. In ``switching`` the columns ``line`` and ``kind`` may be None
(or NaN, or empty); the others may not.

Optional columns (filled with their default when absent): ``lines.list_price``
(regional_price); ``contracts``: ``contract`` ("trust/category", so an old-style frame
with one row per (trust, category) still loads), ``supplier`` (None),
``notice_months`` (0), ``early_exit`` (True), ``exit_fee`` (0), ``exit_fee_pct`` (0),
``extension_months`` (None), ``extension_uplift`` (0). A (trust, category) has at most
one contract per supplier and at most one with supplier None. ``end_month`` and
``extension_months`` are months from the agreement start; a contract's remaining value
is its monthly spend times the months left to its end.

Current units of a (trust, group) add up to its demand (to a relative tolerance of
1e-6), so the baseline spend of a (trust, group) is well defined.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

RULE_FAMILIES: tuple[str, ...] = (
    "range_cap",
    "trust_range_cap",
    "odep",
    "approvals",
    "min_suppliers",
    "max_share",
    "year_one_cap",
    "switching_costs",
    "contract_terms",
    "join_capacity",
)
"""Rule families that :attr:`Settings.relax` may drop (used by ``price_of_rules``).

``switching_costs`` is an assumption rather than a rule: relaxed, every switching
cost (system, line and fallback) is zero, so its price is what the switching-cost
figures cost the region."""

SWITCHING_KINDS: tuple[str, ...] = ("instruments", "training", "consignment", "other")
"""Kinds of switching cost a ``switching`` row may name (or None: unclassified)."""

SOLVERS: tuple[str, ...] = ("highs", "cbc")
PARTICIPATION: tuple[str, ...] = ("all", "optional")
UNITS_TOLERANCE = 1e-6
"""Relative tolerance for "current units add up to demand"."""


class ProblemDataError(ValueError):
    """Invalid problem data: names the table, the row key and the column at fault."""

    def __init__(self, table: str, key: str | None, column: str | None, problem: str) -> None:
        self.table = table
        self.key = key
        self.column = column
        self.problem = problem
        where = f"table '{table}'"
        if key:
            where += f", row {key}"
        if column:
            where += f", column '{column}'"
        super().__init__(f"{where}: {problem}")

    def __reduce__(self):
        # picklable, so a worker process can report it (the default would call __init__ with one argument)
        return (type(self), (self.table, self.key, self.column, self.problem))


@dataclass(frozen=True)
class Settings:
    """Scenario settings: the rules, the timing grid and the solver options.

    Attributes
    ----------
    range_cap, range_cap_by_group
        At most this many product lines per group in the regional range.
    trust_range_cap
        At most this many lines per group at one trust (``None``: no cap).
    min_suppliers, min_suppliers_by_category
        At least this many suppliers per category among those used regionally. A
        supplier counts only if it carries at least ``min_supplier_share`` of the
        category's regional units (a token 0.1 % share gives no resilience).
    min_supplier_share
        Share of a category's regional units a supplier needs to count towards
        ``min_suppliers``; in (0, 1].
    max_supplier_share
        No supplier carries more than this share of a category's regional units.
    year_one_cap
        At most this share of a trust's annual units may be on lines it does not use
        today, counted over months 0-11 (``None``: no cap).
    horizon_months, join_grid_months
        Horizon of the savings case, and the spacing of candidate join months
        (0, grid, 2 grid, ... < horizon).
    participation
        ``"all"``: every trust joins every category with demand before the horizon
        ends; ``"optional"``: a trust may stay as today, and a trust that joins is
        never worse off over the horizon.
    solver, time_limit, gap_rel, threads, msg
        HiGHS (default) or CBC; wall-clock limit in seconds; relative gap at which
        to stop; solver threads; solver log to the console.
    decision_month
        Month (from the agreement start, usually <= 0) from which notice can be
        served: a contract with ``notice_months`` n can be left early from month
        ``decision_month + n`` on.
    max_joins_per_quarter
        Programme capacity: at most this many (trust, category) pairs join in one
        agreement quarter (months 3q to 3q + 2); ``None``: no limit.
    relax
        Rule families (:data:`RULE_FAMILIES`) to drop, for the price of a rule.
        ``contract_terms`` drops the decision month, notice, no-early-exit and
        extension limits (exit fees and uplifts still apply); ``join_capacity`` drops
        ``max_joins_per_quarter``.
    """

    range_cap: int = 3
    range_cap_by_group: dict[str, int] = field(default_factory=dict)
    trust_range_cap: int | None = 2
    min_suppliers: int = 1
    min_suppliers_by_category: dict[str, int] = field(default_factory=dict)
    min_supplier_share: float = 0.05
    max_supplier_share: float = 1.0
    year_one_cap: float | None = None
    horizon_months: int = 36
    join_grid_months: int = 3
    participation: Literal["all", "optional"] = "all"
    solver: Literal["highs", "cbc"] = "highs"
    time_limit: float = 60.0
    gap_rel: float = 1e-4
    threads: int = 1
    msg: bool = False
    relax: frozenset[str] = frozenset()
    decision_month: int = 0
    max_joins_per_quarter: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "relax", frozenset(self.relax))

    def active(self, family: str) -> bool:
        """Whether rule ``family`` is enforced (not in :attr:`relax`)."""
        return family not in self.relax

    def group_cap(self, group: str) -> int:
        return int(self.range_cap_by_group.get(group, self.range_cap))

    def category_min_suppliers(self, category: str) -> int:
        return int(self.min_suppliers_by_category.get(category, self.min_suppliers))


@dataclass(frozen=True)
class _Table:
    key: tuple[str, ...]
    columns: dict[str, str]  # name -> kind: "str", "float", "int", "bool"; "?" suffix: may be None
    defaults: dict[str, object] = field(default_factory=dict)  # optional columns; a callable gets the frame


SCHEMA: dict[str, _Table] = {
    "trusts": _Table(("trust",), {"trust": "str"}),
    "groups": _Table(("group",), {"group": "str", "category": "str"}),
    "lines": _Table(
        ("line",),
        {"line": "str", "supplier": "str", "group": "str", "regional_price": "float", "list_price": "float"},
        {"list_price": lambda frame: frame["regional_price"]},
    ),
    "demand": _Table(("trust", "group"), {"trust": "str", "group": "str", "units": "float"}),
    "current": _Table(
        ("trust", "line"),
        {"trust": "str", "line": "str", "units": "float", "unit_price": "float"},
    ),
    "candidates": _Table(
        ("trust", "line"),
        {
            "trust": "str",
            "line": "str",
            "approved": "bool",
            "odep_ok": "bool",
            "switch_cost": "float",
        },
    ),
    "offers": _Table(("offer",), {"offer": "str", "supplier": "str", "basis": "str"}),
    "offer_lines": _Table(("offer", "line"), {"offer": "str", "line": "str"}),
    "tiers": _Table(("offer", "threshold"), {"offer": "str", "threshold": "float", "discount": "float"}),
    "contracts": _Table(
        ("trust", "category", "contract"),
        {
            "trust": "str",
            "category": "str",
            "contract": "str",
            "supplier": "str?",
            "end_month": "int",
            "notice_months": "int",
            "early_exit": "bool",
            "exit_fee": "float",
            "exit_fee_pct": "float",
            "extension_months": "int?",
            "extension_uplift": "float",
        },
        {
            # old-style frames: one contract per (trust, category), named after it
            "contract": lambda frame: frame["trust"].astype(str) + "/" + frame["category"].astype(str),
            "supplier": None,
            "notice_months": 0,
            "early_exit": True,
            "exit_fee": 0.0,
            "exit_fee_pct": 0.0,
            "extension_months": None,
            "extension_uplift": 0.0,
        },
    ),
    "switching": _Table(
        ("trust", "supplier", "category", "line", "kind"),
        {
            "trust": "str",
            "supplier": "str",
            "category": "str",
            "line": "str?",
            "kind": "str?",
            "cost": "float",
        },
    ),
}


def empty_frame(table: str) -> pd.DataFrame:
    """An empty frame with ``table``'s columns and dtypes."""
    dtypes = {"str": object, "float": float, "int": "int64", "bool": bool, "str?": object, "int?": "Int64"}
    cols = SCHEMA[table].columns
    return pd.DataFrame({c: pd.Series(dtype=dtypes[k]) for c, k in cols.items()})


@dataclass(frozen=True)
class ProblemData:
    """Validated input tables and settings of one scenario (see module docstring).

    Construction validates and normalises the frames; it raises
    :class:`ProblemDataError` on the first problem found. ``offers``,
    ``offer_lines``, ``tiers``, ``contracts`` and ``switching`` may be omitted (or
    passed as None): after construction every table is a DataFrame, empty if omitted.
    """

    trusts: pd.DataFrame
    groups: pd.DataFrame
    lines: pd.DataFrame
    demand: pd.DataFrame
    current: pd.DataFrame
    candidates: pd.DataFrame
    offers: pd.DataFrame = field(default_factory=lambda: empty_frame("offers"))
    offer_lines: pd.DataFrame = field(default_factory=lambda: empty_frame("offer_lines"))
    tiers: pd.DataFrame = field(default_factory=lambda: empty_frame("tiers"))
    contracts: pd.DataFrame = field(default_factory=lambda: empty_frame("contracts"))
    switching: pd.DataFrame = field(default_factory=lambda: empty_frame("switching"))
    settings: Settings = field(default_factory=Settings)

    def __post_init__(self) -> None:
        for table in SCHEMA:
            frame = getattr(self, table)
            normalised = empty_frame(table) if frame is None else _normalise(table, frame)
            object.__setattr__(self, table, normalised)
        _check_keys_and_references(self)
        _check_values(self)
        _check_settings(self)

    def with_settings(self, **changes: Any) -> ProblemData:
        """A copy with some settings changed (validated again)."""
        return dataclasses.replace(self, settings=dataclasses.replace(self.settings, **changes))


# --------------------------------------------------------------------------- checks


def _fmt_key(table: str, row: pd.Series | dict) -> str:
    return "(" + ", ".join(f"{k}={row[k]!r}" for k in SCHEMA[table].key) + ")"


def _first_bad(table: str, frame: pd.DataFrame, mask: pd.Series, column: str, problem: str):
    """Raise for the first row of ``frame`` where ``mask`` holds."""
    if mask.any():
        row = frame.loc[mask.idxmax()]
        value = row.get(column, None)
        raise ProblemDataError(table, _fmt_key(table, row), column, problem.format(value=value))


def _normalise(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise ProblemDataError(table, None, None, f"expected a pandas DataFrame, got {type(frame)}")
    spec = SCHEMA[table]
    missing = [c for c in spec.columns if c not in frame.columns and c not in spec.defaults]
    if missing:
        raise ProblemDataError(table, None, missing[0], "required column is missing")
    frame = frame.reset_index(drop=True)
    if spec.defaults:
        # an optional column missing, or empty in some rows, takes its default there
        frame = frame.copy()
        for col, default in spec.defaults.items():
            value = default(frame) if callable(default) else pd.Series([default] * len(frame), dtype=object)
            if col not in frame.columns:
                frame[col] = value if len(frame) else pd.Series(dtype=object)
            elif default is not None:
                frame[col] = frame[col].astype(object).where(frame[col].notna(), value)
    out = frame.loc[:, list(spec.columns)].copy()
    for col, kind in spec.columns.items():
        s = out[col]
        if kind == "str?":
            empty = s.isna() | (s.astype(str).str.strip() == "")
            out[col] = s.astype(str).astype(object).where(~empty, None)
        elif kind == "int?":
            num = pd.to_numeric(s, errors="coerce")
            bad = s.notna() & (num.isna() | ~np.isfinite(num.astype(float)))
            _first_bad(table, out, bad, col, "not a finite number: {value!r}")
            frac = num.notna() & (num.astype(float) != np.floor(num.astype(float)))
            _first_bad(table, out, frac, col, "not a whole number: {value!r}")
            out[col] = num.astype("Int64")
        elif kind == "str":
            bad = s.isna() | (s.astype(str).str.strip() == "")
            _first_bad(table, out, bad, col, "empty value")
            out[col] = s.astype(str).astype(object)
        elif kind in ("float", "int"):
            num = pd.to_numeric(s, errors="coerce")
            bad = num.isna() | ~np.isfinite(num.astype(float))
            _first_bad(table, out, bad, col, "not a finite number: {value!r}")
            if kind == "int":
                frac = num.astype(float) != np.floor(num.astype(float))
                _first_bad(table, out, frac, col, "not a whole number: {value!r}")
                out[col] = num.astype("int64")
            else:
                out[col] = num.astype(float)
        else:  # bool
            if s.dtype == bool:
                continue
            ok = s.isin([True, False, 0, 1])
            _first_bad(table, out, ~ok, col, "not a boolean: {value!r}")
            out[col] = s.astype(bool)
    dup = out.duplicated(list(spec.key), keep="first")
    _first_bad(table, out, dup, spec.key[-1], "duplicate key")
    return out


def _fk(data: ProblemData, table: str, column: str, target: str, target_col: str) -> None:
    frame = getattr(data, table)
    known = set(getattr(data, target)[target_col])
    bad = ~frame[column].isin(known)
    _first_bad(table, frame, bad, column, f"unknown {target_col} {{value!r}} (not in {target})")


def _check_keys_and_references(data: ProblemData) -> None:
    _fk(data, "lines", "group", "groups", "group")
    _fk(data, "demand", "trust", "trusts", "trust")
    _fk(data, "demand", "group", "groups", "group")
    _fk(data, "current", "trust", "trusts", "trust")
    _fk(data, "current", "line", "lines", "line")
    _fk(data, "candidates", "trust", "trusts", "trust")
    _fk(data, "candidates", "line", "lines", "line")
    _fk(data, "offer_lines", "offer", "offers", "offer")
    _fk(data, "offer_lines", "line", "lines", "line")
    _fk(data, "tiers", "offer", "offers", "offer")
    _fk(data, "contracts", "trust", "trusts", "trust")
    ct = data.contracts
    # one contract per supplier (and one catch-all, supplier None) in a (trust, category):
    # otherwise the spend a contract covers is ambiguous
    dup = ct.assign(sup=ct["supplier"].fillna("\0")).duplicated(["trust", "category", "sup"], keep="first")
    _first_bad("contracts", ct, dup, "supplier", "a second contract with supplier {value!r} in this category")
    cats = set(data.groups["category"])
    bad = ~data.contracts["category"].isin(cats)
    _first_bad("contracts", data.contracts, bad, "category", "unknown category {value!r} (not in groups)")
    _check_switching_references(data)
    ol = data.offer_lines
    dup = ol.duplicated("line", keep="first")
    _first_bad("offer_lines", ol, dup, "line", "line {value!r} is already in another offer")
    joined = ol.merge(data.offers, on="offer").merge(
        data.lines[["line", "supplier"]], on="line", suffixes=("_offer", "_line")
    )
    bad = joined["supplier_offer"] != joined["supplier_line"]
    _first_bad("offer_lines", joined, bad, "line", "line {value!r} belongs to another supplier")


def _check_switching_references(data: ProblemData) -> None:
    """Trust, supplier, category and line of every ``switching`` row, and its kind."""
    sw = data.switching
    if sw.empty:
        return
    _fk(data, "switching", "trust", "trusts", "trust")
    lines = data.lines.merge(data.groups, on="group")
    bad = ~sw["supplier"].isin(set(lines["supplier"]))
    _first_bad("switching", sw, bad, "supplier", "unknown supplier {value!r} (no line of it in lines)")
    bad = ~sw["category"].isin(set(data.groups["category"]))
    _first_bad("switching", sw, bad, "category", "unknown category {value!r} (not in groups)")
    offered = pd.MultiIndex.from_frame(lines[["supplier", "category"]].drop_duplicates())
    bad = pd.Series(~pd.MultiIndex.from_frame(sw[["supplier", "category"]]).isin(offered), index=sw.index)
    _first_bad("switching", sw, bad, "category", "the supplier has no line in category {value!r}")
    has_line = sw["line"].notna()
    bad = has_line & ~sw["line"].isin(set(lines["line"]))
    _first_bad("switching", sw, bad, "line", "unknown line {value!r} (not in lines)")
    of_line = sw[["line"]].merge(lines[["line", "supplier", "category"]], on="line", how="left")
    other = (of_line["supplier"].to_numpy() != sw["supplier"].to_numpy()) | (
        of_line["category"].to_numpy() != sw["category"].to_numpy()
    )
    bad = has_line & pd.Series(other, index=sw.index)
    _first_bad("switching", sw, bad, "line", "line {value!r} is not a line of that supplier in that category")
    bad = sw["kind"].notna() & ~sw["kind"].isin(SWITCHING_KINDS)
    _first_bad("switching", sw, bad, "kind", f"must be one of {list(SWITCHING_KINDS)} or empty, got {{value!r}}")


def _check_values(data: ProblemData) -> None:
    lines = data.lines
    _first_bad("lines", lines, lines["regional_price"] <= 0, "regional_price", "must be > 0")
    _first_bad("lines", lines, lines["list_price"] <= 0, "list_price", "must be > 0")
    d = data.demand
    _first_bad("demand", d, d["units"] <= 0, "units", "must be > 0, got {value!r}")
    c = data.current
    _first_bad("current", c, c["units"] < 0, "units", "must be >= 0, got {value!r}")
    _first_bad("current", c, c["unit_price"] <= 0, "unit_price", "must be > 0, got {value!r}")
    k = data.candidates
    _first_bad("candidates", k, k["switch_cost"] < 0, "switch_cost", "must be >= 0")
    o = data.offers
    bad = ~o["basis"].isin(["units", "spend"])
    _first_bad("offers", o, bad, "basis", "must be 'units' or 'spend', got {value!r}")
    t = data.tiers
    _first_bad("tiers", t, t["threshold"] <= 0, "threshold", "must be > 0, got {value!r}")
    bad = (t["discount"] < 0) | (t["discount"] >= 1)
    _first_bad("tiers", t, bad, "discount", "must be in [0, 1), got {value!r}")
    if len(t):
        # strictly increasing thresholds within an offer, in the order given
        prev_thr = t.groupby("offer", sort=False)["threshold"].shift()
        bad = prev_thr.notna() & (t["threshold"] <= prev_thr)
        _first_bad("tiers", t, bad, "threshold", "thresholds must increase within an offer")
        srt = t.sort_values(["offer", "threshold"])
        prev_disc = srt.groupby("offer", sort=False)["discount"].shift()
        bad = (prev_disc.notna() & (srt["discount"] < prev_disc)).reindex(t.index)
        _first_bad("tiers", t, bad, "discount", "discounts must not decrease as thresholds rise")
    ct = data.contracts
    _first_bad("contracts", ct, ct["exit_fee"] < 0, "exit_fee", "must be >= 0")
    _first_bad("contracts", ct, ct["extension_uplift"] < 0, "extension_uplift", "must be >= 0")
    _first_bad("contracts", ct, ct["notice_months"] < 0, "notice_months", "must be >= 0, got {value!r}")
    bad = (ct["exit_fee_pct"] < 0) | (ct["exit_fee_pct"] > 1)
    _first_bad("contracts", ct, bad, "exit_fee_pct", "must be in [0, 1], got {value!r}")
    bad = (ct["extension_months"] < 0).fillna(False).astype(bool)
    _first_bad("contracts", ct, bad, "extension_months", "must be >= 0 or empty (no limit), got {value!r}")
    sw = data.switching
    _first_bad("switching", sw, sw["cost"] < 0, "cost", "must be >= 0, got {value!r}")

    # current units of each (trust, group) add up to its demand
    cur = c.merge(lines[["line", "group"]], on="line")
    have = cur.groupby(["trust", "group"], as_index=False)["units"].sum()
    both = have.merge(d, on=["trust", "group"], how="outer", suffixes=("_current", "_demand"))
    both = both.fillna({"units_current": 0.0, "units_demand": 0.0})
    diff = (both["units_current"] - both["units_demand"]).abs()
    tol = UNITS_TOLERANCE * np.maximum(1.0, both["units_demand"].abs())
    bad = diff > tol
    if bad.any():
        row = both.loc[bad.idxmax()]
        raise ProblemDataError(
            "current",
            f"(trust={row['trust']!r}, group={row['group']!r})",
            "units",
            f"current units add up to {row['units_current']:g} but demand is {row['units_demand']:g}",
        )


def _check_settings(data: ProblemData) -> None:
    s = data.settings

    def bad(column: str, problem: str, key: str | None = None) -> None:
        raise ProblemDataError("settings", key, column, problem)

    if not isinstance(s, Settings):
        bad("settings", f"expected Settings, got {type(s)}")
    if s.range_cap < 1:
        bad("range_cap", "must be >= 1")

    def overrides(column: str, values: dict, known: set, noun: str, least: int) -> None:
        for key, k in values.items():
            if key not in known:
                bad(column, f"unknown {noun}", repr(key))
            if int(k) < least:
                bad(column, f"must be >= {least}", repr(key))

    overrides("range_cap_by_group", s.range_cap_by_group, set(data.groups["group"]), "group", 1)
    if s.trust_range_cap is not None and s.trust_range_cap < 1:
        bad("trust_range_cap", "must be >= 1 or None")
    if s.min_suppliers < 0:
        bad("min_suppliers", "must be >= 0")
    overrides("min_suppliers_by_category", s.min_suppliers_by_category, set(data.groups["category"]), "category", 0)
    if not 0 < s.min_supplier_share <= 1:
        bad("min_supplier_share", "must be in (0, 1]")
    if not 0 < s.max_supplier_share <= 1:
        bad("max_supplier_share", "must be in (0, 1]")
    if s.year_one_cap is not None and not 0 <= s.year_one_cap <= 1:
        bad("year_one_cap", "must be in [0, 1] or None")
    if s.horizon_months < 1:
        bad("horizon_months", "must be >= 1")
    if s.join_grid_months < 1:
        bad("join_grid_months", "must be >= 1")
    if s.participation not in PARTICIPATION:
        bad("participation", f"must be one of {PARTICIPATION}")
    if s.solver not in SOLVERS:
        bad("solver", f"must be one of {SOLVERS}")
    if not (s.time_limit > 0 and math.isfinite(s.time_limit)):
        bad("time_limit", "must be a positive number of seconds")
    if not s.gap_rel >= 0:
        bad("gap_rel", "must be >= 0")
    if s.threads < 1:
        bad("threads", "must be >= 1")
    if not isinstance(s.decision_month, int | np.integer) or isinstance(s.decision_month, bool):
        bad("decision_month", "must be a whole number of months")
    cap = s.max_joins_per_quarter
    if cap is not None and (not isinstance(cap, int | np.integer) or isinstance(cap, bool) or cap < 1):
        bad("max_joins_per_quarter", "must be a whole number >= 1 or None")
    unknown = set(s.relax) - set(RULE_FAMILIES)
    if unknown:
        bad("relax", f"unknown rule families {sorted(unknown)}; known: {list(RULE_FAMILIES)}")
