r"""The MILP, built as a flat list of ``define_*`` families from pandas index tables.

Notation (all data come from :class:`~solver.data.ModelData`):

- :math:`t` trust, :math:`g` group, :math:`c` category, :math:`l` line of supplier
  :math:`s(l)` in group :math:`g(l)`, :math:`o` offer, :math:`k` tier, :math:`m`
  candidate join month; :math:`P` the usable (trust, line) pairs (approved, ODEP-ok,
  on a group the trust has demand in).
- :math:`D_{tg}` annual demand, :math:`D_{tc} = \sum_{g \in c} D_{tg}`,
  :math:`B_{tc}` annual baseline spend, :math:`p_l` regional price,
  :math:`H` horizon in months, :math:`f_{tcm}` one-off cost of joining at
  :math:`m` (exit fee if :math:`m <` contract end, plus bridging uplift for the
  months between contract end and :math:`m`), :math:`\sigma_{tl}` switching cost.
- :math:`j_{tc} = \sum_m w_{tcm}` is 1 if the trust joins category :math:`c` in the
  horizon (forced to 1 when participation is "all").

Each ``define_*`` function takes the :class:`Model`, returns early when there is
nothing to do, filters the index tables with pandas, and adds one family of
variables or constraints whose names follow ``family__key1__key2`` with sanitised
keys. Variables exist only on valid index rows and are kept in pandas Series on that
index (``model.var[family]``); derived linear expressions are in ``model.expr``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pulp

from solver.data import ModelData

_UNSAFE = re.compile(r"[^A-Za-z0-9]+")


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

    @property
    def settings(self):
        return self.data.settings

    @property
    def optional(self) -> bool:
        return self.data.settings.participation == "optional"

    # -- naming, variables, constraints -------------------------------------------------

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
        cat: str = "Continuous",
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
        lhs: Sequence[object],
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
        (cats["min_suppliers"] == 1)
        & (cats["n_suppliers"] * s.min_supplier_share <= 1 + 1e-12)
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
    s = data.settings
    if s.year_one_cap is None or not s.active("year_one_cap"):
        return pd.DataFrame(columns=["trust", "cap"])
    new = data.pairs[data.pairs["is_new"]].drop_duplicates(["trust", "group"])
    movable = new.groupby("trust")["demand"].sum()
    total = data.tg.groupby("trust")["demand"].sum()
    first_month = data.join_options.groupby("trust")["month"].min()
    year = min(12, s.horizon_months)
    share = (year - first_month.reindex(movable.index)).clip(lower=0) / year
    binding = movable * share > s.year_one_cap * total.reindex(movable.index) * (1 + 1e-9)
    trusts = binding[binding].index
    return pd.DataFrame({"trust": list(trusts), "cap": s.year_one_cap})


def rule_instances(data: ModelData) -> list[tuple]:
    """Every rule instance the model enforces, as keys for ``build_model(dropped=...)``."""
    out: list[tuple] = []
    out += [("range_cap", g) for g in range_cap_rows(data)["group"]]
    tcr = trust_cap_rows(data)
    out += [("trust_range_cap", t, g) for t, g in zip(tcr["trust"], tcr["group"], strict=True)]
    out += [("min_suppliers", c) for c in min_supplier_rows(data)["category"]]
    out += [("max_share", c) for c in max_share_rows(data)["category"]]
    out += [("year_one_cap", t) for t in year_one_rows(data)["trust"]]
    return out


def _not_dropped(m: Model, family: str, frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    if not m.dropped or frame.empty:
        return frame
    keys = pd.Series(list(zip(*(frame[c] for c in cols), strict=True)), index=frame.index)
    drop = {k[1:] for k in m.dropped if k[0] == family}
    return frame[~keys.isin(drop)]


# --------------------------------------------------------------------------- families


def define_allocation(m: Model) -> None:
    r"""Allocation :math:`x_{tl} \ge 0`: annual units of trust t on line l, for (t, l) in P."""
    pairs = m.data.pairs
    if pairs.empty:
        m.var["x"] = pd.Series([], dtype=object)
        return
    m.add_vars("x", _keys(pairs, ["trust", "line"]))


def define_line_use(m: Model) -> None:
    r"""Line use :math:`u_{tl} \in \{0,1\}` with strong linking.

    .. math:: x_{tl} \le D_{t,g(l)}\, u_{tl} \qquad (t,l) \in P

    and, when participation is optional, :math:`u_{tl} \le j_{t,c(l)}`.
    """
    pairs = m.data.pairs
    if pairs.empty:
        m.var["u"] = pd.Series([], dtype=object)
        return
    keys = _keys(pairs, ["trust", "line"])
    u = m.add_vars("u", keys, cat="Binary", up=1)
    x = m.var["x"]
    lhs = x.to_numpy() - pairs["demand"].to_numpy() * u.to_numpy()
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


def define_joins(m: Model) -> None:
    r"""Join month :math:`w_{tcm} \in \{0,1\}` over the candidate months of (t, c).

    .. math:: j_{tc} = \sum_m w_{tcm} = 1 \text{ (all) or } \le 1 \text{ (optional)}

    Candidate months are the grid points below the horizon (the contract end rounded
    up to the grid is one of them); "never" is :math:`j_{tc} = 0`.
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


def define_demand(m: Model) -> None:
    r"""Every unit of demand is met once the trust has joined the category.

    .. math:: \sum_{l:(t,l) \in P,\, g(l)=g} x_{tl} = D_{tg}\, j_{t,c(g)}

    (with :math:`j = 1` when participation is "all"; a (t, g) without usable lines
    makes that impossible, which is reported as infeasibility).
    """
    tg = m.data.tg
    if tg.empty:
        return
    pairs = m.data.pairs
    tg_index = pd.MultiIndex.from_frame(tg[["trust", "group"]])
    supplied = group_sum(m.var["x"], None, _keys(pairs, ["trust", "group"]), tg_index)
    keys = _keys(tg, ["trust", "group"])
    if m.optional:
        j = m.expr["joined"].reindex(pd.MultiIndex.from_frame(tg[["trust", "category"]]))
        lhs = supplied.to_numpy() - tg["demand"].to_numpy() * j.to_numpy()
        m.add_constraints("demand", keys, lhs, "==", 0.0)
    else:
        m.add_constraints("demand", keys, supplied.to_numpy(), "==", tg["demand"].to_numpy())


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
    r"""All-units volume tiers in multiple-choice form, disaggregated per trust.

    Binary :math:`\tau_{ok}` chooses the tier of offer o (tier 0: no discount). The
    regional spend :math:`P_{toc} = \sum_{l \in o \cap c} p_l x_{tl}` of trust t on
    the offer in category c (and its units :math:`U_{toc}` for a units-basis offer)
    is split over tiers:

    .. math::
        \sum_k \tau_{ok} = 1, \quad
        P_{toc} = \sum_k P_{tock}, \quad 0 \le P_{tock} \le \bar P_{toc}\, \tau_{ok}

        T_k\, \tau_{ok} \le V_{ok} \le T_{k+1}\, \tau_{ok}, \quad
        V_{ok} = \sum_{t,c} U_{tock} \text{ (units) or } \sum_{t,c} P_{tock} \text{ (spend)}

    and the discount earned by (t, c) is :math:`\sum_{o,k} d_k P_{tock}`, exact and
    linear. :math:`\bar P_{toc}`, :math:`\bar U_{toc}` are the largest spend and units
    trust t can place on the offer (tight, data-derived). Tiers no volume can reach
    are not created.
    """
    tiers = m.data.tiers
    n_tiers = tiers.groupby("offer")["k"].transform("size")
    tiers = tiers[n_tiers > 1]
    tc_index = pd.MultiIndex.from_frame(m.data.tc[["trust", "category"]])
    if tiers.empty:
        m.expr["discount"] = reindex_exprs(pd.Series([], dtype=object), tc_index)
        m.var["tier"] = pd.Series([], dtype=object)
        return
    tau = m.add_vars("tier", _keys(tiers, ["offer", "k"]), cat="Binary", up=1)
    offers = tiers.drop_duplicates("offer")
    m.add_constraints(
        "tier_once",
        _keys(offers, ["offer"]),
        group_sum(tau, None, _keys(tiers, ["offer"]), pd.Index(offers["offer"])).to_numpy(),
        "==",
        1.0,
    )
    toc = m.data.toc[m.data.toc["offer"].isin(offers["offer"])]
    rows = toc.merge(tiers[["offer", "k", "threshold", "upper", "discount", "basis"]], on="offer")
    rows = rows.reset_index(drop=True)
    op = m.data.pairs[m.data.pairs["offer"].isin(offers["offer"])]
    op_keys = _keys(op, ["trust", "offer", "category"])
    toc_index = pd.MultiIndex.from_frame(toc[["trust", "offer", "category"]])
    x_op = m.var["x"].reindex(pd.MultiIndex.from_frame(op[["trust", "line"]]))
    tau_rows = tau.reindex(pd.MultiIndex.from_frame(rows[["offer", "k"]])).to_numpy()
    tock = _keys(rows, ["trust", "offer", "category", "k"])
    volume_parts = {}
    for kind, coef, bound in (
        ("spend", op["price"].to_numpy(), "pmax"),
        ("units", None, "umax"),
    ):
        sel = rows["basis"].eq("units").to_numpy() if kind == "units" else slice(None)
        part_rows = rows[sel].reset_index(drop=True)
        if part_rows.empty:
            continue
        part = m.add_vars(f"tier_{kind}", tock[sel].reset_index(drop=True))
        total = group_sum(x_op, coef, op_keys, toc_index)
        tocs = part_rows[["trust", "offer", "category"]].drop_duplicates()
        split = group_sum(
            part, None, _keys(part_rows, ["trust", "offer", "category"]),
            pd.MultiIndex.from_frame(tocs),
        )
        lhs = split.to_numpy() - total.reindex(split.index).to_numpy()
        m.add_constraints(f"tier_{kind}_split", tocs.reset_index(drop=True), lhs, "==", 0.0)
        lhs = part.to_numpy() - part_rows[bound].to_numpy() * tau_rows[sel]
        m.add_constraints(f"tier_{kind}_bound", tock[sel].reset_index(drop=True), lhs, "<=", 0.0)
        volume_parts[kind] = (part, part_rows)

    qual = []
    for basis in ("units", "spend"):
        if basis not in volume_parts:
            continue
        part, part_rows = volume_parts[basis]
        keep = part_rows["basis"].eq(basis).to_numpy()
        qual.append((part[keep], part_rows[keep]))
    vol_vars = pd.concat([q[0] for q in qual])
    vol_rows = pd.concat([q[1] for q in qual], ignore_index=True)
    ok = pd.MultiIndex.from_frame(tiers[["offer", "k"]])
    volume = group_sum(vol_vars, None, _keys(vol_rows, ["offer", "k"]), ok).to_numpy()
    tau_ok = tau.reindex(ok).to_numpy()
    thr = tiers["threshold"].to_numpy()
    upper = tiers["upper"].to_numpy()
    keys = _keys(tiers, ["offer", "k"])
    lo = thr > 0
    m.add_constraints(
        "tier_reach", keys[lo].reset_index(drop=True), volume[lo] - thr[lo] * tau_ok[lo], ">=", 0
    )
    hi = np.isfinite(upper)
    m.add_constraints(
        "tier_within",
        keys[hi].reset_index(drop=True),
        volume[hi] - upper[hi] * tau_ok[hi],
        "<=",
        0.0,
    )
    spend, spend_rows = volume_parts["spend"]
    discount = group_sum(
        spend, spend_rows["discount"].to_numpy(), _keys(spend_rows, ["trust", "category"]),
        tc_index,
    )
    m.expr["discount"] = discount


def define_savings_rate(m: Model) -> None:
    r"""Annual savings rate and its product with the join month, linearised exactly.

    .. math::
        S_{tc} = B_{tc}\, j_{tc} - \sum_{l \in c} p_l x_{tl} + \sum_{o,k} d_k P_{tock}

    The horizon savings :math:`\sum_m \tfrac{H-m}{12} w_{tcm} S_{tc}` are bilinear.
    With :math:`z_{tcm} = w_{tcm} S_{tc}` and one-hot :math:`w` the disaggregated
    (McCormick) form is exact:

    .. math::
        \sum_m z_{tcm} = S_{tc}, \qquad
        \underline S_{tc}\, w_{tcm} \le z_{tcm} \le \overline S_{tc}\, w_{tcm}

    with tight data-derived bounds :math:`\overline S = B - \sum_g D_{tg}
    \min_l p_l (1 - d^{max}_l)` and :math:`\underline S = B - \sum_g D_{tg} \max_l p_l`
    over usable lines.
    """
    tc = m.data.tc
    if tc.empty:
        return
    pairs = m.data.pairs
    tc_index = pd.MultiIndex.from_frame(tc[["trust", "category"]])
    cost = group_sum(
        m.var["x"], pairs["price"].to_numpy(), _keys(pairs, ["trust", "category"]), tc_index
    )
    base = tc["baseline"].to_numpy()
    if m.optional:
        base_term = base * m.expr["joined"].to_numpy()
    else:
        base_term = base
    rate = base_term - cost.to_numpy() + m.expr["discount"].to_numpy()
    m.expr["rate"] = pd.Series(rate, index=tc_index, dtype=object)

    jo = m.data.join_options
    keys = _keys(jo, ["trust", "category", "month"])
    z = m.add_vars("z", keys, low=None)
    split = group_sum(z, None, _keys(jo, ["trust", "category"]), tc_index)
    m.add_constraints("rate_split", _keys(tc, ["trust", "category"]), split - rate, "==", 0.0)
    bounds = jo.merge(tc[["trust", "category", "s_lo", "s_hi"]], on=["trust", "category"])
    w = m.var["w"].to_numpy()
    m.add_constraints("rate_hi", keys, z.to_numpy() - bounds["s_hi"].to_numpy() * w, "<=", 0.0)
    m.add_constraints("rate_lo", keys, z.to_numpy() - bounds["s_lo"].to_numpy() * w, ">=", 0.0)


def define_year_one_cap(m: Model) -> None:
    r"""Year-one cap on units moved onto lines a trust does not use today.

    With :math:`N_{tc} = \sum_{l \in c,\, new} x_{tl}` split by join month,
    :math:`N_{tc} = \sum_{m < 12} n_{tcm} + n^{late}_{tc}`,
    :math:`n_{tcm} \le D_{tc} w_{tcm}`,
    :math:`n^{late}_{tc} \le D_{tc} (1 - \sum_{m<12} w_{tcm})`:

    .. math:: \sum_c \sum_{m < 12} \frac{12 - m}{12} n_{tcm} \le
              \kappa \sum_g D_{tg}

    (months 0-11; with a horizon under 12 months, its length replaces 12).
    """
    rows = _not_dropped(m, "year_one_cap", year_one_rows(m.data), ["trust"])
    if rows.empty:
        return
    s = m.settings
    year = min(12, s.horizon_months)
    new = m.data.pairs[m.data.pairs["is_new"] & m.data.pairs["trust"].isin(rows["trust"])]
    tcs = new[["trust", "category"]].drop_duplicates().merge(
        m.data.tc[["trust", "category", "demand"]], on=["trust", "category"]
    )
    tc_index = pd.MultiIndex.from_frame(tcs[["trust", "category"]])
    moved = group_sum(
        m.var["x"].reindex(pd.MultiIndex.from_frame(new[["trust", "line"]])),
        None, _keys(new, ["trust", "category"]), tc_index,
    )
    jo = m.data.join_options.merge(tcs[["trust", "category", "demand"]], on=["trust", "category"])
    early = jo[jo["month"] < year].reset_index(drop=True)
    early_keys = _keys(early, ["trust", "category", "month"])
    n = m.add_vars("year_one_new", early_keys)
    late = m.add_vars("year_one_late", _keys(tcs, ["trust", "category"]))
    w_early = m.var["w"].reindex(pd.MultiIndex.from_frame(early_keys)).to_numpy()
    m.add_constraints(
        "year_one_new_bound", early_keys, n.to_numpy() - early["demand"].to_numpy() * w_early,
        "<=", 0.0,
    )
    joined_early = group_sum(
        m.var["w"].reindex(pd.MultiIndex.from_frame(early_keys)), None,
        _keys(early, ["trust", "category"]), tc_index,
    )
    dem = tcs["demand"].to_numpy()
    m.add_constraints(
        "year_one_late_bound", _keys(tcs, ["trust", "category"]),
        late.to_numpy() + dem * joined_early.to_numpy(), "<=", dem,
    )
    split = group_sum(n, None, _keys(early, ["trust", "category"]), tc_index)
    m.add_constraints(
        "year_one_split", _keys(tcs, ["trust", "category"]),
        split.to_numpy() + late.to_numpy() - moved.to_numpy(), "==", 0.0,
    )
    weight = (year - early["month"].to_numpy()) / 12.0
    moved_year = group_sum(n, weight, _keys(early, ["trust"]), pd.Index(rows["trust"]))
    total = m.data.tg.groupby("trust")["demand"].sum().reindex(rows["trust"]).to_numpy()
    m.add_constraints(
        "year_one_cap", _keys(rows, ["trust"]), moved_year.to_numpy(), "<=",
        rows["cap"].to_numpy() * total * year / 12.0,
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
        m.expr["joined"].to_numpy(), tc["demand"].to_numpy(), _keys(tc, ["category"]),
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
    sc = m.data.supplier_category.merge(
        m.data.categories[["category", "demand"]], on="category"
    )
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


def define_net_savings(m: Model) -> None:
    r"""Net savings of (t, c) over the horizon (an expression, no new variables).

    .. math::
        N_{tc} = \sum_m \Big( \frac{H - m}{12} z_{tcm} - f_{tcm} w_{tcm} \Big)
                 - \sum_{l \in c} \sigma_{tl} u_{tl}
    """
    tc = m.data.tc
    if tc.empty:
        m.expr["net"] = pd.Series([], dtype=object)
        return
    tc_index = pd.MultiIndex.from_frame(tc[["trust", "category"]])
    jo = m.data.join_options
    jo_keys = _keys(jo, ["trust", "category"])
    timed = group_sum(m.var["z"], jo["months_on"].to_numpy() / 12.0, jo_keys, tc_index)
    one_off = group_sum(
        m.var["w"], (jo["exit_fee"] + jo["bridging"]).to_numpy(), jo_keys, tc_index
    )
    pairs = m.data.pairs
    sw = pairs[pairs["switch_cost"] > 0]
    switching = group_sum(
        m.var["u"].reindex(pd.MultiIndex.from_frame(sw[["trust", "line"]])),
        sw["switch_cost"].to_numpy(), _keys(sw, ["trust", "category"]), tc_index,
    )
    net = timed.to_numpy() - one_off.to_numpy() - switching.to_numpy()
    m.expr["net"] = pd.Series(net, index=tc_index, dtype=object)


def define_participation(m: Model) -> None:
    r"""Optional participation: a trust that joins is no worse off,
    :math:`\sum_c N_{tc} \ge 0` for every trust."""
    if not m.optional or m.data.tc.empty:
        return
    tc = m.data.tc
    trusts = pd.Index(tc["trust"].unique(), name="trust")
    net = group_sum(m.expr["net"].to_numpy(), None, _keys(tc, ["trust"]), trusts)
    m.add_constraints("no_worse_off", pd.DataFrame({"trust": trusts}), net.to_numpy(), ">=", 0.0)


def define_objective(m: Model, feasibility_only: bool = False) -> None:
    r"""Maximise :math:`\sum_{t,c} N_{tc}` (or nothing, for feasibility checks)."""
    if feasibility_only or m.data.tc.empty:
        m.prob.setObjective(pulp.LpAffineExpression.empty())
        return
    m.prob.setObjective(pulp.lpSum(m.expr["net"].tolist()))


def build_model(
    data: ModelData, dropped: Iterable[tuple] = (), feasibility_only: bool = False
) -> Model:
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
    define_savings_rate(m)
    define_year_one_cap(m)
    define_supplier_presence(m)
    define_max_share(m)
    define_net_savings(m)
    define_participation(m)
    define_objective(m, feasibility_only)
    return m
