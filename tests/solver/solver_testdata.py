"""Problem instances for the solver tests: a small hand-made region and a generator.

Imported by ``conftest.py`` and the tests (pytest puts this folder on ``sys.path``);
the unusual module name keeps it from clashing with helpers of other test folders.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from solver.problem import ProblemData, Settings


def small_frames() -> dict[str, pd.DataFrame]:
    """Two trusts, two categories (hip: two groups; knee: one group), three suppliers."""
    lines = pd.DataFrame(
        [
            ("SUP-A:HIP-STEM-CEM:Corvex", "SUP-A", "HIP-STEM-CEM", 100.0),
            ("SUP-B:HIP-STEM-CEM:Exeter", "SUP-B", "HIP-STEM-CEM", 110.0),
            ("SUP-C:HIP-STEM-CEM:Taper", "SUP-C", "HIP-STEM-CEM", 95.0),
            ("SUP-A:HIP-CUP:Cupola", "SUP-A", "HIP-CUP", 200.0),
            ("SUP-B:HIP-CUP:Trident", "SUP-B", "HIP-CUP", 190.0),
            ("SUP-A:KNEE-TRAY:Genu", "SUP-A", "KNEE-TRAY", 300.0),
            ("SUP-B:KNEE-TRAY:Patella", "SUP-B", "KNEE-TRAY", 320.0),
        ],
        columns=["line", "supplier", "group", "regional_price"],
    )
    current = pd.DataFrame(
        [
            ("RXA", "SUP-B:HIP-STEM-CEM:Exeter", 100.0, 120.0),
            ("RXA", "SUP-B:HIP-CUP:Trident", 100.0, 210.0),
            ("RXA", "SUP-A:KNEE-TRAY:Genu", 80.0, 330.0),
            ("RXB", "SUP-A:HIP-STEM-CEM:Corvex", 40.0, 105.0),
            ("RXB", "SUP-B:HIP-STEM-CEM:Exeter", 20.0, 125.0),
            ("RXB", "SUP-A:HIP-CUP:Cupola", 60.0, 215.0),
            ("RXB", "SUP-B:KNEE-TRAY:Patella", 50.0, 340.0),
        ],
        columns=["trust", "line", "units", "unit_price"],
    )
    cand = pd.MultiIndex.from_product([["RXA", "RXB"], lines["line"]]).to_frame(index=False, name=["trust", "line"])
    cand["approved"] = ~((cand["trust"] == "RXA") & cand["line"].str.endswith("Taper"))
    cand["odep_ok"] = True
    today = cand.merge(current[["trust", "line"]].assign(today=True), how="left")["today"]
    cand["switch_cost"] = np.where(today.notna().to_numpy(), 0.0, 2000.0)
    return {
        "trusts": pd.DataFrame({"trust": ["RXA", "RXB"]}),
        "groups": pd.DataFrame(
            {
                "group": ["HIP-STEM-CEM", "HIP-CUP", "KNEE-TRAY"],
                "category": ["hip", "hip", "knee"],
            }
        ),
        "lines": lines,
        "demand": pd.DataFrame(
            [
                ("RXA", "HIP-STEM-CEM", 100.0),
                ("RXA", "HIP-CUP", 100.0),
                ("RXA", "KNEE-TRAY", 80.0),
                ("RXB", "HIP-STEM-CEM", 60.0),
                ("RXB", "HIP-CUP", 60.0),
                ("RXB", "KNEE-TRAY", 50.0),
            ],
            columns=["trust", "group", "units"],
        ),
        "current": current,
        "candidates": cand,
        "offers": pd.DataFrame(
            [("SUP-A/hip-vol", "SUP-A", "units"), ("SUP-B/knee-vol", "SUP-B", "spend")],
            columns=["offer", "supplier", "basis"],
        ),
        "offer_lines": pd.DataFrame(
            [
                ("SUP-A/hip-vol", "SUP-A:HIP-STEM-CEM:Corvex"),
                ("SUP-A/hip-vol", "SUP-A:HIP-CUP:Cupola"),
                ("SUP-B/knee-vol", "SUP-B:KNEE-TRAY:Patella"),
            ],
            columns=["offer", "line"],
        ),
        "tiers": pd.DataFrame(
            [
                ("SUP-A/hip-vol", 150.0, 0.05),
                ("SUP-A/hip-vol", 250.0, 0.08),
                ("SUP-B/knee-vol", 20000.0, 0.04),
            ],
            columns=["offer", "threshold", "discount"],
        ),
        "contracts": pd.DataFrame(
            [("RXA", "hip", 6, 3000.0, 0.05), ("RXB", "knee", -3, 0.0, 0.10)],
            columns=["trust", "category", "end_month", "exit_fee", "extension_uplift"],
        ),
    }


def make_problem(frames: dict[str, pd.DataFrame], **settings: object) -> ProblemData:
    return ProblemData(**frames, settings=Settings(**settings))


def region_problem(
    seed: int = 0,
    n_trusts: int = 6,
    n_groups: int = 20,
    n_lines: int = 150,
    n_suppliers: int = 8,
    n_offers: int = 8,
    **settings: object,
) -> ProblemData:
    """A region-sized synthetic instance (defaults: 6 trusts, 20 groups, 150 lines).

    Three categories (hip, knee, trauma); every trust has demand in every group and
    buys one to three lines today at 90-130 % of the regional price; about 80 % of
    (trust, line) pairs are approved and 90 % of hip and knee lines meet the ODEP
    floor; tiers (two or three, 3-12 % off) on ``n_offers`` supplier-category
    offers, on units or spend; contracts end between month -6 and 30.
    """
    rng = np.random.default_rng(seed)
    trusts = [f"R{i:02d}" for i in range(n_trusts)]
    cats = ["hip", "knee", "trauma"]
    groups = pd.DataFrame(
        {
            "group": [f"{cats[i % 3].upper()}-G{i:02d}" for i in range(n_groups)],
            "category": [cats[i % 3] for i in range(n_groups)],
        }
    )
    suppliers = [f"SUP-{chr(65 + i)}" for i in range(n_suppliers)]
    line_group = np.r_[np.arange(n_groups), rng.integers(0, n_groups, n_lines - n_groups)]
    line_group.sort()
    per_group_price = rng.uniform(80, 2500, n_groups)
    lines = pd.DataFrame(
        {
            "supplier": rng.choice(suppliers, n_lines),
            "group": groups["group"].to_numpy()[line_group],
            "regional_price": np.round(per_group_price[line_group] * rng.uniform(0.8, 1.25, n_lines), 2),
        }
    )
    lines["line"] = lines["supplier"] + ":" + lines["group"] + ":L" + lines.index.astype(str)
    lines = lines[["line", "supplier", "group", "regional_price"]]
    demand = pd.MultiIndex.from_product([trusts, groups["group"]]).to_frame(index=False, name=["trust", "group"])
    demand["units"] = np.round(rng.uniform(40, 600, len(demand)))

    cand = pd.MultiIndex.from_product([trusts, lines["line"]]).to_frame(index=False, name=["trust", "line"])
    cand = cand.merge(lines, on="line").merge(groups, on="group")
    cand["approved"] = rng.random(len(cand)) < 0.8
    rated = cand["category"].isin(["hip", "knee"])
    cand["odep_ok"] = ~rated | (rng.random(len(cand)) < 0.9)
    # today: one to three approved lines per (trust, group)
    cand["r"] = rng.random(len(cand))
    cand = cand.sort_values(["trust", "group", "r"]).reset_index(drop=True)
    rank = cand.groupby(["trust", "group"]).cumcount()
    tg_count = demand.assign(n_today=rng.integers(1, 4, len(demand)))
    n_today = cand[["trust", "group"]].merge(tg_count, on=["trust", "group"], how="left")["n_today"].to_numpy()
    today = cand[rank < n_today].copy()
    cand.loc[rank < n_today, "approved"] = True
    today = today.merge(demand, on=["trust", "group"])
    share = rng.dirichlet(np.ones(3), len(today))[:, 0] + 0.1
    today["w"] = share
    today["units"] = today["units"] * today["w"] / today.groupby(["trust", "group"])["w"].transform("sum")
    today["unit_price"] = np.round(today["regional_price"] * rng.uniform(0.9, 1.3, len(today)), 2)
    current = today[["trust", "line", "units", "unit_price"]]
    used = cand.merge(current[["trust", "line"]].assign(today=True), how="left")["today"]
    cand["switch_cost"] = np.where(used.notna().to_numpy(), 0.0, np.round(rng.uniform(1000, 15000, len(cand)), -2))
    # make sure every (trust, group) has a usable line
    cand["usable"] = cand["approved"] & cand["odep_ok"]
    none_usable = ~cand.groupby(["trust", "group"])["usable"].transform("any")
    first = cand.groupby(["trust", "group"]).cumcount() == 0
    cand.loc[none_usable & first, "odep_ok"] = True
    candidates = cand[["trust", "line", "approved", "odep_ok", "switch_cost"]]

    # offers: the suppliers with the most lines in a category
    lc = lines.merge(groups, on="group")
    top = lc.groupby(["supplier", "category"]).size().sort_values(ascending=False)
    top = top.head(n_offers).reset_index()[["supplier", "category"]]
    offers = top.assign(
        offer=top["supplier"] + "/" + top["category"] + "-vol",
        basis=np.where(rng.random(len(top)) < 0.5, "units", "spend"),
    )
    offer_lines = lc.merge(offers, on=["supplier", "category"])[["offer", "line"]]
    dem_g = demand.groupby("group")["units"].sum()
    tier_rows = []
    for offer, basis, sup, cat in offers[["offer", "basis", "supplier", "category"]].itertuples(index=False):
        ol = lc[(lc["supplier"] == sup) & (lc["category"] == cat)]
        potential = float(
            (dem_g.reindex(ol["group"].unique()).sum()) * (1.0 if basis == "units" else ol["regional_price"].mean())
        )
        n_t = int(rng.integers(2, 4))
        fractions = np.sort(rng.uniform(0.1, 0.7, n_t))
        discounts = np.sort(rng.uniform(0.03, 0.12, n_t))
        for f, d in zip(fractions, discounts, strict=True):
            tier_rows.append((offer, round(potential * f), round(float(d), 3)))
    tiers = pd.DataFrame(tier_rows, columns=["offer", "threshold", "discount"])
    tiers = tiers.drop_duplicates(["offer", "threshold"])

    contracts = pd.MultiIndex.from_product([trusts, cats]).to_frame(index=False, name=["trust", "category"])
    contracts["end_month"] = rng.integers(-6, 31, len(contracts))
    contracts["exit_fee"] = np.round(rng.uniform(5_000, 80_000, len(contracts)), -2)
    contracts["extension_uplift"] = np.round(rng.uniform(0.0, 0.06, len(contracts)), 3)
    defaults = {
        "min_suppliers": 2,
        "max_supplier_share": 0.7,
        "year_one_cap": 0.6,
    }
    defaults.update(settings)
    return ProblemData(
        trusts=pd.DataFrame({"trust": trusts}),
        groups=groups,
        lines=lines,
        demand=demand,
        current=current,
        candidates=candidates,
        offers=offers[["offer", "supplier", "basis"]],
        offer_lines=offer_lines,
        tiers=tiers,
        contracts=contracts,
        settings=Settings(**defaults),
    )


def with_switching(problem: ProblemData, seed: int = 0, share: float = 0.6) -> ProblemData:
    """``problem`` with switching costs as data, the way the importer will give them.

    For about ``share`` of the (trust, supplier, category) systems a trust does not
    hold today: an instruments cost (10k-50k) and, for half of them, training on top
    (2k-8k); one system per trust is lent free (a zero instruments row); a few
    line-level extras (consignment, 500-3,000) on new lines. The fallback
    ``switch_cost`` is kept only on lines of systems without rows, as a caller puts
    the scenario default where no row applies.
    """
    rng = np.random.default_rng(seed)
    lines = problem.lines.merge(problem.groups, on="group")
    systems = pd.MultiIndex.from_product(
        [problem.trusts["trust"], lines[["supplier", "category"]].drop_duplicates().itertuples(index=False)]
    ).to_frame(index=False, name=["trust", "system"])
    systems[["supplier", "category"]] = pd.DataFrame(systems["system"].tolist(), index=systems.index)
    held = problem.current[problem.current["units"] > 0].merge(lines, on="line")[["trust", "supplier", "category"]]
    systems = systems.merge(held.drop_duplicates().assign(held=True), how="left")
    systems = systems[systems["held"].isna() & (rng.random(len(systems)) < share)].reset_index(drop=True)
    free = ~systems.duplicated("trust")
    instruments = systems.assign(
        line=None, kind="instruments", cost=np.where(free, 0.0, np.round(rng.uniform(10_000, 50_000, len(systems)), -2))
    )
    trained = systems[rng.random(len(systems)) < 0.5]
    training = trained.assign(line=None, kind="training", cost=np.round(rng.uniform(2_000, 8_000, len(trained)), -2))
    cand = problem.candidates.merge(lines, on="line")
    today = problem.current[problem.current["units"] > 0][["trust", "line"]].assign(today=True)
    new = cand.merge(today, how="left")
    new = new[new["today"].isna()]
    extra = new[rng.random(len(new)) < 0.1]
    extras = extra.assign(kind="consignment", cost=np.round(rng.uniform(500, 3_000, len(extra)), -2))
    cols = ["trust", "supplier", "category", "line", "kind", "cost"]
    switching = pd.concat([instruments[cols], training[cols], extras[cols]], ignore_index=True)
    covered = pd.MultiIndex.from_frame(systems[["trust", "supplier", "category"]])
    in_rows = pd.MultiIndex.from_frame(cand[["trust", "supplier", "category"]]).isin(covered)
    candidates = problem.candidates.copy()
    candidates.loc[in_rows, "switch_cost"] = 0.0
    return dataclasses.replace(problem, candidates=candidates, switching=switching)
