"""Commercial terms: each trust's current contracts and suppliers' volume tier offers.

Part of the generator (``generator._Generator``): writes ``contracts.csv`` (one contract
per trust, supplier and category in use) and ``tiers.csv`` (all-units discount schedules
whose thresholds are fractions of the region's current volume). Draws from ``r_terms``.
"""

from datetime import timedelta

import numpy as np
import pandas as pd

from procurement.demo.data import CATEGORIES, GROUPS
from procurement.demo.helpers import add_months, nice
from procurement.demo.state import GeneratorState


class CommercialTerms(GeneratorState):
    def _contract_spend(self, used: pd.DataFrame) -> np.ndarray:
        """Annual spend (GBP) of each (trust, supplier, category) row of ``used``, from the usage drawn."""
        long, sku = self.usage_long, self.sku
        spend = pd.DataFrame(
            {
                "trust": long["trust"].to_numpy(),
                "supplier": sku["supplier"].to_numpy()[long["sku"]],
                "category": sku["category"].to_numpy()[long["sku"]],
                "spend": (long["qty"] * long["price"]).to_numpy() * 12.0 / self.size.months,
            }
        )
        annual = spend.groupby(["trust", "supplier", "category"])["spend"].sum()
        keys = pd.MultiIndex.from_frame(used[["trust", "supplier", "category"]])
        return annual.reindex(keys).fillna(0.0).to_numpy()

    def _contracts(self) -> None:
        """One contract per trust, supplier and category in use, with terms like real ones.

        PARAMETERS.md: trust contracts are staggered, ending from three months before the
        start to 30 months after it (a few already ended and bridged; the last ones end
        before the last join month even for a start a quarter later, so a contract that
        cannot end early never makes "every trust joins" infeasible); notice 3 to 6
        months; extensions of 0, 6 or 12 months; about a third cannot be ended early; the
        others carry an exit fee, half as a fixed sum (10-35% of the contract's annual
        spend, at least £5,000: tens to hundreds of thousands at a large trust) and half
        as a share (10-30%) of the remaining value, a clawback of the discount received.
        """
        rng = self.r_terms
        used = self.trust_lines[["trust", "supplier", "category"]].drop_duplicates()
        used = used.assign(cat_order=used["category"].map({c: i for i, c in enumerate(CATEGORIES)}))
        used = used.sort_values(["trust", "cat_order", "supplier"]).reset_index(drop=True)
        n = len(used)
        spend = self._contract_spend(used)
        end_offset = rng.integers(-3, 31, n)
        years = rng.integers(2, 5, n)
        notice = rng.integers(3, 7, n)
        no_exit = rng.random(n) < 1 / 3
        as_share = rng.random(n) < 0.5
        fixed = np.maximum(np.round(rng.uniform(0.10, 0.35, n) * spend, -3), 5000.0)
        share = rng.choice([10, 15, 20, 25, 30], size=n)
        ext = rng.choice([0, 6, 12], size=n, p=[0.3, 0.35, 0.35])
        uplift = np.where(ext > 0, rng.choice([0.0, 2.0, 2.5, 3.0, 4.0, 5.0], size=n), 0.0)
        month1 = self.start.replace(day=1)
        ends = [add_months(month1, int(k)) - timedelta(days=1) for k in end_offset]
        starts = [add_months(e + timedelta(days=1), -12 * int(y)) for e, y in zip(ends, years, strict=True)]
        ended = np.array(ends) < self.start
        fee = np.where(no_exit | as_share | ended, 0.0, fixed)
        fee_pct = np.where(no_exit | ~as_share | ended, 0, share)
        trust = [self.trust_codes[t] for t in used["trust"]]
        sup = self.sup["code"].to_numpy()[used["supplier"]]
        frame = pd.DataFrame(
            {
                "trust": trust,
                "supplier": sup,
                "category": used["category"],
                "reference": [
                    f"{t}/{c.upper()}/{s}/{st.year}"
                    for t, c, s, st in zip(trust, used["category"], sup, starts, strict=True)
                ],
                "start": [d.isoformat() for d in starts],
                "end": [d.isoformat() for d in ends],
                "notice_months": notice,
                "early_exit": np.where(no_exit, "no", "yes"),
                "exit_fee": [f"{x:.0f}" for x in fee],
                "exit_fee_pct": [f"{x:g}" for x in fee_pct],
                "extension_months": ext,
                "extension_uplift_pct": [f"{x:g}" for x in uplift],
            }
        )
        self._csv(frame, "contracts.csv")
        self.manifest["contracts"] = len(frame)

    def _tiers(self) -> None:
        rng, sku, long = self.r_terms, self.sku, self.usage_long
        factor = 12.0 / self.size.months
        units = long["qty"].to_numpy() * factor
        spend = units * sku["unit_price"].to_numpy()[long["sku"]]
        grp = sku["group"].to_numpy()[long["sku"]]
        cat = sku["category"].to_numpy()[long["sku"]]
        volume = {}
        for basis, values in (("units", units), ("spend", spend)):
            for keys in (grp, cat):
                volume.update({(k, basis): v for k, v in pd.Series(values).groupby(keys).sum().items()})
        schedules = (
            ((0.10, 0.25, 0.50, 0.75), (3, 6, 10, 15)),
            ((0.15, 0.40, 0.70), (2, 5, 10)),
            ((0.10, 0.30, 0.60), (5, 8, 12)),
        )
        rows = []
        for s, code in enumerate(self.sup["code"]):
            if s > 0 and rng.random() > 0.85:
                continue
            mine = sku[sku["supplier"] == s]
            scopes = [c for c in CATEGORIES if c in set(mine["category"])] + [
                g.code for g in GROUPS if g.code in set(mine["group"])
            ]
            if not scopes:
                continue
            made = set()
            for _ in range(int(rng.choice([1, 2], p=[0.6, 0.4]))):
                cats = [x for x in scopes if x in CATEGORIES]
                pool = cats if (cats and rng.random() < 0.6) else scopes
                scope = pool[int(rng.integers(len(pool)))]
                basis = "units" if rng.random() < 0.5 else "spend"
                if (scope, basis) in made or volume.get((scope, basis), 0) <= 0:
                    continue
                made.add((scope, basis))
                fracs, discounts = schedules[int(rng.integers(len(schedules)))]
                total = volume[(scope, basis)]
                previous = 0.0
                offer = f"{code}-{scope.upper()}-{'U' if basis == 'units' else 'S'}"
                for frac, disc in zip(fracs, discounts, strict=True):
                    threshold = max(nice(frac * total), 1.0)
                    if basis == "units":
                        threshold = float(max(1, round(threshold)))
                    if threshold <= previous:
                        threshold = previous + (1 if basis == "units" else 1000)
                    previous = threshold
                    rows.append(
                        {
                            "supplier": code,
                            "offer": offer,
                            "scope": scope,
                            "basis": basis,
                            "threshold": f"{threshold:.0f}",
                            "discount_pct": disc,
                        }
                    )
        self._csv(
            pd.DataFrame(rows, columns=["supplier", "offer", "scope", "basis", "threshold", "discount_pct"]),
            "tiers.csv",
        )
        self.manifest["tiers"] = len(rows)
