"""Twelve months (``size.months``) of each trust's purchases, in four export layouts.

Part of the generator (``generator._Generator``): chooses the product lines each trust
uses (``trust_lines``), draws monthly quantities as Poisson counts around each trust's
case volumes with seasonality, prices them with the trust's own premium and mid-year
uplifts (``usage_long``), adds a few rows naming items in no catalogue, and writes
``usage/<TRUST>.csv``. Draws from ``r_trusts`` and ``r_usage``.
"""

import calendar

import numpy as np
import pandas as pd

from procurement.demo.data import CATEGORIES, GROUPS, OPTIONAL_GROUPS, USAGE_LAYOUTS
from procurement.demo.helpers import add_months, money
from procurement.demo.region import UsageFile
from procurement.demo.state import GeneratorState


class Usage(GeneratorState):
    def _trust_cases(self) -> dict[str, np.ndarray]:
        rng, n = self.r_trusts, self.size.trusts
        hips = rng.triangular(250, 380, 900, n)
        knees = np.clip(hips * rng.uniform(0.9, 1.3, n), 250, 1000)
        fractures = rng.uniform(80, 150, n)
        hemis = rng.uniform(150, 250, n)
        plates = rng.uniform(150, 400, n)
        cem_stem, shell, cer_liner, cer_head = (
            rng.uniform(a, b, n) for a, b in ((0.25, 0.6), (0.5, 0.8), (0.1, 0.3), (0.4, 0.7))
        )
        ps, patella = rng.uniform(0.2, 0.5, n), rng.uniform(0.15, 0.45, n)
        self.trust_mult = rng.uniform(0.88, 1.28, n)
        return {
            "HIP-STEM-UNC": hips * (1 - cem_stem),
            "HIP-STEM-CEM": hips * cem_stem,
            "HIP-SHELL-UNC": hips * shell,
            "HIP-CUP-CEM": hips * (1 - shell),
            "HIP-LINER-PE": hips * shell * (1 - cer_liner),
            "HIP-LINER-CER": hips * shell * cer_liner,
            "HIP-HEAD-CER": hips * cer_head,
            "HIP-HEAD-MET": hips * (1 - cer_head),
            "KNEE-FEM-PS": knees * ps,
            "KNEE-FEM-CR": knees * (1 - ps),
            "KNEE-TRAY": knees,
            "KNEE-INSERT-PS": knees * ps,
            "KNEE-INSERT-CR": knees * (1 - ps),
            "KNEE-PATELLA": knees * patella,
            "TRAUMA-SHS": 0.74 * fractures,
            "TRAUMA-NAIL-PF-SHORT": 0.13 * fractures,
            "TRAUMA-NAIL-PF-LONG": 0.13 * fractures,
            "TRAUMA-HEMI": hemis,
            "TRAUMA-PLATE-LOCK": plates,
            "TRAUMA-SCREW-CORT": 6 * plates + 3 * 0.74 * fractures + 2 * 0.26 * fractures,
        }

    def _choose_lines(self) -> pd.DataFrame:
        """Which product lines each trust uses in each group, and how many cases a year."""
        rng = self.r_usage
        cases = self._trust_cases()
        line_sup = np.array([ln.supplier for ln in self.lines])
        valid_lines = set(self.sku.loc[self.sku["valid"], "line"].tolist())
        by_group: dict[int, list[int]] = {}
        for i, ln in enumerate(self.lines):
            if i in valid_lines:
                by_group.setdefault(ln.group, []).append(i)
        weight = self.sup["weight"].to_numpy()
        active: dict[str, list[int]] = {
            c: sorted({int(line_sup[i]) for g, ls in by_group.items() if GROUPS[g].category == c for i in ls})
            for c in CATEGORIES
        }
        records = []
        for t in range(self.size.trusts):
            incumbents = {}
            for cat, sups in active.items():
                if not sups:
                    continue
                k = min(len(sups), int(rng.integers(2, 4 if cat != "trauma" else 5)))
                w = weight[sups]
                incumbents[cat] = {int(x) for x in rng.choice(sups, size=k, replace=False, p=w / w.sum())}
            brands_used: dict[str, set[tuple[int, str]]] = {}
            for g_idx, group in enumerate(GROUPS):
                cand = by_group.get(g_idx)
                if not cand or (group.code in OPTIONAL_GROUPS and rng.random() < 0.1):
                    continue
                fam = brands_used.setdefault(group.family, set())
                inc = incumbents.get(group.category, set())
                w = np.array(
                    [
                        weight[line_sup[i]]
                        * (6.0 if line_sup[i] in inc else 0.3)
                        * (25.0 if (int(line_sup[i]), self.lines[i].brand) in fam else 1.0)
                        for i in cand
                    ]
                )
                k = min(len(cand), int(rng.choice([1, 2, 3], p=[0.45, 0.4, 0.15])))
                chosen = rng.choice(cand, size=k, replace=False, p=w / w.sum())
                shares = np.sort(rng.dirichlet([4.0, 1.6, 0.8][:k]))[::-1]
                for line_id, share in zip(chosen, shares, strict=True):
                    records.append((t, int(line_id), float(cases[group.code][t] * share)))
                    fam.add((int(line_sup[line_id]), self.lines[int(line_id)].brand))
        rec = pd.DataFrame(records, columns=["trust", "line", "cases"])
        n = len(rec)
        mult = np.clip(self.trust_mult[rec["trust"]] * np.exp(rng.normal(0, 0.05, n)), 0.85, 1.35)
        outlier = rng.random(n) < 0.01
        rec["mult"] = np.where(outlier, rng.uniform(2.2, 2.9, n), mult)
        rec["uplift"] = np.where(rng.random(n) < 0.25, rng.uniform(0.02, 0.04, n), 0.0)
        rec["uplift_from"] = rng.integers(3, max(4, self.size.months), n)
        rec["supplier"] = line_sup[rec["line"]]
        rec["category"] = [GROUPS[self.lines[i].group].category for i in rec["line"]]
        return rec

    def _usage(self) -> list[UsageFile]:
        rng, sku, months = self.r_usage, self.sku, self.size.months
        rec = self._choose_lines()
        self.trust_lines = rec
        good = sku[sku["valid"] & (sku["w"] > 0)]
        cells = rec.reset_index(names="rec").merge(
            good[["line", "w", "pack", "unit_price"]].reset_index(names="sku"), on="line"
        )
        first = add_months(self.start.replace(day=1), -months)
        periods = [add_months(first, m) for m in range(months)]
        cal = np.array([p.month for p in periods])
        elective = np.where(np.isin(cal, [8, 12]), 0.85, 1.03)
        trauma = 1 + 0.12 * np.cos(2 * np.pi * (cal - 1) / 12)
        season = np.where((cells["category"] == "trauma").to_numpy()[:, None], trauma[None, :], elective[None, :])
        lam = (cells["cases"] * cells["w"]).to_numpy()[:, None] / 12.0 * season
        pack = cells["pack"].to_numpy()
        qty = rng.poisson(lam / pack[:, None]) * pack[:, None]
        ci, mi = np.nonzero(qty)
        price = cells["unit_price"].to_numpy()[ci] * cells["mult"].to_numpy()[ci]
        price *= 1 + cells["uplift"].to_numpy()[ci] * (mi >= cells["uplift_from"].to_numpy()[ci])
        long = pd.DataFrame(
            {
                "trust": cells["trust"].to_numpy()[ci],
                "sku": cells["sku"].to_numpy()[ci],
                "month": mi,
                "day": rng.integers(1, 29, len(ci)),
                "qty": qty[ci, mi],
                "price": np.round(price, 2),
                "unknown": False,
            }
        )
        self.usage_long = long
        # A handful of rows whose item is in no catalogue (old codes, an unlisted GTIN).
        n_unknown = max(3, self.size.trusts // 2)
        unknown = []
        codes = set(sku["supplier_code"])
        layouts = list(USAGE_LAYOUTS)
        for t in sorted(int(x) for x in rng.choice(self.size.trusts, size=n_unknown, replace=True)):
            mine = np.flatnonzero(long["trust"].to_numpy() == t)
            if not len(mine):
                continue
            src = long.iloc[int(rng.choice(mine))]
            i = int(src["sku"])
            layout = layouts[t % len(layouts)]
            if USAGE_LAYOUTS[layout].item.startswith("gtin"):
                value = self._spare_gtin(int(sku.at[i, "supplier"]))
            else:
                line = self.lines[int(sku.at[i, "line"])]
                token = sku.at[i, "supplier_code"].split("-")[1]
                value = f"{line.abr}-{token}-X{int(rng.integers(100, 1000))}"
                while value in codes:
                    value += "0"
            codes.add(value)
            unknown.append(
                {
                    "trust": t,
                    "sku": i,
                    "month": int(src["month"]),
                    "day": int(src["day"]),
                    "qty": int(src["qty"]),
                    "price": float(src["price"]),
                    "unknown": True,
                    "code": value,
                }
            )
        unk = pd.DataFrame(unknown)
        allrows = pd.concat([long.assign(code=""), unk], ignore_index=True) if len(unk) else long.assign(code="")
        sup_codes = self.sup["code"].to_numpy()
        allrows["supplier_code"] = sku["supplier_code"].to_numpy()[allrows["sku"]]
        allrows["supplier"] = sup_codes[sku["supplier"].to_numpy()[allrows["sku"]]]
        allrows["gtin"] = sku["gtin"].to_numpy()[allrows["sku"]]
        allrows["description"] = sku["description"].to_numpy()[allrows["sku"]]
        is_unk = allrows["unknown"].to_numpy()
        allrows.loc[is_unk, "supplier_code"] = allrows.loc[is_unk, "code"]
        allrows.loc[is_unk, "gtin"] = allrows.loc[is_unk, "code"]
        by_day = np.array([USAGE_LAYOUTS[layouts[t % len(layouts)]].dates == "uk" for t in range(self.size.trusts)])
        allrows["sort_day"] = np.where(by_day[allrows["trust"]], allrows["day"], 0)
        allrows = allrows.sort_values(["trust", "month", "sort_day", "supplier_code"], kind="stable")

        month_abbr = [calendar.month_abbr[p.month] for p in periods]
        files, entries = [], []
        starts = np.searchsorted(allrows["trust"].to_numpy(), np.arange(self.size.trusts + 1))
        for t, code in enumerate(self.trust_codes):
            part = allrows.iloc[starts[t] : starts[t + 1]]
            layout = layouts[t % len(layouts)]
            spec = USAGE_LAYOUTS[layout]
            m, d = part["month"].to_numpy(), part["day"].to_numpy()
            if spec.dates == "iso":
                when = [periods[k].isoformat() for k in m]
            elif spec.dates == "uk":
                when = [f"{dd:02d}/{periods[k].month:02d}/{periods[k].year}" for k, dd in zip(m, d, strict=True)]
            elif spec.dates == "long":
                when = [f"1 {month_abbr[k]} {periods[k].year}" for k in m]
            else:
                when = [f"01-{month_abbr[k]}-{periods[k].year}" for k in m]
            qty = part["qty"].astype(int).to_numpy()
            price = part["price"].to_numpy()
            if layout == "gtin":
                data = [part["gtin"].to_numpy(), qty, [f"{x:.2f}" for x in price], when]
            elif layout == "orders":
                data = [
                    when,
                    part["supplier"].to_numpy(),
                    part["supplier_code"].to_numpy(),
                    part["description"].to_numpy(),
                    qty,
                    [money(x) for x in price],
                ]
            elif layout == "barcode":
                data = [
                    when,
                    [g.zfill(14) for g in part["gtin"]],
                    part["description"].to_numpy(),
                    qty,
                    [f"{x:.2f}" for x in price],
                ]
            else:
                data = [when, part["supplier_code"].to_numpy(), qty, [f"{x:.2f}" for x in price]]
            frame = pd.DataFrame(dict(zip(spec.columns, data, strict=True)))
            path = self._csv(frame, f"usage/{code}.csv", encoding=spec.encoding)
            files.append(UsageFile(path, code))
            flagged = np.flatnonzero(part["unknown"].to_numpy())
            column = spec.unknown_column
            entries.append(
                {
                    "file": str(path.relative_to(self.out)),
                    "trust": code,
                    "layout": layout,
                    "rows": len(part),
                    "unknown_items": [
                        {"row": int(k) + 2, "column": column, "code": str(frame.iloc[int(k)][column])} for k in flagged
                    ],
                }
            )
        self.manifest["usage"] = entries
        return files
