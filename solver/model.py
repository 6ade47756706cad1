r"""The MILP, built as a flat list of ``define_*`` families from pandas index tables.

Why one file of ~760 lines: the formulation reads as one table of contents
(:func:`build_model` calls the families in order, and each family is a short function
over the same :class:`Model`); split by family, the notation and the objective below
would be scattered over modules that only ever change together.

Notation (all data come from :class:`~solver.data.ModelData`):

- :math:`t` trust, :math:`g` group, :math:`c` category, :math:`l` line of supplier
  :math:`s(l)` in group :math:`g(l)`, :math:`o` offer, :math:`k` tier, :math:`m`
  candidate join month of (t, c) (:func:`solver.data.join_months`); :math:`P` the
  usable (trust, line) pairs (approved, ODEP-ok, on a group the trust has demand in).
- :math:`D_{tg}` annual demand, :math:`B_{tc}` annual baseline spend, :math:`p_l`
  regional price, :math:`H` horizon in months, :math:`f_{tcm}` one-off cost of joining
  at :math:`m`, summed over the contracts :math:`k` of (t, c)
  (:func:`solver.data.contract_costs`): before the end :math:`e_k` the exit fee
  :math:`F_k + \pi_k S_k (e_k - m)` (fixed plus a share of the remaining value,
  :math:`S_k` the contract's monthly spend); after it the extension uplift
  :math:`\mu_k S_k` per month bridged in :math:`[e_k, e_k + X_k)` and the list-price
  premium :math:`\max(S^{list}_k - S_k, 0)` per month off contract in
  :math:`[e_k + X_k, m)`, both clipped to :math:`[0, m)`. :math:`\sigma_{tl}`
  line-level switching cost, :math:`\Sigma_{tsc}` system switching cost,
  :math:`\rho_m = (H - m)/12` the years on the agreement when joining at :math:`m`.
- Contract terms restrict the months, not the costs: a month is a candidate of
  (t, c) only if every contract k allows it (:math:`m \ge e_k`, or early exit is
  allowed and :math:`m \ge` decision month + notice), so forbidden months have no
  :math:`w_{tcm}`; a (t, c) with no allowed month cannot join.

Switching costs (one-off, in GBP, zero allowed). A trust *holds* the system of
supplier s in category c when it buys some line of (s, c) today. A trust pays

- the system cost :math:`\Sigma_{tsc}` (the ``switching`` rows without a line, of
  every kind, added up) once if it uses any line of (s, c) that it does not use
  today and does not hold the system today; a held system costs nothing to extend;
- the line-level cost :math:`\sigma_{tl}` (the fallback ``candidates.switch_cost``
  plus the ``switching`` rows of line l) for each line l it uses and does not use
  today.

With binary :math:`n_{tsc}` "trust t newly adopts system (s, c)", created only for
systems the trust does not hold, has a usable new line of and whose cost is
positive (:func:`define_new_systems`), strongly linked per pair,
:math:`u_{tl} \le n_{t,s(l),c(l)}`.

The product "savings rate x months on the agreement" is handled by disaggregating
the allocation by join month, :math:`x_{tl} = \sum_m x_{tlm}` with
:math:`\sum_{l \in g} x_{tlm} = D_{tg} w_{tcm}` (the convex-hull, Balas, form of
"join at exactly one month"), which makes the horizon savings linear and exact, with
no big-M:

.. math::
    \text{net}_{tc} = \sum_m \Big[ \rho_m \big( B_{tc} w_{tcm} - \sum_{l \in c} p_l x_{tlm}
        + \delta_{tcm} \big) - f_{tcm} w_{tcm} \Big]
        - \sum_{l \in c,\, l \text{ new at } t} \sigma_{tl} u_{tl}
        - \sum_s \Sigma_{tsc} n_{tsc}

The tier discount :math:`\delta_{tcm}` is the annual discount of (t, c) split by
join month with tight bounds (:func:`define_discount_timing`), so the tier columns
are per (trust, line, tier) and not also per month: on the demo region the LP bound
is the same as with a full (trust, line, tier, month) split, with a third fewer
columns. Nationally even this model is too large to solve directly;
:mod:`solver.screen` solves it over the lines that can matter.

Each ``define_*`` function takes the :class:`Model`, returns early when there is
nothing to do, filters the index tables with pandas, and adds one family of
variables or constraints named ``family__key1__key2`` with sanitised keys. Variables
exist only on valid index rows and are kept in pandas Series on that index
(``model.var[family]``). Objective terms are collected in ``model.ledger`` as
(variable, coefficient, trust, category) rows, so a trust's or a category's net
savings are a ``groupby`` away. Money is modelled in thousands of pounds
(:data:`MONEY`) to keep coefficient ranges narrow.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import pulp

from solver.data import ModelData

_UNSAFE = re.compile(r"[^A-Za-z0-9]+")

MONEY = 1e-3
"""Model money unit per GBP: the MILP works in thousands of pounds."""


def safe_labels(values: Iterable[object], used: set[str] | None = None) -> dict[object, str]:
    """Map each distinct value to a solver-safe label, distinct values to distinct labels.

    Runs of characters other than ASCII letters and digits become one ``_``, so a
    label never contains ``__`` (the separator between key parts in names). Labels
    in ``used`` are taken already.
    """
    out: dict[object, str] = {}
    used = set() if used is None else set(used)
    for v in dict.fromkeys(values):
        base = _UNSAFE.sub("_", str(v)).strip("_") or "x"
        label, n = base, 1
        while label in used:
            label, n = f"{base}_v{n}", n + 1
        used.add(label)
        out[v] = label
    return out


@dataclass
class Model:
    """A PuLP problem with its variables and expressions held in pandas Series."""

    data: ModelData
    prob: pulp.LpProblem
    dropped: frozenset[tuple] = frozenset()
    var: dict[str, pd.Series] = field(default_factory=dict)
    expr: dict[str, pd.Series] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    labels: dict[object, str] = field(default_factory=dict)
    ledger: list[pd.DataFrame] = field(default_factory=list)
    pair_months: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def settings(self):
        return self.data.settings

    @property
    def optional(self) -> bool:
        return self.data.settings.participation == "optional"

    # -- naming, variables, constraints -------------------------------------------------

    def add_objective_terms(
        self, variables: pd.Series, coefs: np.ndarray, trust: pd.Series, category: pd.Series
    ) -> None:
        """Record objective terms ``coef * var`` of (trust, category) in the ledger."""
        self.ledger.append(
            pd.DataFrame(
                {
                    "var": variables.to_numpy(dtype=object),
                    "coef": np.asarray(coefs, dtype=float),
                    "trust": np.asarray(trust, dtype=object),
                    "category": np.asarray(category, dtype=object),
                }
            )
        )

    def terms(self) -> pd.DataFrame:
        """All objective terms recorded so far."""
        if not self.ledger:
            return pd.DataFrame(columns=["var", "coef", "trust", "category"])
        terms = pd.concat(self.ledger, ignore_index=True)
        return terms[terms["coef"] != 0].reset_index(drop=True)

    def names(self, family: str, keys: pd.DataFrame) -> list[str]:
        """``family__key1__key2`` for every row of ``keys``, with sanitised key labels."""
        out = pd.Series(family, index=keys.index, dtype=object)
        for col in keys.columns:
            self._learn(keys[col].unique())
            out = out + "__" + keys[col].map(self.labels).astype(str)
        return out.tolist()

    def _learn(self, values: Iterable[object]) -> None:
        fresh = [v for v in values if v not in self.labels]
        if fresh:
            used = set(self.labels.values())
            self.labels.update(safe_labels(fresh, used))

    def add_vars(
        self,
        family: str,
        keys: pd.DataFrame,
        cat: Literal["Continuous", "Integer", "Binary"] = "Continuous",
        low: float | None = 0.0,
        up: float | None = None,
    ) -> pd.Series:
        """One variable per row of ``keys``, in a Series on the MultiIndex of ``keys``."""
        names = self.names(family, keys)
        made = self.prob.add_variable_dict("%s", names, lowBound=low, upBound=up, cat=cat)
        series = pd.Series(list(made.values()), index=_index(keys), dtype=object)
        self.var[family] = series
        return series

    def add_constraints(
        self,
        family: str,
        keys: pd.DataFrame,
        lhs: Iterable[pulp.LpAffineExpression | pulp.LpVariable],
        sense: str,
        rhs: Sequence[float] | np.ndarray | float = 0.0,
    ) -> None:
        """Add ``lhs[i] (sense) rhs[i]`` named ``family__keys[i]`` for every row."""
        names = self.names(family, keys)
        rhs_values = np.broadcast_to(np.asarray(rhs, dtype=float), (len(names),))
        add = self.prob.addConstraint
        # PuLP has no batch row API: one Python call per row is the floor here.
        if sense == "<=":
            for name, e, r in zip(names, lhs, rhs_values, strict=True):
                add(e <= float(r), name)
        elif sense == ">=":
            for name, e, r in zip(names, lhs, rhs_values, strict=True):
                add(e >= float(r), name)
        elif sense == "==":
            for name, e, r in zip(names, lhs, rhs_values, strict=True):
                add(e == float(r), name)
        else:
            raise ValueError(f"unknown sense {sense!r}")
        self.rows[family] = self.rows.get(family, 0) + len(names)


def _index(keys: pd.DataFrame) -> pd.Index:
    if keys.shape[1] == 1:
        return pd.Index(keys.iloc[:, 0], name=keys.columns[0])
    return pd.MultiIndex.from_frame(keys)


def group_sum(
    variables: pd.Series | Sequence[object],
    coefs: Sequence[float] | np.ndarray | None,
    keys: pd.DataFrame,
    index: pd.Index | None = None,
) -> pd.Series:
    """Sum ``coef * var`` per distinct row of ``keys``; Series of expressions.

    With ``index`` the result is reindexed to it, empty groups becoming empty
    expressions. Uses one ``lpSum_vars_coefs`` call per group (never Python ``sum``).
    """
    v = np.asarray(list(variables), dtype=object)
    c = np.ones(len(v)) if coefs is None else np.asarray(coefs, dtype=float)
    if len(v):
        codes = keys.groupby(list(keys.columns), sort=False).ngroup().to_numpy()
        order = np.argsort(codes, kind="stable")
        bounds = np.flatnonzero(np.diff(codes[order])) + 1
        starts = np.r_[0, bounds]
        ends = np.r_[bounds, len(v)]
        first_rows = keys.iloc[order[starts]]
        if all(isinstance(e, pulp.LpVariable) for e in v):
            sums = [
                pulp.lpSum_vars_coefs(list(zip(v[order[a:b]], c[order[a:b]], strict=True)))
                for a, b in zip(starts, ends, strict=True)
            ]
        else:  # expressions: scale then add, still one lpSum per group
            sums = [
                pulp.lpSum([e * float(k) for e, k in zip(v[order[a:b]], c[order[a:b]], strict=True)])
                for a, b in zip(starts, ends, strict=True)
            ]
        out = pd.Series(sums, index=_index(first_rows.reset_index(drop=True)), dtype=object)
    else:
        out = pd.Series([], index=_index(keys.iloc[:0]), dtype=object)
    if index is not None:
        out = reindex_exprs(out, index)
    return out


def reindex_exprs(series: pd.Series, index: pd.Index) -> pd.Series:
    """Reindex a Series of expressions, filling missing keys with empty expressions."""
    out = series.reindex(index)
    missing = out.isna().to_numpy()
    if missing.any():
        values = out.to_numpy(dtype=object, copy=True)
        for i in np.flatnonzero(missing):  # numpy would unpack expressions given as a list
            values[i] = pulp.LpAffineExpression.empty()
        out = pd.Series(values, index=index, dtype=object)
    return out


def _keys(frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    return frame[cols].reset_index(drop=True)


# --------------------------------------------------------------------------- rule rows


def range_cap_rows(data: ModelData) -> pd.DataFrame:
    """Groups whose usable lines outnumber the regional range cap: group, cap."""
    s = data.settings
    if not s.active("range_cap"):
        return pd.DataFrame(columns=["group", "cap"])
    n = data.pairs.groupby("group")["line"].nunique().rename("n_lines").reset_index()
    n["cap"] = [s.group_cap(g) for g in n["group"]]
    return n.loc[n["n_lines"] > n["cap"], ["group", "cap"]].reset_index(drop=True)


def trust_cap_rows(data: ModelData) -> pd.DataFrame:
    """(trust, group) whose usable lines outnumber the per-trust cap: trust, group, cap."""
    s = data.settings
    if s.trust_range_cap is None or not s.active("trust_range_cap"):
        return pd.DataFrame(columns=["trust", "group", "cap"])
    rows = data.tg.loc[data.tg["n_usable"] > s.trust_range_cap, ["trust", "group"]]
    return rows.assign(cap=int(s.trust_range_cap)).reset_index(drop=True)


def min_supplier_rows(data: ModelData) -> pd.DataFrame:
    """Categories where the minimum supplier count can bind: category, min_suppliers."""
    s = data.settings
    cats = data.categories
    trivial = (cats["min_suppliers"] <= 0) | (
        (cats["min_suppliers"] == 1) & (cats["n_suppliers"] * s.min_supplier_share <= 1 + 1e-12)
    )
    return cats.loc[~trivial, ["category", "min_suppliers"]].reset_index(drop=True)


def max_share_rows(data: ModelData) -> pd.DataFrame:
    """Categories where a supplier could exceed the maximum share: category, share."""
    s = data.settings
    if not s.active("max_share") or s.max_supplier_share >= 1:
        return pd.DataFrame(columns=["category", "share"])
    sc = data.supplier_category.merge(data.categories[["category", "demand"]], on="category")
    if s.participation == "all":
        sc = sc[sc["max_units"] > s.max_supplier_share * sc["demand"] * (1 + 1e-9)]
    cats = pd.DataFrame({"category": sc["category"].unique()})
    return cats.assign(share=s.max_supplier_share)


def year_one_rows(data: ModelData) -> pd.DataFrame:
    """Trusts whose new-line units in year one could exceed the cap: trust, cap."""
    return data.year_one


def rule_instances(data: ModelData) -> list[tuple]:
    """Every rule instance the model enforces, as keys for ``build_model(dropped=...)``."""
    out: list[tuple] = []
    out += [("range_cap", g) for g in range_cap_rows(data)["group"]]
    tcr = trust_cap_rows(data)
    out += [("trust_range_cap", t, g) for t, g in zip(tcr["trust"], tcr["group"], strict=True)]
    out += [("min_suppliers", c) for c in min_supplier_rows(data)["category"]]
    out += [("max_share", c) for c in max_share_rows(data)["category"]]
    out += [("year_one_cap", t) for t in year_one_rows(data)["trust"]]
    out += [("join_capacity", q) for q in join_capacity_rows(data)["quarter"]]
    return out


def join_capacity_rows(data: ModelData) -> pd.DataFrame:
    """Agreement quarters where more (trust, category) pairs could join than the cap: quarter, cap."""
    s = data.settings
    cap = s.max_joins_per_quarter
    if cap is None or not s.active("join_capacity") or data.join_options.empty:
        return pd.DataFrame({"quarter": pd.Series(dtype=int), "cap": pd.Series(dtype=int)})
    jo = data.join_options.assign(quarter=data.join_options["month"] // 3)
    n = jo.drop_duplicates(["trust", "category", "quarter"]).groupby("quarter").size()
    rows = n[n > cap].index
    return pd.DataFrame({"quarter": rows.astype(int), "cap": int(cap)})


def _not_dropped(m: Model, family: str, frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    if not m.dropped or frame.empty:
        return frame
    keys = pd.Series(list(zip(*(frame[c] for c in cols), strict=True)), index=frame.index)
    drop = {k[1:] for k in m.dropped if k[0] == family}
    return frame[~keys.isin(drop)]


# --------------------------------------------------------------------------- families


def define_joins(m: Model) -> None:
    r"""Join month :math:`w_{tcm} \in \{0,1\}` over the candidate months of (t, c).

    .. math:: j_{tc} = \sum_m w_{tcm} = 1 \text{ (all) or } \le 1 \text{ (optional)}

    "Never" is :math:`j_{tc} = 0`, possible only when participation is optional.
    """
    jo = m.data.join_options
    tc = m.data.tc
    if tc.empty:
        m.var["w"] = pd.Series([], dtype=object)
        m.expr["joined"] = pd.Series([], dtype=object)
        return
    w = m.add_vars("w", _keys(jo, ["trust", "category", "month"]), cat="Binary", up=1)
    tc_index = pd.MultiIndex.from_frame(tc[["trust", "category"]])
    joined = group_sum(w, None, _keys(jo, ["trust", "category"]), tc_index)
    m.expr["joined"] = joined
    sense = "<=" if m.optional else "=="
    m.add_constraints("join_once", _keys(tc, ["trust", "category"]), joined.to_numpy(), sense, 1.0)


def define_allocation(m: Model) -> None:
    r"""Allocation :math:`x_{tl} \ge 0` (annual units) and its split by join month.

    .. math:: x_{tl} = \sum_m x_{tlm}, \qquad x_{tlm} \ge 0 \qquad (t, l) \in P

    :math:`x_{tlm}` is the annual allocation if (t, c(l)) joins at month m, else 0.
    """
    pairs = m.data.pairs
    if pairs.empty:
        m.var["x"] = pd.Series([], dtype=object)
        m.var["x_month"] = pd.Series([], dtype=object)
        m.pair_months = pairs.assign(month=pd.Series(dtype=int))
        return
    keys = _keys(pairs, ["trust", "line"])
    x = m.add_vars("x", keys)
    pm = pairs.merge(
        m.data.join_options[["trust", "category", "month", "months_on"]],
        on=["trust", "category"],
    )
    m.pair_months = pm
    xm = m.add_vars("x_month", _keys(pm, ["trust", "line", "month"]))
    split = group_sum(xm, None, _keys(pm, ["trust", "line"]), x.index)
    m.add_constraints("x_split", keys, x.to_numpy() - split.to_numpy(), "==", 0.0)


def define_line_use(m: Model) -> None:
    r"""Line use :math:`u_{tl} \in \{0,1\}` with strong (per-pair) linking.

    .. math:: x_{tl} \le D_{t,g(l)}\, u_{tl} \qquad (t,l) \in P

    and, when participation is optional, :math:`u_{tl} \le j_{t,c(l)}`.
    """
    pairs = m.data.pairs
    if pairs.empty:
        m.var["u"] = pd.Series([], dtype=object)
        return
    keys = _keys(pairs, ["trust", "line"])
    u = m.add_vars("u", keys, cat="Binary", up=1)
    lhs = m.var["x"].to_numpy() - pairs["demand"].to_numpy() * u.to_numpy()
    m.add_constraints("link", keys, lhs, "<=", 0.0)
    if m.optional:
        j = m.expr["joined"].reindex(pd.MultiIndex.from_frame(pairs[["trust", "category"]]))
        m.add_constraints("use_if_joined", keys, u.to_numpy() - j.to_numpy(), "<=", 0.0)


def define_range(m: Model) -> None:
    r"""Regional range :math:`y_l \in \{0,1\}`: line kept; :math:`u_{tl} \le y_l`."""
    pairs = m.data.pairs
    if pairs.empty:
        m.var["y"] = pd.Series([], dtype=object)
        return
    lines = pd.DataFrame({"line": pairs["line"].unique()})
    y = m.add_vars("y", lines, cat="Binary", up=1)
    keys = _keys(pairs, ["trust", "line"])
    lhs = m.var["u"].to_numpy() - y.reindex(pairs["line"]).to_numpy()
    m.add_constraints("use_in_range", keys, lhs, "<=", 0.0)


def define_demand(m: Model) -> None:
    r"""Every unit of demand is met from the join month on.

    .. math:: \sum_{l:(t,l) \in P,\, g(l)=g} x_{tlm} = D_{tg}\, w_{t,c(g),m}

    so :math:`\sum_{l \in g} x_{tl} = D_{tg} j_{tc}`. A (t, g) without usable lines
    cannot join, which participation "all" turns into infeasibility.
    """
    tg = m.data.tg
    if tg.empty:
        return
    rows = tg.merge(m.data.join_options[["trust", "category", "month"]], on=["trust", "category"])
    keys = _keys(rows, ["trust", "group", "month"])
    pm = m.pair_months
    supplied = group_sum(
        m.var["x_month"],
        None,
        _keys(pm, ["trust", "group", "month"]),
        pd.MultiIndex.from_frame(keys),
    )
    w = m.var["w"].reindex(pd.MultiIndex.from_frame(rows[["trust", "category", "month"]]))
    lhs = supplied.to_numpy() - rows["demand"].to_numpy() * w.to_numpy()
    m.add_constraints("demand", keys, lhs, "==", 0.0)


def define_trust_range_cap(m: Model) -> None:
    r"""Per-trust range cap: :math:`\sum_{l \in g} u_{tl} \le K^{trust}` per (t, g).

    Only for (t, g) with more usable lines than the cap.
    """
    rows = _not_dropped(m, "trust_range_cap", trust_cap_rows(m.data), ["trust", "group"])
    if rows.empty:
        return
    pairs = m.data.pairs
    idx = pd.MultiIndex.from_frame(rows[["trust", "group"]])
    used = group_sum(m.var["u"], None, _keys(pairs, ["trust", "group"]), idx)
    keys = _keys(rows, ["trust", "group"])
    m.add_constraints("trust_range_cap", keys, used.to_numpy(), "<=", rows["cap"].to_numpy())


def define_range_cap(m: Model) -> None:
    r"""Regional range cap: :math:`\sum_{l \in g} y_l \le K_g` for groups with more lines."""
    rows = _not_dropped(m, "range_cap", range_cap_rows(m.data), ["group"])
    if rows.empty:
        return
    lines = m.data.pairs.drop_duplicates("line")
    y = m.var["y"].reindex(lines["line"])
    kept = group_sum(y, None, _keys(lines, ["group"]), pd.Index(rows["group"], name="group"))
    m.add_constraints("range_cap", _keys(rows, ["group"]), kept.to_numpy(), "<=", rows["cap"])


def define_tiers(m: Model) -> None:
    r"""All-units volume tiers in multiple-choice form, split down to the line.

    Binary :math:`\tau_{ok}` picks the tier of offer o (tier 0: threshold 0, no
    discount). The allocation of an offer line is split over the tiers,
    :math:`x_{tl} = \sum_k \xi_{tlk}`, and only the picked tier may carry units,
    bounded per (trust, group) by the group's demand:

    .. math::
        \sum_k \tau_{ok} = 1, \qquad
        \sum_{l \in o \cap g} \xi_{tlk} \le D_{tg}\, \tau_{ok}

    With the qualifying volume :math:`V_{ok} = \sum_{t,l} \omega_l \xi_{tlk}`
    (:math:`\omega_l = 1` on units, :math:`p_l` on spend):

    .. math:: T_k\, \tau_{ok} \le V_{ok} \le T_{k+1}\, \tau_{ok}

    The annual discount :math:`\Delta_{tc} = \sum_{l \in c} \sum_k d_k p_l \xi_{tlk}`
    is exact and linear, with no big-M; it is earned from the join month on, so it
    is split by join month like the allocation (:func:`define_discount_timing`).
    The per-(trust, group) bound keeps the LP relaxation honest: a trust whose whole
    group demand sits on an offer line forces :math:`\tau_{ok} = 1` for the tier it
    claims. Tiers no volume can reach are not created, and an offer left with tier
    0 only needs nothing.
    """
    tiers = m.data.tiers
    tiers = tiers[tiers.groupby("offer")["k"].transform("size") > 1].reset_index(drop=True)
    if tiers.empty:
        return
    tau = m.add_vars("tier", _keys(tiers, ["offer", "k"]), cat="Binary", up=1)
    offers = tiers.drop_duplicates("offer").reset_index(drop=True)
    once = group_sum(tau, None, _keys(tiers, ["offer"]), pd.Index(offers["offer"], name="offer"))
    m.add_constraints("tier_once", _keys(offers, ["offer"]), once.to_numpy(), "==", 1.0)

    pairs = m.data.pairs
    on_offer = pairs["offer"].isin(offers["offer"]).to_numpy()
    op = pairs[on_offer].reset_index(drop=True)
    x_op = m.var["x"][on_offer]
    rows = op.merge(tiers[["offer", "k", "discount"]], on="offer")
    xi = m.add_vars("x_tier", _keys(rows, ["trust", "line", "k"]))

    split = group_sum(xi, None, _keys(rows, ["trust", "line"]), pd.MultiIndex.from_frame(op[["trust", "line"]]))
    m.add_constraints("tier_split", _keys(op, ["trust", "line"]), split.to_numpy() - x_op.to_numpy(), "==", 0.0)
    togk = (
        rows[["trust", "offer", "group", "k", "demand"]]
        .drop_duplicates(["trust", "offer", "group", "k"])
        .reset_index(drop=True)
    )
    in_tier = group_sum(
        xi,
        None,
        _keys(rows, ["trust", "offer", "group", "k"]),
        pd.MultiIndex.from_frame(togk[["trust", "offer", "group", "k"]]),
    )
    tau_togk = tau.reindex(pd.MultiIndex.from_frame(togk[["offer", "k"]])).to_numpy()
    m.add_constraints(
        "tier_bound",
        _keys(togk, ["trust", "offer", "group", "k"]),
        in_tier.to_numpy() - togk["demand"].to_numpy() * tau_togk,
        "<=",
        0.0,
    )
    define_discount_timing(m, xi, rows)

    # qualification: the picked tier's interval contains the offer's volume
    weight = np.where(rows["basis"] == "spend", MONEY * rows["price"], 1.0)
    volume = group_sum(
        xi, weight, _keys(rows, ["offer", "k"]), pd.MultiIndex.from_frame(tiers[["offer", "k"]])
    ).to_numpy()
    scale = np.where(tiers["basis"] == "spend", MONEY, 1.0)
    thr = tiers["threshold"].to_numpy() * scale
    upper = tiers["upper"].to_numpy() * scale
    tau_ok = tau.to_numpy()
    keys = _keys(tiers, ["offer", "k"])
    lo = thr > 0
    m.add_constraints("tier_reach", keys[lo].reset_index(drop=True), volume[lo] - thr[lo] * tau_ok[lo], ">=", 0)
    hi = np.isfinite(upper)
    m.add_constraints(
        "tier_within",
        keys[hi].reset_index(drop=True),
        volume[hi] - upper[hi] * tau_ok[hi],
        "<=",
        0.0,
    )


def define_discount_timing(m: Model, xi: pd.Series, rows: pd.DataFrame) -> None:
    r"""The annual tier discount of (t, c) split by join month, and its objective terms.

    .. math::
        \sum_m \delta_{tcm} = \Delta_{tc}, \qquad
        0 \le \delta_{tcm} \le \bar\Delta_{tc}\, w_{tcm}, \qquad
        \text{objective } \sum_m \rho_m \delta_{tcm}

    with :math:`\bar\Delta_{tc} = \sum_g D_{tg} \max_l d^{max}_{o(l)} p_l` over the
    trust's usable tiered lines of g. Exact for every integer :math:`w`; splitting the
    discount rather than every :math:`\xi_{tlk}` by month keeps the tier columns per
    (trust, line, tier), and the discount is a small part of the savings, so the
    bound-based split costs the LP relaxation little.
    """
    rows = rows.assign(rate=MONEY * rows["discount"] * rows["price"])
    tc_rows = rows.drop_duplicates(["trust", "category"])[["trust", "category"]].reset_index(drop=True)
    if tc_rows.empty:
        return
    deepest = rows.groupby(["trust", "group"], as_index=False).agg(
        category=("category", "first"), demand=("demand", "first"), rate=("rate", "max")
    )
    deepest["most"] = deepest["demand"] * deepest["rate"]
    most = deepest.groupby(["trust", "category"])["most"].sum()
    jo = m.data.join_options.merge(tc_rows, on=["trust", "category"])
    keys = _keys(jo, ["trust", "category", "month"])
    delta = m.add_vars("discount_month", keys)
    w = m.var["w"].reindex(pd.MultiIndex.from_frame(keys)).to_numpy()
    cap = most.reindex(pd.MultiIndex.from_frame(jo[["trust", "category"]])).to_numpy()
    m.add_constraints("discount_month_bound", keys, delta.to_numpy() - cap * w, "<=", 0.0)
    tc_index = pd.MultiIndex.from_frame(tc_rows)
    earned = group_sum(xi, rows["rate"].to_numpy(), _keys(rows, ["trust", "category"]), tc_index)
    split = group_sum(delta, None, _keys(jo, ["trust", "category"]), tc_index)
    m.add_constraints(
        "discount_split", _keys(tc_rows, ["trust", "category"]), split.to_numpy() - earned.to_numpy(), "==", 0.0
    )
    m.add_objective_terms(delta, (jo["months_on"] / 12.0).to_numpy(), jo["trust"], jo["category"])


def define_horizon_savings(m: Model) -> None:
    r"""Objective terms of the savings rate over the months on the agreement.

    .. math:: \sum_m \rho_m \big( B_{tc} w_{tcm} - \sum_{l \in c} p_l x_{tlm} \big)
              - f_{tcm} w_{tcm}

    with :math:`f_{tcm}` the exit fees, bridging and off-contract costs of every
    contract of (t, c) for joining at m (``join_options``).

    (tier discounts are added by :func:`define_tiers`).
    """
    jo = m.data.join_options
    if jo.empty:
        return
    jo = jo.merge(m.data.tc[["trust", "category", "baseline"]], on=["trust", "category"])
    one_off = jo["exit_fee"] + jo["bridging"] + jo["off_contract"]
    coef = MONEY * (jo["months_on"] / 12.0 * jo["baseline"] - one_off).to_numpy()
    w = m.var["w"].reindex(pd.MultiIndex.from_frame(jo[["trust", "category", "month"]]))
    m.add_objective_terms(w, coef, jo["trust"], jo["category"])
    pm = m.pair_months
    coef = -MONEY * (pm["months_on"] / 12.0 * pm["price"]).to_numpy()
    m.add_objective_terms(m.var["x_month"], coef, pm["trust"], pm["category"])


def define_join_capacity(m: Model) -> None:
    r"""Programme capacity: at most N (trust, category) pairs join per agreement quarter.

    .. math:: \sum_{t,c} \sum_{m = 3q}^{3q+2} w_{tcm} \le N \qquad \text{for each quarter } q

    only for quarters in which more pairs have a candidate month than N (with a cap,
    :func:`solver.data.join_months` keeps every feasible grid month).
    """
    rows = _not_dropped(m, "join_capacity", join_capacity_rows(m.data), ["quarter"])
    if rows.empty:
        return
    jo = m.data.join_options.assign(quarter=m.data.join_options["month"] // 3)
    jo = jo[jo["quarter"].isin(rows["quarter"])].reset_index(drop=True)
    w = m.var["w"].reindex(pd.MultiIndex.from_frame(jo[["trust", "category", "month"]]))
    joins = group_sum(w, None, _keys(jo, ["quarter"]), pd.Index(rows["quarter"], name="quarter"))
    m.add_constraints("join_capacity", _keys(rows, ["quarter"]), joins.to_numpy(), "<=", rows["cap"].to_numpy())


def define_switching(m: Model) -> None:
    r"""Objective terms of line-level switching costs: :math:`-\sigma_{tl} u_{tl}` on new pairs.

    :math:`\sigma_{tl}` is ``pairs.switch_cost`` (fallback plus line rows; 0 on a
    line the trust uses today). System costs are :func:`define_new_systems`.
    """
    pairs = m.data.pairs
    sw = pairs["switch_cost"].to_numpy() > 0
    if not sw.any():
        return
    m.add_objective_terms(
        m.var["u"][sw],
        -MONEY * pairs["switch_cost"].to_numpy()[sw],
        pairs["trust"][sw],
        pairs["category"][sw],
    )


def define_new_systems(m: Model) -> None:
    r"""New systems: binary :math:`n_{tsc}` with strong linking and a one-off cost.

    .. math::
        u_{tl} \le n_{t,s(l),c(l)} \quad \text{for every usable new pair of the system},
        \qquad \text{objective } -\Sigma_{tsc}\, n_{tsc}

    only for the systems of :attr:`~solver.data.ModelData.systems` (not held today,
    a usable new line, total system cost > 0): a held system, or a free one, needs no
    variable. Per-pair linking rather than :math:`\sum_l u_{tl} \le |L| n_{tsc}` keeps
    the LP relaxation tight (SOLVER-NOTES: strong linking).
    """
    systems = m.data.systems
    pairs = m.data.pairs
    if systems.empty or pairs.empty:
        return
    keys = _keys(systems, ["trust", "supplier", "category"])
    n = m.add_vars("new_system", keys, cat="Binary", up=1)
    on = (pairs["system_cost"].to_numpy() > 0) & pairs["is_new"].to_numpy()
    linked = pairs[on]
    n_of_pair = n.reindex(pd.MultiIndex.from_frame(linked[["trust", "supplier", "category"]])).to_numpy()
    lhs = m.var["u"][on].to_numpy() - n_of_pair
    m.add_constraints("new_system_link", _keys(linked, ["trust", "line"]), lhs, "<=", 0.0)
    m.add_objective_terms(n, -MONEY * systems["cost"].to_numpy(), systems["trust"], systems["category"])


def define_year_one_cap(m: Model) -> None:
    r"""Year-one cap on units moved onto lines a trust does not use today.

    .. math:: \sum_{l \text{ new}} \sum_{m < 12} \frac{12 - m}{12} x_{tlm}
              \le \kappa \sum_g D_{tg}

    (months 0-11; a horizon under 12 months replaces 12 by its length). Exact and
    linear thanks to the join-month split of :math:`x`.
    """
    rows = _not_dropped(m, "year_one_cap", year_one_rows(m.data), ["trust"])
    if rows.empty:
        return
    year = min(12, m.settings.horizon_months)
    pm = m.pair_months
    sel = pm["is_new"] & (pm["month"] < year) & pm["trust"].isin(rows["trust"])
    new = pm[sel]
    xm = m.var["x_month"][sel.to_numpy()]
    weight = (year - new["month"].to_numpy()) / 12.0
    trusts = pd.Index(rows["trust"], name="trust")
    moved = group_sum(xm, weight, _keys(new, ["trust"]), trusts)
    total = m.data.tg.groupby("trust")["demand"].sum().reindex(trusts).to_numpy()
    m.add_constraints(
        "year_one_cap",
        _keys(rows, ["trust"]),
        moved.to_numpy(),
        "<=",
        rows["cap"].to_numpy(dtype=float) * total * year / 12.0,
    )


def _supplier_units(m: Model, sc: pd.DataFrame) -> pd.Series:
    pairs = m.data.pairs
    idx = pd.MultiIndex.from_frame(sc[["supplier", "category"]])
    return group_sum(m.var["x"], None, _keys(pairs, ["supplier", "category"]), idx)


def _category_units(m: Model, categories: pd.Series) -> np.ndarray:
    """Regional units of each category: constant (all) or an expression (optional)."""
    cats = m.data.categories.set_index("category")["demand"]
    if not m.optional:
        return cats.reindex(categories).to_numpy()
    tc = m.data.tc
    units = group_sum(
        m.expr["joined"].to_numpy(),
        tc["demand"].to_numpy(),
        _keys(tc, ["category"]),
        pd.Index(categories.unique(), name="category"),
    )
    return units.reindex(categories).to_numpy()


def define_supplier_presence(m: Model) -> None:
    r"""Minimum number of suppliers per category, each with a real share.

    Binary :math:`v_{sc}`: supplier s counts in category c. With
    :math:`q_{sc} = \sum_{l \text{ of } s \text{ in } c} x_{tl}` and :math:`Q_c` the
    category's regional units:

    .. math::
        q_{sc} \ge \alpha\, Q_c\, v_{sc}, \qquad \sum_s v_{sc} \ge N_c

    (optional participation: :math:`q_{sc} \ge \alpha Q_c - \alpha \bar Q_c (1 - v_{sc})`
    and :math:`\sum_s v_{sc} \ge N_c a_c` with :math:`a_c \ge j_{tc}`).
    """
    rows = _not_dropped(m, "min_suppliers", min_supplier_rows(m.data), ["category"])
    if rows.empty:
        return
    alpha = m.settings.min_supplier_share
    sc = m.data.supplier_category[m.data.supplier_category["category"].isin(rows["category"])]
    sc = sc.reset_index(drop=True)
    keys = _keys(sc, ["supplier", "category"])
    v = m.add_vars("supplier_counts", keys, cat="Binary", up=1)
    q = _supplier_units(m, sc).to_numpy()
    total = _category_units(m, sc["category"])
    if m.optional:
        qmax = m.data.categories.set_index("category")["demand"].reindex(sc["category"])
        qmax = qmax.to_numpy()
        lhs = q - alpha * total - alpha * qmax * v.to_numpy()
        m.add_constraints("supplier_share_floor", keys, lhs, ">=", -alpha * qmax)
    else:
        m.add_constraints("supplier_share_floor", keys, q - alpha * total * v.to_numpy(), ">=", 0)
    cat_index = pd.Index(rows["category"], name="category")
    count = group_sum(v, None, _keys(sc, ["category"]), cat_index).to_numpy()
    need = rows["min_suppliers"].to_numpy().astype(float)
    cat_keys = _keys(rows, ["category"])
    if m.optional:
        a = m.add_vars("category_used", cat_keys, cat="Binary", up=1)
        m.add_constraints("min_suppliers", cat_keys, count - need * a.to_numpy(), ">=", 0.0)
        tc = m.data.tc[m.data.tc["category"].isin(rows["category"])].reset_index(drop=True)
        j = m.expr["joined"].reindex(pd.MultiIndex.from_frame(tc[["trust", "category"]]))
        lhs = a.reindex(tc["category"]).to_numpy() - j.to_numpy()
        m.add_constraints("category_used_if_joined", _keys(tc, ["trust", "category"]), lhs, ">=", 0)
    else:
        m.add_constraints("min_suppliers", cat_keys, count, ">=", need)


def define_max_share(m: Model) -> None:
    r"""Maximum supplier share: :math:`q_{sc} \le \beta\, Q_c` (only where it can bind)."""
    rows = _not_dropped(m, "max_share", max_share_rows(m.data), ["category"])
    if rows.empty:
        return
    sc = m.data.supplier_category.merge(m.data.categories[["category", "demand"]], on="category")
    sc = sc[sc["category"].isin(rows["category"])]
    beta = m.settings.max_supplier_share
    if not m.optional:
        sc = sc[sc["max_units"] > beta * sc["demand"] * (1 + 1e-9)]
    sc = sc.reset_index(drop=True)
    if sc.empty:
        return
    q = _supplier_units(m, sc).to_numpy()
    total = _category_units(m, sc["category"])
    m.add_constraints("max_share", _keys(sc, ["supplier", "category"]), q - beta * total, "<=", 0)


def define_participation(m: Model) -> None:
    r"""Optional participation: a trust is no worse off, :math:`\sum_c \text{net}_{tc} \ge 0`."""
    if not m.optional or m.data.tc.empty:
        return
    terms = m.terms()
    trusts = pd.Index(m.data.tc["trust"].unique(), name="trust")
    net = group_sum(terms["var"], terms["coef"].to_numpy(), _keys(terms, ["trust"]), trusts)
    m.add_constraints("no_worse_off", pd.DataFrame({"trust": trusts}), net.to_numpy(), ">=", 0.0)


def define_objective(m: Model, feasibility_only: bool = False) -> None:
    r"""Maximise :math:`\sum_{t,c} \text{net}_{tc}` (or nothing, to test feasibility)."""
    terms = m.terms()
    if feasibility_only or terms.empty:
        m.prob.setObjective(pulp.LpAffineExpression.empty())
        return
    m.prob.setObjective(pulp.lpSum_vars_coefs(list(zip(terms["var"], terms["coef"].to_numpy(), strict=True))))


def build_model(data: ModelData, dropped: Iterable[tuple] = (), feasibility_only: bool = False) -> Model:
    """Build the MILP: the table of contents of the formulation.

    ``dropped`` removes rule instances (see :func:`rule_instances`), for explaining
    infeasibility; ``feasibility_only`` builds it without an objective.
    """
    m = Model(data=data, prob=pulp.LpProblem("regional_procurement", pulp.LpMaximize))
    m.dropped = frozenset(dropped)
    define_joins(m)
    define_allocation(m)
    define_line_use(m)
    define_range(m)
    define_demand(m)
    define_trust_range_cap(m)
    define_range_cap(m)
    define_tiers(m)
    define_horizon_savings(m)
    define_switching(m)
    define_new_systems(m)
    define_year_one_cap(m)
    define_join_capacity(m)
    define_supplier_presence(m)
    define_max_share(m)
    define_participation(m)
    define_objective(m, feasibility_only)
    return m
