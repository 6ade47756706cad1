r"""A bound on the net savings of the *whole* problem, cheap at national scale.

Why: large instances are solved over candidate lines (:mod:`solver.screen`), so the
solver's own bound holds only within those lines, and the LP relaxation of the whole
national model takes most of an hour. This module gives upper bounds valid for every
plan of the full problem: a Lagrangian relaxation (any size, seconds per hundred
steps) and the LP relaxation of the whole model by interior point (when it is small
enough to finish within the time limit), either computed in a child process beside
the MILP (:class:`BoundProcess`).

The relaxation :math:`R(\lambda, \nu, \mu)` (every plan of the full model is a plan
of it with an objective at least as large, so every :math:`R \ge` the optimum):

- the regional range link :math:`u_{tl} \le y_l` is priced: :math:`\lambda_{tl} \ge 0`
  adds :math:`\lambda_{tl} (y_l - u_{tl}) \ge 0`;
- tiers in multiple-choice form: each (trust, group) may claim one tier :math:`k` of
  the offer of its line for its units (earning :math:`d_k p_l D_{tg}` a year from the
  join month), and each offer picks one tier :math:`\tau_{ok}` (or none). "Claim only
  the offer's tier", :math:`c_{tgok} \le \tau_{ok}`, is priced by :math:`\nu_{tgok} \ge 0`,
  and "the volume claiming tier k reaches its threshold",
  :math:`\sum_{tg} V_{tl} c_{tgok} \ge T_k \tau_{ok}`, by :math:`\mu_{ok} \ge 0` (volumes
  scaled by the offer's deepest threshold :math:`\bar T_o`). Per tier, not per offer: with
  one aggregate :math:`V_o \ge \sum_k T_k \tau_{ok}` a fractional :math:`\tau_{ok}` needs
  only a fraction of the threshold, and the bound was 2.4% above the optimum of the
  benchmark's S region instead of 1.0% (the model itself counts only the units in tier k
  towards :math:`T_k`, :func:`solver.model.define_tiers`);
- a system cost :math:`\Sigma_{tsc}` is charged as :math:`\Sigma_{tsc} / G_{tsc}` per
  group that uses a new line of the system, :math:`G_{tsc}` the groups where the trust
  could (never more than the cost once);
- the per-trust range cap, minimum suppliers, maximum share, year-one cap, join
  capacity and the "no worse off" rule are dropped.

What remains separates. Each (trust, category) picks one candidate join month
:math:`m` (none only under optional participation) and, in each of its groups, the one
line with the largest

.. math::
    a_{tlm} + \max\big(0, \max_k (\rho_m d_k p_l D_{tg} - \nu_{tgok}
        + \mu_{ok} V_{tl} / \bar T_o)\big) - \lambda_{tl}, \quad
    a_{tlm} = \rho_m (B_{tg} - D_{tg} p_l) - \sigma_{tl} - \Sigma_{tsc}/G_{tsc}

(one line is optimal: splitting a group's demand mixes the lines' rates and pays every
fixed cost; :math:`V_{tl}` is :math:`D_{tg}` in units or spend as the offer counts),
less the one-off costs :math:`f_{tcm}`; the range part keeps the :math:`K_g` lines of
each capped group with the largest :math:`\Lambda_l = \sum_t \lambda_{tl}`; each offer
takes the tier with the largest :math:`\sum_{tg} \nu_{tgok} - \mu_{ok} T_k / \bar T_o` if
positive. All of it is a few vectorised passes over the (trust, line, month) table.

Every multiplier belongs to one category (categories joined where an offer spans
several), so :math:`R = \sum_b R_b` over these blocks, and the bound is the sum of each
block's least :math:`R_b` (taken at different multipliers, still a value of :math:`R`).

Finding good multipliers: :math:`R` is convex and piecewise linear (a sum of maxima), and
subgradient steps on it (used until session 7) stalled 0.2% above the LP relaxation on the
benchmark's knee (88,146,254 against 87,974,926 after 11,135 steps) and 2-3% above it on
trauma. Instead (session 7) every maximum is smoothed, :math:`\max_i v_i \le T \log \sum_i
e^{v_i/T} \le \max_i v_i + T \log n`, and the smooth function is minimised by L-BFGS-B for
falling temperatures :math:`T`. Since session 8 the search is over the LP dual's one
multiplier :math:`\pi_{tgm}` per segment instead of one :math:`\lambda_{tl}` per pair
(:class:`_SegmentDual`: :math:`\lambda(\pi)` follows from :math:`\pi`), over only the rows
near their segment's :math:`\pi`: at L trauma's bound in a run went from about 3.4% to 0.57%
above its plan, hip's to its LP relaxation. The smoothing only guides the search: the bound
is always :math:`R` itself at the multipliers reached. Without tiers and with nothing else
dropped binding, the bound is the optimum (tested); with nothing dropped binding it reaches
the LP relaxation (tested).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from time import perf_counter

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from solver.data import ModelData
from solver.model import range_cap_rows
from solver.problem import ProblemData


@dataclass
class Bound:
    """An upper bound on the net savings (GBP) of every plan of a problem.

    ``method`` says how it was obtained (shown to users); ``iterations`` and
    ``seconds`` what it cost; ``feasible`` is False when the relaxation already has
    no plan (then no plan of the problem exists and ``value`` is None).
    """

    value: float | None
    method: str
    iterations: int = 0
    seconds: float = 0.0
    feasible: bool = True
    lines: frozenset[str] = frozenset()
    """Lines the relaxation's plan uses at the best bound (candidates worth solving over)."""
    ranked_lines: tuple[str, ...] = ()
    """Lines by how much the relaxation's LP would use them, most first, as the smoothed search
    estimates it (:meth:`_SegmentDual.line_mass`; empty if the search never smoothed)."""


@dataclass
class _Tables:
    """Index arrays of the relaxation, built once (see :func:`_tables`).

    Rows are (trust, line, month) triples sorted by (trust, category, month, group);
    a *segment* is one (trust, group, month); *claims* are (row, tier) entries of rows
    on tiered offers; a *tgoj* is a (trust, group, offer, tier) claim slot; an *oj* a
    (offer, tier) with tiers k >= 1 sorted within each offer."""

    a: np.ndarray  # a_tlm without any tier discount
    pair_of_row: np.ndarray
    seg_starts: np.ndarray
    seg_of_row: np.ndarray
    tcm_of_seg: np.ndarray
    one_off: np.ndarray  # f_tcm
    tc_of_tcm: np.ndarray
    must_join: np.ndarray  # per (trust, category)
    line_of_pair: np.ndarray
    n_lines: int
    capped_group_of_line: np.ndarray  # -1 if uncapped
    caps: np.ndarray
    tie_break: np.ndarray
    infeasible: bool
    # tiers
    claim_row: np.ndarray
    claim_tgoj: np.ndarray
    claim_starts: np.ndarray  # first claim of each row with claims (claims sorted by row)
    claim_segment: np.ndarray  # index into claim_starts of each claim
    claim_gain: np.ndarray  # rho_m d_k p_l D_tg
    claim_oj: np.ndarray  # the (offer, tier) each claim is on
    claim_volume: np.ndarray  # V_tl / T-bar_o of the claim's pair (scaled like mu)
    tgoj_oj: np.ndarray
    n_tgoj: int
    oj_offer: np.ndarray
    oj_threshold: np.ndarray
    oj_starts: np.ndarray  # first oj of each tiered offer
    offer_top: np.ndarray  # deepest threshold of each tiered offer (scales its multiplier)
    # blocks: categories, joined where an offer spans several (R is a sum over blocks)
    n_blocks: int
    block_of_pair: np.ndarray
    block_of_tgoj: np.ndarray
    block_of_oj: np.ndarray
    block_of_tc: np.ndarray
    block_of_line: np.ndarray
    block_of_offer: np.ndarray


def _tiers(data: ModelData, pairs: pd.DataFrame):
    """Tiers above tier 0: (offer, k >= 1) sorted, with threshold and discount."""
    tiers = data.tiers.sort_values(["offer", "k"]).reset_index(drop=True)
    oj = tiers[(tiers["k"] >= 1) & (tiers["threshold"] > 0) & (tiers["discount"] > 0)].reset_index(drop=True)
    offers = pd.Index(oj["offer"].unique())
    return oj, offers


def _tables(data: ModelData) -> _Tables:
    pairs = data.pairs.reset_index(drop=True)
    jo = data.join_options
    settings = data.settings
    # a system cost shared over the groups where the trust could use a new line of it
    new_system = (pairs["system_cost"].to_numpy() > 0) & pairs["is_new"].to_numpy(dtype=bool)
    groups_of_system = pairs.loc[new_system].groupby(["trust", "supplier", "category"])["group"].transform("nunique")
    system_share = np.zeros(len(pairs))
    system_share[new_system] = pairs.loc[new_system, "system_cost"].to_numpy() / groups_of_system.to_numpy()
    tg = data.tg.set_index(["trust", "group"])
    baseline = tg["baseline"].reindex(pd.MultiIndex.from_frame(pairs[["trust", "group"]])).to_numpy()
    spend = pairs["demand"].to_numpy() * pairs["price"].to_numpy()
    rate = baseline - spend
    fixed = pairs["switch_cost"].to_numpy() + system_share

    tc = data.tc[["trust", "category"]].reset_index(drop=True)
    tc_code = pd.Series(np.arange(len(tc)), index=pd.MultiIndex.from_frame(tc))
    jo = jo.assign(tc=tc_code.reindex(pd.MultiIndex.from_frame(jo[["trust", "category"]])).to_numpy())
    jo = jo.sort_values(["tc", "month"]).reset_index(drop=True)
    # a (trust, category) with a group no usable line serves cannot join at all
    unserved = data.tg.loc[data.tg["n_usable"] <= 0, ["trust", "category"]].drop_duplicates()
    blocked = pd.MultiIndex.from_frame(jo[["trust", "category"]]).isin(pd.MultiIndex.from_frame(unserved))
    must_join = np.full(len(tc), settings.participation != "optional")
    joinable = np.zeros(len(tc), dtype=bool)
    joinable[jo.loc[~blocked, "tc"].to_numpy(dtype=int)] = True
    infeasible = bool((must_join & ~joinable).any())
    jo = jo[~blocked].reset_index(drop=True)
    one_off = (jo["exit_fee"] + jo["bridging"] + jo["off_contract"]).to_numpy(dtype=float)

    rows = pairs[["trust", "group", "category", "line"]].assign(pair=np.arange(len(pairs)))
    months = jo[["trust", "category", "month", "months_on"]].assign(tcm=np.arange(len(jo)))
    rows = rows.merge(months, on=["trust", "category"])
    rows = rows.sort_values(["tcm", "group", "pair"], kind="stable").reset_index(drop=True)
    pair_of_row = rows["pair"].to_numpy()
    years = rows["months_on"].to_numpy() / 12.0
    a = years * rate[pair_of_row] - fixed[pair_of_row]
    group_code = pd.factorize(rows["group"])[0]
    tcm = rows["tcm"].to_numpy()
    new_seg = np.r_[True, (tcm[1:] != tcm[:-1]) | (group_code[1:] != group_code[:-1])][: len(tcm)]
    seg_starts = np.flatnonzero(new_seg)
    seg_of_row = np.cumsum(new_seg) - 1

    # tiers: claim slots (trust, group, offer, tier) and claims (row, tier)
    oj, offers = _tiers(data, pairs)
    offer_of_pair = offers.get_indexer(pairs["offer"])
    oj_offer = offers.get_indexer(oj["offer"])
    oj_starts = np.flatnonzero(np.r_[True, oj_offer[1:] != oj_offer[:-1]]) if len(oj) else np.zeros(0, dtype=int)
    omega = np.where(pairs["basis"].to_numpy() == "spend", pairs["price"].to_numpy(), 1.0)
    volume_of_pair = pairs["demand"].to_numpy() * omega
    on_tier = offer_of_pair >= 0
    tgo = (
        pairs.loc[on_tier, ["trust", "group"]].assign(o=offer_of_pair[on_tier]).drop_duplicates().reset_index(drop=True)
    )
    tgo["tgo"] = np.arange(len(tgo))
    slots = tgo.merge(pd.DataFrame({"o": oj_offer, "oj": np.arange(len(oj))}), on="o")
    slots["tgoj"] = np.arange(len(slots))
    row_frame = pd.DataFrame(
        {"row": np.arange(len(rows)), "trust": rows["trust"], "group": rows["group"], "o": offer_of_pair[pair_of_row]}
    )
    claims = row_frame[row_frame["o"] >= 0].merge(
        slots[["trust", "group", "o", "oj", "tgoj"]], on=["trust", "group", "o"]
    )
    claims = claims.sort_values(["row", "oj"]).reset_index(drop=True)
    claim_row = claims["row"].to_numpy()
    discount = oj["discount"].to_numpy(dtype=float)
    claim_gain = years[claim_row] * discount[claims["oj"].to_numpy()] * spend[pair_of_row[claim_row]]
    claim_starts = np.flatnonzero(np.r_[True, claim_row[1:] != claim_row[:-1]]) if len(claims) else np.zeros(0, int)

    offer_top = oj.groupby("offer", sort=False)["threshold"].max().reindex(offers).to_numpy(dtype=float)

    lines = pd.Index(pairs["line"].unique())
    caps = range_cap_rows(data)
    first = pairs.drop_duplicates("line").set_index("line").reindex(lines)
    first_pair_of_line = np.flatnonzero(~pairs["line"].duplicated().to_numpy())  # in the order of ``lines``
    cap_code = pd.Series(np.arange(len(caps)), index=caps["group"].to_numpy())
    block_of_pair, n_blocks = _blocks(pairs["category"].to_numpy(), offer_of_pair)
    block_of_category = dict(zip(pairs["category"], block_of_pair, strict=True))
    block_of_offer = np.zeros(len(offers), dtype=int)
    block_of_offer[offer_of_pair[on_tier]] = block_of_pair[on_tier]
    group_block = pd.Series(block_of_pair, index=pairs["group"].to_numpy())
    group_block = group_block[~group_block.index.duplicated()]
    return _Tables(
        a=a,
        pair_of_row=pair_of_row,
        seg_starts=seg_starts,
        seg_of_row=seg_of_row,
        tcm_of_seg=tcm[seg_starts],
        one_off=one_off,
        tc_of_tcm=jo["tc"].to_numpy(dtype=int),
        must_join=must_join,
        line_of_pair=lines.get_indexer(pairs["line"]),
        n_lines=len(lines),
        capped_group_of_line=first["group"].map(cap_code).fillna(-1).to_numpy(dtype=int),
        caps=caps["cap"].to_numpy(dtype=int) if len(caps) else np.zeros(0, dtype=int),
        tie_break=-first["price"].to_numpy(dtype=float),
        infeasible=infeasible,
        claim_row=claim_row,
        claim_starts=claim_starts,
        claim_segment=np.cumsum(np.r_[True, claim_row[1:] != claim_row[:-1]]) - 1 if len(claim_row) else claim_row,
        claim_tgoj=claims["tgoj"].to_numpy(),
        claim_gain=claim_gain,
        claim_oj=claims["oj"].to_numpy(dtype=int),
        claim_volume=volume_of_pair[pair_of_row[claim_row]] / offer_top[oj_offer[claims["oj"].to_numpy()]]
        if len(claims)
        else np.zeros(0),
        tgoj_oj=slots["oj"].to_numpy(),
        n_tgoj=len(slots),
        oj_offer=oj_offer,
        oj_threshold=oj["threshold"].to_numpy(dtype=float),
        oj_starts=oj_starts,
        offer_top=offer_top,
        n_blocks=n_blocks,
        block_of_pair=block_of_pair,
        block_of_tgoj=group_block.reindex(slots["group"]).to_numpy(dtype=int) if len(slots) else np.zeros(0, int),
        block_of_oj=block_of_offer[oj_offer],
        block_of_tc=tc["category"].map(block_of_category).fillna(0).to_numpy(dtype=int),
        block_of_line=block_of_pair[first_pair_of_line],
        block_of_offer=block_of_offer,
    )


def _blocks(category: np.ndarray, offer: np.ndarray) -> tuple[np.ndarray, int]:
    """Block of each pair: its category, categories joined when an offer has lines in
    several (then their multipliers interact). Returns codes 0..n-1 and n."""
    codes, names = pd.factorize(category)
    parent = np.arange(len(names))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    on = offer >= 0
    spans = pd.DataFrame({"o": offer[on], "c": codes[on]}).drop_duplicates()
    for cats in spans.groupby("o")["c"].agg(list):  # few offers span categories, if any
        for other in cats[1:]:
            parent[root(other)] = root(cats[0])
    roots = np.array([root(i) for i in range(len(names))], dtype=int)
    block_codes, blocks = pd.factorize(roots)
    return block_codes[codes], len(blocks)


def _first_max(values: np.ndarray, seg_of: np.ndarray, seg_max: np.ndarray) -> np.ndarray:
    """Index of the first row attaining its segment's maximum, per segment (segments sorted)."""
    hits = np.flatnonzero(values >= seg_max[seg_of])
    segments = seg_of[hits]  # ascending: the first hit of each segment starts a new run
    return hits[np.r_[True, segments[1:] != segments[:-1]]]


@dataclass
class _Multipliers:
    """lam per pair (range link), nu per claim slot (tier claimed only if picked),
    mu per (offer, tier) (the volume claiming the tier reaches its threshold)."""

    lam: np.ndarray
    nu: np.ndarray
    mu: np.ndarray


def _evaluate(t: _Tables, x: _Multipliers) -> tuple[np.ndarray, _Multipliers, np.ndarray]:
    """:math:`R` at the multipliers per block (:math:`R` is their sum), its subgradient (same
    shapes as the multipliers) and, per pair, whether its line is in the relaxed plan: kept
    by the range side in a capped group, used by the trust elsewhere."""
    # trust side: the best line of every (trust, group, month), claiming at most one tier;
    # a claim of tier k counts its volume towards k's threshold (priced by mu_ok)
    claim_value = np.maximum(0.0, t.claim_gain - x.nu[t.claim_tgoj] + x.mu[t.claim_oj] * t.claim_volume)
    bonus = np.zeros(len(t.a))
    claim_max = np.maximum.reduceat(claim_value, t.claim_starts) if len(claim_value) else claim_value
    if len(claim_value):
        bonus[t.claim_row[t.claim_starts]] = claim_max
    v = t.a + bonus - x.lam[t.pair_of_row]
    seg_max = np.maximum.reduceat(v, t.seg_starts)
    best_row = _first_max(v, t.seg_of_row, seg_max)
    tcm_value = np.bincount(t.tcm_of_seg, weights=seg_max, minlength=len(t.one_off)) - t.one_off
    tc_starts = np.flatnonzero(np.r_[True, t.tc_of_tcm[1:] != t.tc_of_tcm[:-1]])
    tc_best = np.maximum.reduceat(tcm_value, tc_starts)
    tcm_seg = np.repeat(np.arange(len(tc_starts)), np.diff(np.r_[tc_starts, len(tcm_value)]))
    best_tcm = _first_max(tcm_value, tcm_seg, tc_best)
    joins = t.must_join[t.tc_of_tcm[tc_starts]] | (tc_best > 0)
    parts = np.bincount(
        t.block_of_tc[t.tc_of_tcm[tc_starts]], weights=np.where(joins, tc_best, 0.0), minlength=t.n_blocks
    )
    chosen_tcm = np.zeros(len(t.one_off), dtype=bool)
    chosen_tcm[best_tcm[joins]] = True
    chosen_rows = best_row[chosen_tcm[t.tcm_of_seg]]
    u = np.zeros(len(x.lam))
    u[t.pair_of_row[chosen_rows]] = 1.0

    # range side: the K_g lines of each capped group with the largest summed multipliers
    big_lambda = np.bincount(t.line_of_pair, weights=x.lam, minlength=t.n_lines)
    y = np.ones(t.n_lines)
    capped = t.capped_group_of_line >= 0
    if capped.any():
        idx = np.flatnonzero(capped)
        order = idx[np.lexsort((-t.tie_break[idx], -big_lambda[idx], t.capped_group_of_line[idx]))]
        groups = t.capped_group_of_line[order]
        rank = np.arange(len(order)) - np.searchsorted(groups, groups, side="left")
        y[idx] = 0.0
        y[order[rank < t.caps[groups]]] = 1.0
    parts += np.bincount(t.block_of_line, weights=y * big_lambda, minlength=t.n_blocks)

    # offer side: one tier per offer (or none), paying for the volume it needs
    tau = np.zeros(len(t.oj_threshold))
    claimed = np.zeros(t.n_tgoj)
    if len(x.mu):
        offer_of_oj = np.repeat(np.arange(len(t.oj_starts)), np.diff(np.r_[t.oj_starts, len(tau)]))
        worth = np.bincount(t.tgoj_oj, weights=x.nu, minlength=len(tau)) - x.mu * (
            t.oj_threshold / t.offer_top[t.oj_offer]
        )
        best_tier = np.maximum.reduceat(worth, t.oj_starts)
        pick = _first_max(worth, offer_of_oj, best_tier)
        tau[pick[best_tier[offer_of_oj[pick]] > 0]] = 1.0
        parts += np.bincount(t.block_of_offer, weights=np.maximum(best_tier, 0.0), minlength=t.n_blocks)
        in_chosen = np.zeros(len(t.a), dtype=bool)
        in_chosen[chosen_rows] = True
        # the one claim each chosen row makes: its largest positive claim value
        first_claim = _first_max(claim_value, t.claim_segment, claim_max)
        take = first_claim[in_chosen[t.claim_row[first_claim]] & (claim_value[first_claim] > 0)]
        claimed[t.claim_tgoj[take]] = 1.0
        volume = np.bincount(t.claim_oj[take], weights=t.claim_volume[take], minlength=len(tau))
        mu_grad = volume - tau * t.oj_threshold / t.offer_top[t.oj_offer]
    else:
        mu_grad = np.zeros(0)
    grad = _Multipliers(lam=y[t.line_of_pair] - u, nu=tau[t.tgoj_oj] - claimed, mu=mu_grad)
    kept = np.where(t.capped_group_of_line[t.line_of_pair] >= 0, y[t.line_of_pair], u)
    return parts, grad, kept


def _segment_softmax(
    values: np.ndarray, starts: np.ndarray, segment_of: np.ndarray, temperature: float, with_zero: bool | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    r"""Per segment, :math:`T \log \sum_i e^{v_i / T}` (a smooth maximum, never below the
    maximum and at most :math:`T \log n` above it) and each value's weight :math:`\partial / \partial v_i`.

    ``with_zero`` (per segment, or for all) adds a value 0 to the segment: the smooth form of
    :math:`\max(0, \max_i v_i)`."""
    top = np.maximum.reduceat(values, starts)
    zero = np.broadcast_to(np.asarray(with_zero, dtype=bool), top.shape)
    top = np.where(zero, np.maximum(top, 0.0), top)
    scaled = np.exp((values - top[segment_of]) / temperature)
    total = np.add.reduceat(scaled, starts) + np.where(zero, np.exp(-np.where(zero, top, 0.0) / temperature), 0.0)
    return top + temperature * np.log(total), scaled / total[segment_of]


def _per_block(n_blocks: int, blocks: tuple[np.ndarray, ...], values: list[np.ndarray]) -> np.ndarray:
    """Sums of ``values`` (one array per kind of multiplier) by block."""
    total = np.zeros(n_blocks)
    for block, value in zip(blocks, values, strict=True):
        total += np.bincount(block, weights=value, minlength=n_blocks)
    return total


class _Search:
    """The best multipliers so far, block by block, and when to stop (see :func:`lagrangian_bound`)."""

    def __init__(self, t: _Tables, n_pairs: int, target, deadline, max_evaluations, report, tick) -> None:
        self.t, self.target, self.deadline, self.max_evaluations = t, target, deadline, max_evaluations
        self.report, self.tick, self.reported = report, tick, perf_counter()
        self.best_x = _Multipliers(lam=np.zeros(n_pairs), nu=np.zeros(t.n_tgoj), mu=np.zeros(len(t.oj_threshold)))
        self.best, self.gradient, self.best_kept = _evaluate(t, self.best_x)
        self.evaluations = 1

    def take(self, x: _Multipliers, evaluated=None) -> tuple[np.ndarray, _Multipliers]:
        """R at ``x`` (evaluated here unless given): each block keeps its least value and its
        multipliers (R separates by block). Returns R per block and its subgradient."""
        t = self.t
        parts, gradient, kept = evaluated if evaluated is not None else _evaluate(t, x)
        self.evaluations += evaluated is None
        better = parts < self.best - 1e-9 * np.abs(self.best)
        self.best = np.where(better, parts, self.best)
        self.best_kept = np.where(better[t.block_of_pair], kept, self.best_kept)
        self.best_x = _Multipliers(
            lam=np.where(better[t.block_of_pair], x.lam, self.best_x.lam),
            nu=np.where(better[t.block_of_tgoj], x.nu, self.best_x.nu),
            mu=np.where(better[t.block_of_oj], x.mu, self.best_x.mu),
        )
        if self.report is not None and perf_counter() - self.reported >= REPORT_SECONDS:
            self.report(
                Bound(value=self.value, method=METHOD, iterations=self.evaluations, seconds=perf_counter() - self.tick)
            )
            self.reported = perf_counter()
        return parts, gradient

    @property
    def value(self) -> float:
        return float(self.best.sum())

    def finished(self, until: float | None = None) -> bool:
        reached = self.target is not None and self.value - self.target <= 1e-5 * max(1.0, abs(self.target))
        late = perf_counter() >= (self.deadline if until is None else min(until, self.deadline))
        return reached or late or self.evaluations >= self.max_evaluations


def _steps(search: _Search, until: float, evaluations: int) -> None:
    """Projected subgradient steps on R from zero multipliers until ``until`` or ``evaluations``
    in all: deflected towards the last step (Camerini, Fratta and Maffioli), each block with
    its own Polyak step aimed :data:`AIM_BELOW` under its share of the target, halved when the
    block stalls. Cheap per step and quick to get close; slow to finish (see :func:`_smooth_segments`)."""
    t = search.t
    blocks = (t.block_of_pair, t.block_of_tgoj, t.block_of_oj)
    x, current, grad = search.best_x, search.best.copy(), search.gradient
    total = float(current.sum())
    target = search.target
    goal_total = target - AIM_BELOW * abs(target) if target is not None and target < total else 0.99 * total
    size = np.abs(current)
    share = size / size.sum() if size.sum() > 0 else np.full(t.n_blocks, 1.0 / t.n_blocks)
    goal = current - (total - goal_total) * share
    theta, stall = np.ones(t.n_blocks), np.zeros(t.n_blocks, dtype=int)
    direction: list[np.ndarray] | None = None
    while not search.finished(until) and search.evaluations < evaluations:
        active = theta >= 1e-4
        if not active.any():
            break
        best = search.best
        reached = best - goal <= 1e-6 * np.maximum(1.0, np.abs(best))
        goal = np.where(reached, best - 0.001 * np.maximum(1.0, np.abs(best)), goal)
        # projected: a zero multiplier cannot go lower
        moves = [
            np.where((g < 0) | (value > 0), g, 0.0)
            for value, g in ((x.lam, grad.lam), (x.nu, grad.nu), (x.mu, grad.mu))
        ]
        if direction is not None:  # deflected steps
            dot = _per_block(t.n_blocks, blocks, [g * d for g, d in zip(moves, direction, strict=True)])
            dd = _per_block(t.n_blocks, blocks, [d * d for d in direction])
            beta = np.where(dd > 0, np.maximum(0.0, -MOMENTUM * dot / np.where(dd > 0, dd, 1.0)), 0.0)
            moves = [g + beta[b] * d for b, g, d in zip(blocks, moves, direction, strict=True)]
        direction = moves
        norm = _per_block(t.n_blocks, blocks, [g * g for g in moves])
        if not (norm[active] > 0).any():
            break  # the relaxed plan keeps every priced rule: R is the relaxation's optimum
        step = np.where(
            active & (norm > 0),
            theta * np.maximum(current - goal, 1e-9 * np.abs(current)) / np.where(norm > 0, norm, 1.0),
            0.0,
        )
        x = _Multipliers(
            lam=np.maximum(0.0, x.lam - step[t.block_of_pair] * moves[0]),
            nu=np.maximum(0.0, x.nu - step[t.block_of_tgoj] * moves[1]),
            mu=np.maximum(0.0, x.mu - step[t.block_of_oj] * moves[2]),
        )
        before = search.best
        current, grad = search.take(x)
        better = current < before - 1e-9 * np.abs(before)
        stall = np.where(better, 0, stall + 1)
        halve = stall >= STALL
        theta = np.where(halve, theta / 2, theta)
        stall = np.where(halve, 0, stall)


class _SegmentDual:
    r"""The relaxation's LP dual in one multiplier per segment: :math:`R` at
    :math:`\lambda_{tl}(\pi) = \max(0, \max_m (v_{tlm} - \pi_{tgm}))`, bounded above by

    .. math::
        D(\pi, \theta, \nu, \mu) = \sum_{tc} \max_m \big(\sum_g \pi_{tgm} - f_{tcm}\big)
            + \sum_g \big(K_g \theta_g + \sum_{l \in g} \max(0, \Lambda_l(\pi) - \theta_g)\big)
            + \text{the offers' part}

    (each segment's best :math:`v_{tlm} - \lambda_{tl}` is at most :math:`\pi_{tgm}`; the sum of
    the :math:`K_g` largest :math:`\Lambda_l` is at most :math:`K_g \theta_g + \sum_l
    \max(0, \Lambda_l - \theta_g)` for every :math:`\theta_g`; an uncapped line keeps every
    :math:`\Lambda_l`). Its least value is the LP relaxation's, as :math:`R`'s is, but over
    one :math:`\pi` per (trust, group, month) instead of one :math:`\lambda` per (trust,
    line): trauma at L has 4,344 segments and 95,457 pairs. Every
    maximum is smoothed (``value_and_gradient``); the bound is always :math:`R` at
    :math:`\lambda(\pi)` exactly (``multipliers``), a valid bound whatever :math:`\pi`."""

    def __init__(self, t: _Tables, n_pairs: int, n_segments: int | None = None) -> None:
        self.t, self.n_pairs = t, n_pairs
        self.n_segments = len(t.seg_starts) if n_segments is None else n_segments
        self.n_caps = len(t.caps)
        self.sizes = np.cumsum([self.n_segments, self.n_caps, t.n_tgoj])
        self.tc_starts = np.flatnonzero(np.r_[True, t.tc_of_tcm[1:] != t.tc_of_tcm[:-1]])
        self.tc_of_month = np.repeat(np.arange(len(self.tc_starts)), np.diff(np.r_[self.tc_starts, len(t.one_off)]))
        self.optional_tc = ~t.must_join[t.tc_of_tcm[self.tc_starts]]
        self.rows_with_claims = t.claim_row[t.claim_starts] if len(t.claim_row) else np.zeros(0, dtype=int)
        # the rows of each pair together (its months), for lambda_tl
        self.by_pair = np.argsort(t.pair_of_row, kind="stable")
        sorted_pairs = t.pair_of_row[self.by_pair]
        self.pair_starts = np.flatnonzero(np.r_[True, sorted_pairs[1:] != sorted_pairs[:-1]])
        self.pairs = sorted_pairs[self.pair_starts]  # pairs with rows, ascending
        self.pair_of_sorted = np.cumsum(np.r_[True, sorted_pairs[1:] != sorted_pairs[:-1]]) - 1
        self.line_of_pair = t.line_of_pair[self.pairs]
        self.cap_of_line = t.capped_group_of_line
        self.capped_lines = np.flatnonzero(self.cap_of_line >= 0)
        self.uncapped_lines = np.flatnonzero(self.cap_of_line < 0)
        self.offer_of_oj = np.repeat(np.arange(len(t.oj_starts)), np.diff(np.r_[t.oj_starts, len(t.oj_threshold)]))
        self.oj_scale = t.oj_threshold / t.offer_top[t.oj_offer] if len(t.oj_threshold) else np.zeros(0)
        self.caps = t.caps.astype(float)

    def split(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        pi, theta, nu, mu = np.split(z, self.sizes)
        return pi, np.maximum(theta, 0.0), np.maximum(nu, 0.0), np.maximum(mu, 0.0)

    def lower_bounds(self) -> np.ndarray:
        """pi is free (the dual of an equation); theta, nu and mu are at least 0."""
        return np.r_[np.full(self.n_segments, -np.inf), np.zeros(self.sizes[-1] - self.n_segments + len(self.oj_scale))]

    def _values(self, nu: np.ndarray, mu: np.ndarray, temperature: float | None):
        """Every row's value with its best claim (smoothed unless ``temperature`` is None), and
        the claims' weights."""
        t = self.t
        bonus = np.zeros(len(t.a))
        weights = np.zeros(0)
        if len(t.claim_row):
            claim = t.claim_gain - nu[t.claim_tgoj] + mu[t.claim_oj] * t.claim_volume
            if temperature is None:
                bonus[self.rows_with_claims] = np.maximum.reduceat(np.maximum(claim, 0.0), t.claim_starts)
            else:
                claimed, weights = _segment_softmax(claim, t.claim_starts, t.claim_segment, temperature, True)
                bonus[self.rows_with_claims] = claimed
        return t.a + bonus, weights

    def start(self, x: _Multipliers) -> np.ndarray:
        """The point whose lambda(pi) is at most ``x.lam`` (so R there is at most R at ``x``): each
        segment's pi its best value at ``x``, theta each capped group's K-th largest Lambda."""
        t = self.t
        v, _ = self._values(x.nu, x.mu, None)
        pi = np.maximum.reduceat(v - x.lam[t.pair_of_row], t.seg_starts)
        lam = self.multipliers(np.r_[pi, np.zeros(self.n_caps), x.nu, x.mu]).lam
        big_lambda = np.bincount(t.line_of_pair, weights=lam, minlength=t.n_lines)
        theta = np.zeros(self.n_caps)
        if self.n_caps:
            lines = self.capped_lines[np.lexsort((-big_lambda[self.capped_lines], self.cap_of_line[self.capped_lines]))]
            groups = self.cap_of_line[lines]
            rank = np.arange(len(lines)) - np.searchsorted(groups, groups, side="left")
            at_k = rank == t.caps[groups] - 1
            theta[groups[at_k]] = big_lambda[lines[at_k]]
        return np.r_[pi, theta, x.nu, x.mu]

    def gaps(self, z: np.ndarray) -> np.ndarray:
        """How far each row's value is above its segment's pi at ``z`` (exactly)."""
        pi, _, nu, mu = self.split(z)
        v, _ = self._values(nu, mu, None)
        return v - pi[self.t.seg_of_row]

    def over(self, rows: np.ndarray) -> _SegmentDual:
        """The same function over some rows only (ascending indices): the rows left out add
        about :math:`T \\log(1 + e^{\\text{gap}/T})` each, nothing when far below their pi."""
        t = self.t
        kept = np.zeros(len(t.a), dtype=bool)
        kept[rows] = True
        new_row = np.full(len(t.a), -1)
        new_row[rows] = np.arange(len(rows))
        on = kept[t.claim_row]
        claim_row = new_row[t.claim_row[on]]
        new_claim = np.r_[True, claim_row[1:] != claim_row[:-1]] if len(claim_row) else np.zeros(0, dtype=bool)
        sub = replace(
            t,
            a=t.a[rows],
            pair_of_row=t.pair_of_row[rows],
            seg_of_row=t.seg_of_row[rows],
            claim_row=claim_row,
            claim_starts=np.flatnonzero(new_claim),
            claim_segment=np.cumsum(new_claim) - 1,
            claim_tgoj=t.claim_tgoj[on],
            claim_gain=t.claim_gain[on],
            claim_oj=t.claim_oj[on],
            claim_volume=t.claim_volume[on],
        )
        return _SegmentDual(sub, self.n_pairs, self.n_segments)

    def live(self, rows: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Which entries of ``z`` a search over ``rows`` moves: every pi, theta and mu, and the nu
        of the claim slots those rows claim, or that are above 0 (another slot's nu only pushes
        its tier's worth up: at 0 it stays there). The others are held where they are."""
        t = self.t
        moving = np.ones(len(z), dtype=bool)
        nu = slice(self.sizes[1], self.sizes[2])
        kept = np.zeros(len(t.a), dtype=bool)
        kept[rows] = True
        claimed = np.zeros(t.n_tgoj, dtype=bool)
        claimed[t.claim_tgoj[kept[t.claim_row]]] = True
        moving[nu] = claimed | (z[nu] > 0)
        return moving

    def multipliers(self, z: np.ndarray, gaps: np.ndarray | None = None) -> _Multipliers:
        """lambda(pi) exactly, with nu and mu: where the bound R is evaluated (``gaps``: ``gaps(z)``
        if already computed)."""
        _, _, nu, mu = self.split(z)
        lam = np.zeros(self.n_pairs)
        gaps = self.gaps(z) if gaps is None else gaps
        lam[self.pairs] = np.maximum(np.maximum.reduceat(gaps[self.by_pair], self.pair_starts), 0.0)
        return _Multipliers(lam=lam, nu=nu, mu=mu)

    def line_mass(self, z: np.ndarray, temperature: float) -> np.ndarray:
        """Per line, how much the relaxation's LP would use it, as :math:`D_T` at ``z`` estimates it:
        the sum over its rows of the row's weight in :math:`D_T` (its share of its segment), times
        its month's weight, times the row's value. Near the LP's optimum the lines of good plans
        rank first (measured at L: the 18 lines of trauma's best plan known were within the top 23
        of 760 at the search's last temperature; a MILP over them solved in 3.7 s)."""
        _, _, row_weight, month_weight = self._smoothed(z, temperature)
        t = self.t
        mass = row_weight * month_weight[t.tcm_of_seg[t.seg_of_row]] * np.maximum(np.abs(t.a), 1.0)
        return np.bincount(t.line_of_pair[t.pair_of_row], weights=mass, minlength=t.n_lines)

    def value_and_gradient(self, z: np.ndarray, temperature: float) -> tuple[float, np.ndarray]:
        return self._smoothed(z, temperature)[:2]

    def _smoothed(self, z: np.ndarray, temperature: float) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """:math:`D_T` at ``z``, its gradient, and each row's and each month's weight in it."""
        t, T = self.t, temperature
        pi, theta, nu, mu = self.split(z)
        v, claim_weight = self._values(nu, mu, T)
        # the (trust, category)'s months, each worth the sum of its segments' pi
        month_value = np.bincount(t.tcm_of_seg, weights=pi, minlength=len(t.one_off)) - t.one_off
        joined, month_weight = _segment_softmax(month_value, self.tc_starts, self.tc_of_month, T, self.optional_tc)
        total = float(joined.sum())
        g_pi = month_weight[t.tcm_of_seg].copy()
        # lambda_tl: the most any month of the pair's rows is above its segment's pi (or 0)
        gaps = (v - pi[t.seg_of_row])[self.by_pair]
        lam, row_share = _segment_softmax(gaps, self.pair_starts, self.pair_of_sorted, T, True)
        big_lambda = np.bincount(self.line_of_pair, weights=lam, minlength=t.n_lines)
        line_weight = np.zeros(t.n_lines)
        total += float(big_lambda[self.uncapped_lines].sum())
        line_weight[self.uncapped_lines] = 1.0
        g_theta = np.zeros(self.n_caps)
        if self.n_caps:
            from scipy.special import expit

            lines = self.capped_lines
            above = (big_lambda[lines] - theta[self.cap_of_line[lines]]) / T
            total += float((self.caps * theta).sum() + T * np.logaddexp(0.0, above).sum())
            line_weight[lines] = expit(above)
            g_theta = self.caps - np.bincount(
                self.cap_of_line[lines], weights=line_weight[lines], minlength=self.n_caps
            )
        row_weight = np.zeros(len(t.a))  # d total / d v_row
        row_weight[self.by_pair] = row_share * line_weight[self.line_of_pair][self.pair_of_sorted]
        g_pi -= np.bincount(t.seg_of_row, weights=row_weight, minlength=self.n_segments)
        g_nu, g_mu = np.zeros(len(nu)), np.zeros(len(mu))
        if len(t.claim_row):
            taken = row_weight[t.claim_row] * claim_weight
            g_nu -= np.bincount(t.claim_tgoj, weights=taken, minlength=len(nu))
            g_mu += np.bincount(t.claim_oj, weights=taken * t.claim_volume, minlength=len(mu))
        if len(mu):
            worth = np.bincount(t.tgoj_oj, weights=nu, minlength=len(mu)) - mu * self.oj_scale
            picked, tier_weight = _segment_softmax(worth, t.oj_starts, self.offer_of_oj, T, True)
            total += float(picked.sum())
            g_nu += tier_weight[t.tgoj_oj]
            g_mu -= tier_weight * self.oj_scale
        return total, np.concatenate([g_pi, g_theta, g_nu, g_mu]), row_weight, month_weight


def _smooth_segments(search: _Search, temperatures: list[float]) -> float | None:
    """From the best multipliers so far (a start whose R is at most theirs), minimise
    :class:`_SegmentDual`'s smoothed :math:`D_T` by L-BFGS-B for each temperature in turn, each
    of the :data:`PHASES` planned phases getting an equal share of the time and evaluations
    left and each cooler one what the earlier ones leave; R itself is taken where each run
    ends and, at most :data:`CHECK_SHARE` of the time, every :data:`RECHECK` evaluations. Each
    run moves only the multipliers its rows touch (:meth:`_SegmentDual.live`). Each phase works on the rows
    within :data:`KEEP_MARGIN` temperatures below their segment's pi or above it (the others
    weigh less than :math:`e^{-40}`); every :data:`RECHECK` evaluations all rows are looked at,
    and where one left out has come within :data:`ENTER_MARGIN` temperatures, the rows near
    their pi there join (L-BFGS-B goes on: the function changes by less than :math:`e^{-25}`
    of a row's weight; restarting it each time cost most of its progress)."""
    full = _SegmentDual(search.t, len(search.best_x.lam))
    z = full.start(search.best_x)
    at = float(search.take(full.multipliers(z))[0].sum())
    if search.target is not None and search.value > search.target:
        # start no hotter than where the smoothing adds FIRST_BIAS of what is left to the
        # plan's value: a hotter phase's minimum lies above the point already reached
        allowed = FIRST_BIAS * (search.value - search.target)
        while len(temperatures) > 1 and full.value_and_gradient(z, temperatures[0])[0] - at > allowed:
            temperatures = temperatures[1:]
    reached: float | None = None  # the coolest temperature searched at (returned)
    for phase, temperature in enumerate(temperatures):
        if search.finished():
            return reached
        phases_left = max(1, PHASES - phase)
        phase_end = perf_counter() + (search.deadline - perf_counter()) / phases_left
        phase_last = search.evaluations + max(1, (search.max_evaluations - search.evaluations) // phases_left)
        settled, reached = False, temperature
        while not settled:
            z, settled = _smooth_segments_near(search, full, z, temperature, phase_end, phase_last)
    return reached


def _smooth_segments_near(
    search: _Search, full: _SegmentDual, z: np.ndarray, temperature: float, until: float, last: int
) -> tuple[np.ndarray, bool]:
    """One run of L-BFGS-B on the rows near their segment's pi at ``z`` (see
    :func:`_smooth_segments`). Returns the point reached and whether the phase is over."""
    from scipy.optimize import Bounds, minimize

    gaps_at_start = full.gaps(z)
    kept = gaps_at_start >= -KEEP_MARGIN * temperature
    if not kept.any():
        # Every row far below its segment's pi (the last run raised them all): each segment's
        # highest rows still hold its pi (a search over no row had no tables at all).
        top = np.maximum.reduceat(gaps_at_start, full.t.seg_starts)
        kept = gaps_at_start >= np.repeat(top, np.diff(np.r_[full.t.seg_starts, len(gaps_at_start)]))
    dual = full.over(np.flatnonzero(kept))
    # L-BFGS-B's own work grows with the number of variables (it was half of knee's time at L
    # with every claim slot's nu): it moves only those the kept rows touch
    moving = full.live(np.flatnonzero(kept), z)
    held = z.copy()
    check, check_after = search.evaluations + RECHECK, 0.0
    first: list[float] = []  # the value at z, where the run starts

    def whole(part: np.ndarray) -> np.ndarray:
        at = held.copy()
        at[moving] = part
        return at

    def value(part: np.ndarray) -> tuple[float, np.ndarray]:
        search.evaluations += 1
        found, gradient = dual.value_and_gradient(whole(part), temperature)
        if not first:
            first.append(found)
        return found, gradient[moving]

    def entered(gaps: np.ndarray) -> bool:
        return bool(((gaps >= -ENTER_MARGIN * temperature) & ~kept).any())

    def stop(part: np.ndarray) -> None:
        nonlocal dual, kept, check, check_after
        if search.finished(until) or search.evaluations >= last:
            raise StopIteration
        due = search.report is not None and perf_counter() - search.reported >= REPORT_SECONDS
        if due or search.evaluations >= check:
            at = whole(part)
            gaps = full.gaps(at)
            check = search.evaluations + RECHECK
            if due or perf_counter() >= check_after:
                # R itself costs passes over every row (at L trauma's 531,649: with the look at
                # the gaps a quarter of its time when taken every RECHECK evaluations): it is
                # taken at most CHECK_SHARE of the time (and where each run ends)
                tick = perf_counter()
                search.take(full.multipliers(at, gaps))
                check_after = perf_counter() + (perf_counter() - tick) * (1.0 / CHECK_SHARE - 1.0)
            if entered(gaps):
                # the rows coming near join the function without restarting the quasi-Newton
                # method: the function changes by their weight, less than e^-25 of a row's
                kept = kept | (gaps >= -KEEP_MARGIN * temperature)
                dual = full.over(np.flatnonzero(kept))

    left = max(1, last - search.evaluations)
    found = minimize(
        value,
        z[moving],
        jac=True,
        method="L-BFGS-B",
        bounds=Bounds(full.lower_bounds()[moving], np.full(int(moving.sum()), np.inf)),
        callback=stop,
        options={"maxiter": left, "maxfun": left, "maxcor": MEMORY, "ftol": 1e-12},
    )
    reached = whole(found.x)
    gaps = full.gaps(reached)
    search.take(full.multipliers(reached, gaps))
    over = search.finished(until) or search.evaluations >= last
    # L-BFGS-B may stop early (its relative decrease test, met by a tiny step): only a run that
    # gained nothing ends the phase
    gained = first[0] - float(found.fun)
    return reached, over or (gained <= SETTLED * max(1.0, abs(float(found.fun))) and not entered(gaps))


def _tables_or_answer(data: ModelData, method: str, tick: float) -> _Tables | Bound:
    """The relaxation's tables, or the bound itself where there is nothing to search: no
    (trust, category) can join and none must (0), or one must and cannot (infeasible)."""
    if data.pairs.empty or data.tc.empty:
        return Bound(value=0.0, method=method, seconds=perf_counter() - tick)
    t = _tables(data)
    if t.infeasible:
        return Bound(value=None, method=method, seconds=perf_counter() - tick, feasible=False)
    if len(t.a) == 0:
        return Bound(value=0.0, method=method, seconds=perf_counter() - tick)
    return t


def lagrangian_bound(
    data: ModelData,
    target: float | None = None,
    seconds: float = 10.0,
    max_iterations: int = 500,
    report: Callable[[Bound], None] | None = None,
) -> Bound:
    r"""Upper bound on the full problem's net savings (GBP) by the Lagrangian relaxation above.

    Subgradient steps (:func:`_steps`) for :data:`STEP_SHARE` of the time, then the smoothed
    relaxation from the best multipliers they found (:func:`_smooth_segments`); the bound is each
    block's least value of :math:`R` over every evaluation.

    ``target``: the value of a known plan; the steps aim below it, and the search stops when
    the bound is within 1e-5 of it (it cannot go lower). Also stops after ``seconds`` or
    ``max_iterations`` evaluations of :math:`R` or :math:`R_T`. ``report``, if given,
    receives the bound so far (without its lines) about every :data:`REPORT_SECONDS`, so that
    a caller in another process always has one.
    """
    tick = perf_counter()
    t = _tables_or_answer(data, METHOD, tick)
    if isinstance(t, Bound):
        return t
    search = _Search(t, len(data.pairs), target, tick + seconds, max_iterations, report, tick)
    with threadpool_limits(limits=1):  # see ONE_BLAS_THREAD
        _steps(search, until=tick + STEP_SHARE * seconds, evaluations=int(STEP_SHARE * max_iterations))
        temperature = _smooth_segments(search, _temperatures(t))
        ranked: tuple[str, ...] = ()
        if temperature is not None:
            full = _SegmentDual(t, len(data.pairs))
            mass = full.line_mass(full.start(search.best_x), temperature)
            names = data.pairs["line"].drop_duplicates().to_numpy()  # in the order of t's lines
            ranked = tuple(names[np.argsort(-mass, kind="stable")[: int((mass > 0).sum())]])
    used = data.pairs["line"].to_numpy()[search.best_kept > 0.5]
    return Bound(
        value=search.value,
        method=METHOD,
        iterations=search.evaluations,
        seconds=perf_counter() - tick,
        lines=frozenset(used),
        ranked_lines=ranked,
    )


def _temperatures(t: _Tables) -> list[float]:
    """Temperatures of the smoothing phases: :data:`FIRST_TEMPERATURE` times the median size of
    a row's value, then each :data:`COOLING` times lower: :data:`PHASES` planned ones, and
    cooler ones (down to a millionth of the first) while time is left."""
    scale = float(np.median(np.abs(t.a))) if len(t.a) else 1.0
    first = FIRST_TEMPERATURE * max(scale, 1.0)
    return [first / COOLING**k for k in range(PHASES + 5)]


METHOD = "Lagrangian relaxation over every usable line (range and tiers priced)"
DISCARDED = "a bound below the plan was discarded (please report this)"
"""Said in a run's message when a bound came out below the plan (a bug: it is not used)."""
STEP_SHARE = 0.1
"""Share of the time (and of the evaluations) for subgradient steps before the smoothed
search (:func:`_smooth_segments`) takes over from the best multipliers they found.

Measured (session 8) one category at a time with the seconds each gets in an L run (knee 18,
hip 33, trauma 41), the other core busy with a HiGHS MILP, each from its greedy plan's value
(``/work/exp8``-style scripts): share 0.5 knee 0.322%, hip 0.122%, trauma 1.431% above their
plans; 0.25: 0.251%, 0.122%, 0.893%; 0.1: 0.274%, 0.122%, 0.567% (hip's and trauma's
relaxation optima are about 0.12% and 0.5% above their plans)."""
FIRST_TEMPERATURE = 0.05
COOLING = 10.0
PHASES = 2
"""The smoothing's temperatures: 0.05 times the median row value (about £800 at the benchmark's
scale), each next one 10 times lower; the first :data:`PHASES` share the time, cooler ones
take what is left; the hottest ones that add more than :data:`FIRST_BIAS` are skipped.

Session 7 compared (share of steps, first temperature, phases, cooling) for the search over
one multiplier per (trust, line) (whole L runs, 100 s): (0.5, 0.05, 2, 10) 0.922% and 0.967%,
(0.1, 0.2, 2, 10) 1.13% and 1.28%, smoothing alone from zero multipliers, six phases, 2.55%.
Session 8's search over one multiplier per segment, with the steps' share above."""
AIM_BELOW = 0.10
"""Polyak's steps aim this share below the known plan's value (a plan's value is below the
least bound, so steps aimed at it are short; longer ones converge faster here).

Measured from the benchmark regions' greedy plans (seed 2026, default scenario, one core,
load about 2): at L, 100 s of steps gave 167.03M aimed at greedy's value, 166.88M at 5% below,
166.78M at 10% and at 15% below; at M, 5 s gave 31,972,993 aimed at greedy and 31,972,129 at
10% below (the optimum is 31,970,096), and 30 s 31,972,963 against 31,970,319; at S the same
6,096,42x either way."""
STALL = 100
"""Steps without a better bound before a block's Polyak step is halved."""
MOMENTUM = 1.5
"""Deflection of each step towards the last (Camerini, Fratta and Maffioli's gamma).

Measured on the benchmark regions (seed 2026, default scenario, ``benchmarks/bound.py``-style
runs from the greedy plan's value, 3,000 steps): S 6,096,424 (LP 6,096,238, optimum
6,080,106), M 31,972,975 (optimum 31,970,096), L 166,817,935; with plain steps (0) and
``STALL`` 50 the same 3,000 steps gave 6,096,578, 32,055,493 and, in 1,000 steps at L,
168,933,836 against 167,719,966 deflected."""
FIRST_BIAS = 0.1
"""The smoothed search starts at the hottest of its temperatures where the smoothing adds at
most this share of the distance from the bound so far to the known plan's value (measured:
trauma at L after the steps, 1.25m above its greedy plan, the first temperature 773 added
600k and its phase made no progress in 10 s; 77 added 10k and gained 270k in as long)."""
SETTLED = 1e-9
"""A phase of the smoothed search ends (for a cooler one) when a run of L-BFGS-B gains at most
this share of the smoothed value: it sometimes stops far from the minimum (measured: trauma at
L, the phase at 77 stopped at 23.86m in one run and went on to 23.36m in another)."""
KEEP_MARGIN = 40.0
"""The smoothed search keeps the rows less than this many temperatures below their segment's
pi (a row further below weighs less than :math:`e^{-40}`)."""
ENTER_MARGIN = 25.0
"""A row left out that comes within this many temperatures of its segment's pi makes the
smoothed search choose its rows again."""
RECHECK = 25
"""Evaluations of the smoothed search between looks at every row's gap (rows coming near join)."""
CHECK_SHARE = 0.1
"""Largest share of the smoothed search's time spent taking R itself at those looks (each run's
end takes it too). Measured (session 9, alone on a core): taking R at every look was, with the
gaps, 10.7 s of trauma's 42 s at L; at most 10% of the time, trauma reached £23,358,592 and
£23,353,791 instead of £23,395,404 and £23,366,930 (its relaxation's LP £23,352,837). Looking at
the gaps only that often too was worse (£23.73m, £24.19m: rows entering unseen)."""
MEMORY = 20
"""Corrections L-BFGS-B keeps (its ``maxcor``)."""
REPORT_SECONDS = 2.0
"""How often a bound process hands its bound so far to the run (see ``report``)."""
RANKED_LINES_SENT = 200
"""Most lines of each part's ranking (:attr:`Bound.ranked_lines`) the bound process hands back."""
ONE_BLAS_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""The bound's search (and the child processes that run it) use one BLAS thread: the run's
MILP has the other core. Measured (session 8, L, 100 s, by category): with OpenBLAS's default
threads the bound process took 124% of a core and the MILP's process 76%, and the run ended
0.84% and 0.89% from its bound (the child made 2,118, 2,425 and 3,200 evaluations for knee, hip
and trauma); with one thread 0.302% (5,987, 3,242 in 22.5 s, and 9,252): both processes had
been slowed by BLAS threads spinning on the core the other needed."""
CHILD_START_SECONDS = 4.0
"""Time a bound process needs to start (a fresh interpreter importing pandas and PuLP)
and hand its answer back: it stops stepping this long before the time limit."""


FULL_LP_COLUMNS = 40_000
"""Largest model (in (trust, line, month) allocation columns, :func:`solver.screen.hull_columns`)
whose whole LP relaxation is solved beside a screened MILP (larger ones get the Lagrangian
bound, which comes as close in about the same time and hands over its bound as it goes).

Measured with HiGHS interior point, one thread, crossover off: the multi-region
instance (30 trusts, 68,391 columns; its categories 3,757 to 33,240) solves in about 11 s;
knee at L (74,288) in 42 to 55 s, where the smoothed Lagrangian was 0.0016% above the LP after
60 s and hands over its bound as it goes; the national one (about 1.5 million columns in all)
took about 50 minutes."""

LP_METHOD = "LP relaxation of the whole model (interior point)"

LP_SHARE = 0.6
"""Share of the bound process's time the whole LP may take; if it has not finished by then the
Lagrangian bound steps for the rest (at L, knee's LP, 74,288 columns, took 55 s on a busy
machine: in a run by category its third of the limit was not enough, and the bound fell
back to the in-process Lagrangian's few seconds, 2.27% above the plan)."""


RELAXATION_LP_METHOD = "LP of the Lagrangian relaxation (interior point), the relaxation's value at its duals"


def relaxation_lp_bound(data: ModelData, seconds: float = 3600.0) -> Bound:
    r"""The floor of the Lagrangian bound: the relaxation's own LP, solved by HiGHS (interior
    point, one thread, no crossover), and :math:`R` at its duals.

    The relaxation above is the Lagrangian dual of this LP (its subproblems have integral
    optima), so no multipliers give a lower :math:`R` than the LP's value: it measures how close
    :func:`lagrangian_bound`'s search came, and how much of a gap the relaxation itself leaves.
    Columns: a row's share :math:`x_r` of its segment, a claim :math:`q_c` of a tier by a row,
    the month :math:`w_{tcm}`, the line's regional use :math:`y_l` and the tier picked
    :math:`\tau_{ok}`; rows: each segment's shares sum to its month's :math:`w` (dual
    :math:`\pi`), at most one month per (trust, category) (exactly one if it must join), a pair's
    shares at most :math:`y_l` (dual :math:`\lambda`), :math:`K_g` lines per capped group, a row's
    claims at most its share, a slot's claims at most its tier's :math:`\tau` (dual :math:`\nu`),
    the volume claiming a tier at least its threshold (dual :math:`\mu`) and one tier per offer.
    The value is :math:`R(\lambda, \nu, \mu)` at the LP's duals, valid whatever their accuracy;
    None if HiGHS gave no duals in ``seconds``. Minutes at the benchmark's L (knee 38 s, hip and
    trauma 450 to 570 s): a measuring tool, not part of a run."""
    import highspy
    import scipy.sparse as sp

    tick = perf_counter()
    t = _tables_or_answer(data, RELAXATION_LP_METHOD, tick)
    if isinstance(t, Bound):
        return t
    n_pairs, n_rows, n_claims, n_months = len(data.pairs), len(t.a), len(t.claim_row), len(t.one_off)
    n_segments, n_oj, n_caps = len(t.seg_starts), len(t.oj_threshold), len(t.caps)
    dual = _SegmentDual(t, n_pairs)
    n_tc, n_offers = len(dual.tc_starts), len(t.oj_starts)
    n_row_claims = len(dual.rows_with_claims)
    # column blocks: x (rows), q (claims), w (months), y (lines), tau (offer tiers)
    cq, cw = n_rows, n_rows + n_claims
    cy = cw + n_months
    ct = cy + t.n_lines
    # row blocks: segments, (trust, category), pairs, caps, row claims, slots, volumes, offers
    rt, rp = n_segments, n_segments + n_tc
    rk = rp + n_pairs
    rc = rk + n_caps
    rj = rc + n_row_claims
    rv = rj + t.n_tgoj
    ro = rv + n_oj
    capped = np.flatnonzero(t.capped_group_of_line >= 0)
    entries = [  # (row, column, coefficient)
        (t.seg_of_row, np.arange(n_rows), 1.0),
        (np.arange(n_segments), cw + t.tcm_of_seg, -1.0),
        (rt + dual.tc_of_month, cw + np.arange(n_months), 1.0),
        (rp + t.pair_of_row, np.arange(n_rows), 1.0),
        (rp + np.arange(n_pairs), cy + t.line_of_pair, -1.0),
        (rk + t.capped_group_of_line[capped], cy + capped, 1.0),
        (rc + t.claim_segment, cq + np.arange(n_claims), 1.0),
        (rc + np.arange(n_row_claims), dual.rows_with_claims, -1.0),
        (rj + t.claim_tgoj, cq + np.arange(n_claims), 1.0),
        (rj + np.arange(t.n_tgoj), ct + t.tgoj_oj, -1.0),
        (rv + t.claim_oj, cq + np.arange(n_claims), t.claim_volume),
        (rv + np.arange(n_oj), ct + np.arange(n_oj), -dual.oj_scale),
        (ro + dual.offer_of_oj, ct + np.arange(n_oj), 1.0),
    ]
    rows = np.concatenate([np.asarray(r) for r, _, _ in entries])
    columns = np.concatenate([np.asarray(c) for _, c, _ in entries])
    values = np.concatenate([np.broadcast_to(np.asarray(v, float), np.shape(r)) for r, _, v in entries])
    n_col, n_row = ct + n_oj, ro + n_offers
    matrix = sp.csc_matrix((values, (rows, columns)), shape=(n_row, n_col))
    inf = highspy.kHighsInf
    must = t.must_join[t.tc_of_tcm[dual.tc_starts]]
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_col, n_row
    lp.col_cost_ = np.r_[t.a, t.claim_gain, -t.one_off, np.zeros(t.n_lines + n_oj)]
    lp.col_lower_ = np.zeros(n_col)
    lp.col_upper_ = np.r_[np.full(n_rows + n_claims, inf), np.ones(n_months + t.n_lines + n_oj)]
    lp.row_lower_ = np.r_[
        np.zeros(n_segments),
        np.where(must, 1.0, -inf),
        np.full(n_pairs + n_caps + n_row_claims + t.n_tgoj, -inf),
        np.zeros(n_oj),
        np.full(n_offers, -inf),
    ]
    lp.row_upper_ = np.r_[
        np.zeros(n_segments),
        np.ones(n_tc),
        np.zeros(n_pairs),
        t.caps.astype(float),
        np.zeros(n_row_claims + t.n_tgoj),
        np.full(n_oj, inf),
        np.ones(n_offers),
    ]
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = matrix.indptr, matrix.indices, matrix.data
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n_col, n_row
    highs = highspy.Highs()
    for option, value in (
        ("output_flag", False),
        ("threads", 1),
        ("time_limit", max(1.0, float(seconds))),
        ("solver", "ipm"),
        ("run_crossover", "off"),
    ):
        highs.setOptionValue(option, value)
    highs.passModel(lp)
    highs.run()
    found = np.asarray(highs.getSolution().row_dual, dtype=float)
    iterations = int(highs.getInfo().ipm_iteration_count)
    if len(found) != n_row or not np.isfinite(found).all():
        return Bound(value=None, method=f"{RELAXATION_LP_METHOD}: no duals", seconds=perf_counter() - tick)
    # maximising: a <= row's dual is >= 0, a >= row's <= 0 (the volume rows)
    at = _Multipliers(
        lam=np.maximum(0.0, found[rp : rp + n_pairs]),
        nu=np.maximum(0.0, found[rj : rj + t.n_tgoj]),
        mu=np.maximum(0.0, -found[rv : rv + n_oj]),
    )
    value = float(_evaluate(t, at)[0].sum())
    return Bound(value=value, method=RELAXATION_LP_METHOD, iterations=iterations, seconds=perf_counter() - tick)


def full_lp_bound(problem: ProblemData, seconds: float) -> Bound:
    """The LP relaxation of the whole model by interior point, without crossover.

    An interior-point optimum is exact up to the primal-dual objective error HiGHS
    reports; the bound adds that error (relative) so it stays an upper bound. ``None``
    value when the LP did not finish within ``seconds``.
    """
    import pulp

    from solver.data import prepare
    from solver.model import MONEY, build_model

    tick = perf_counter()
    m = build_model(prepare(problem))
    solver = pulp.HiGHS(
        mip=False,
        msg=False,
        timeLimit=max(1.0, seconds - (perf_counter() - tick)),
        threads=1,
        solver="ipm",
        run_crossover="off",
    )
    stats = m.prob.solve(solver)
    if stats.status != pulp.LpSolveStatus.Optimal or stats.objective is None:
        stopped = f"{LP_METHOD}: stopped without an optimum ({stats.status_str})"
        return Bound(value=None, method=stopped, seconds=perf_counter() - tick)
    highs = m.prob.solverModel
    info = highs.getInfo() if highs is not None else None
    error = max(float(getattr(info, "primal_dual_objective_error", 0.0) or 0.0), 1e-9)
    value = stats.objective / MONEY
    return Bound(value=value + error * (1.0 + 2.0 * abs(value)), method=LP_METHOD, seconds=perf_counter() - tick)


def _worker(problem: ProblemData, seconds: float, target: float | None, whole_lp: bool, queue) -> None:
    """The bound process: ``("interim", Bound)`` messages as the bound improves, then
    ``("final", Bound)`` (a Bound without a value if it failed)."""
    try:
        tick = perf_counter()
        found = full_lp_bound(problem, LP_SHARE * seconds) if whole_lp else None
        if found is None or found.value is None:  # no LP asked for, or not finished in its share
            from solver.data import prepare

            data = prepare(problem)
            left = seconds - (perf_counter() - tick)

            def interim(bound: Bound) -> None:
                queue.put(("interim", bound))

            found = lagrangian_bound(data, target=target, seconds=left, max_iterations=1_000_000, report=interim)
            found.lines = frozenset()  # the run takes its candidate lines from its own bound
        queue.put(("final", found))
    except Exception as exc:  # the bound is optional: a failure only loses it
        queue.put(("final", Bound(value=None, method=f"bound failed: {type(exc).__name__}: {exc}")))


class _Child:
    """A child process that hands messages back through a queue (:class:`BoundProcess`,
    :class:`CategoryBounds`): started by ``spawn``, read by ``_take``, stopped by ``_finish``."""

    def __init__(self, process, queue) -> None:
        self.process, self.queue = process, queue
        self.done = False

    def _take(self, *message) -> None:
        raise NotImplementedError

    def _drain(self) -> None:
        """Take every message the child has sent so far (never waits)."""
        from queue import Empty

        while not self.done:
            try:
                self._take(*self.queue.get_nowait())
            except Empty:
                break

    @classmethod
    def _spawn(cls, target: Callable, args: tuple):
        """``cls`` around a new process running ``target(*args, queue)``, or None if none can start."""
        import multiprocessing as mp
        import os

        held = {name: os.environ.get(name) for name in ONE_BLAS_THREAD}
        try:
            ctx = mp.get_context("spawn")
            queue = ctx.Queue()
            process = ctx.Process(target=target, args=(*args, queue), daemon=True)
            os.environ.update(ONE_BLAS_THREAD)  # the child starts with one BLAS thread
            process.start()
        except (OSError, RuntimeError, AssertionError):  # e.g. daemonic callers may not start children
            return None
        finally:
            for name, value in held.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        return cls(process, queue)

    def _finish(self, deadline: float) -> None:
        """Read messages until the child says it is done or ``deadline`` (``perf_counter`` time)
        passes, then stop it."""
        from queue import Empty

        while not self.done:
            try:
                self._take(*self.queue.get(timeout=max(0.1, deadline - perf_counter())))
            except Empty:
                break
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(timeout=5)


class BoundProcess(_Child):
    """A bound for the whole problem computed in a child process while the MILP runs here.

    With two cores the MILP (one HiGHS thread) keeps this process's core and the bound
    gets the other: the whole LP relaxation by interior point when the model is small
    enough (:data:`FULL_LP_COLUMNS`), else the Lagrangian bound, searching for the whole
    time limit and handing over its bound so far every :data:`REPORT_SECONDS`: a child
    slowed down by a busy machine still leaves the run its latest bound."""

    def __init__(self, process, queue) -> None:
        super().__init__(process, queue)
        self.best: Bound | None = None

    def _take(self, kind: str, bound: Bound) -> None:
        self.done = self.done or kind == "final"
        if bound.value is not None and (self.best is None or bound.value < self.best.value):  # type: ignore[operator]
            self.best = bound

    def poll(self) -> Bound | None:
        """The least bound the child has handed over so far (never waits)."""
        self._drain()
        return self.best

    @classmethod
    def start(
        cls, problem: ProblemData, seconds: float, *, whole_lp: bool, target: float | None
    ) -> BoundProcess | None:
        return cls._spawn(_worker, (problem, seconds, target, whole_lp))

    def result(self, deadline: float) -> Bound | None:
        """The child's least bound: its final one if it comes by ``deadline`` (``perf_counter``
        time), else the last it handed over; None if it gave none."""
        self.poll()
        self._finish(deadline)
        return self.best


def _category_worker(parts: list[tuple[str, ProblemData, float | None, float]], queue) -> None:
    """The bound process of a problem solved by category: each part's Lagrangian bound in turn,
    for its allotted seconds and what the parts before it left, as ``(kind, category, Bound)``
    messages (kind "interim" as it improves, "final" when the part is done; a Bound without a
    value if it failed)."""
    from solver.data import prepare

    end = perf_counter()
    for category, problem, target, seconds in parts:
        end += seconds  # a part that finishes early leaves its time to the next
        seconds = max(1.0, end - perf_counter())
        try:

            def interim(bound: Bound, category: str = category) -> None:
                queue.put(("interim", category, bound))

            found = lagrangian_bound(
                prepare(problem), target=target, seconds=seconds, max_iterations=1_000_000, report=interim
            )
            found.lines = frozenset()
            found.ranked_lines = found.ranked_lines[:RANKED_LINES_SENT]
        except Exception as exc:  # the bound is optional: a failure only loses it
            found = Bound(value=None, method=f"bound failed: {type(exc).__name__}: {exc}")
        queue.put(("final", category, found))
    queue.put(("done", "", None))


class CategoryBounds(_Child):
    """Bounds for the parts of a problem solved by category, computed one part after another
    in a child process on the other core while the parts' MILPs run here, on a schedule of
    its own (:func:`solver.decompose.bound_weights`): a part whose MILP is quick may still
    need a long search for its bound, and the other way round."""

    def __init__(self, process, queue) -> None:
        super().__init__(process, queue)
        self.best: dict[str, Bound] = {}
        self.final: dict[str, Bound] = {}

    def _take(self, kind: str, category: str, bound: Bound | None) -> None:
        self.done = self.done or kind == "done"
        if bound is None or bound.value is None:
            return
        if kind == "final":
            self.final[category] = bound
        held = self.best.get(category)
        if held is None or bound.value < held.value:  # type: ignore[operator]
            self.best[category] = bound

    @classmethod
    def start(cls, parts: list[tuple[str, ProblemData, float | None, float]]) -> CategoryBounds | None:
        return cls._spawn(_category_worker, (parts,))

    def finished(self, category: str) -> Bound | None:
        """The part's final bound if the child is done with it (never waits)."""
        self._drain()
        return self.final.get(category)

    def result(self, deadline: float) -> dict[str, Bound]:
        """Each part's least bound: the final ones that come by ``deadline`` (``perf_counter``
        time), else the last each handed over."""
        self._finish(deadline)
        return self.best
