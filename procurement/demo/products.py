"""Product lines and their SKUs: which supplier sells which brand in which group, what sizes.

Part of the generator (``generator._Generator``): sets ``lines`` (exactly ``size.lines``
product lines), ``sku`` (one row a SKU: code, description, size, pack, base and unit price,
usage weight), ``line_valid`` and the SKUs' GTINs. Draws from ``r_lines`` and ``r_skus``.
"""

import itertools

import numpy as np
import pandas as pd
from stdnum import ean

from procurement.demo.data import DROPOUTS, FAMILY_BRANDS, GROUPS, SUPPLIER_CATEGORIES
from procurement.demo.helpers import bell
from procurement.demo.state import GeneratorState, Line


class ProductLines(GeneratorState):
    def _lines(self) -> None:
        """Product lines: brands of suppliers in families of groups, exactly ``size.lines`` of them.

        A family's suppliers are chosen once (hip 4-6, knee 3-5, trauma 4-8 in a region of
        ten suppliers, more in bigger ones), so a knee brand spans femoral, tray, insert and
        patella; a supplier's second and later brands may lack a component (a
        cruciate-retaining-only knee, an acetabular system without ceramic liners).
        """
        rng, n = self.r_lines, self.size.suppliers
        kinds, weight = self.sup["kind"].tolist(), self.sup["weight"].to_numpy()
        ranges = {"hip": (4, 6), "knee": (3, 5), "trauma": (4, 8)}
        scale = max(1.0, n / 10)
        families: dict[str, list[int]] = {}
        for g_idx, group in enumerate(GROUPS):
            families.setdefault(group.family, []).append(g_idx)
        units: list[tuple[int, str]] = []  # (supplier, family) pairs
        for fam, groups in families.items():
            category = GROUPS[groups[0]].category
            avail = [i for i in range(n) if category in SUPPLIER_CATEGORIES[kinds[i]]]
            if not avail:
                continue
            lo, hi = (round(v * scale) for v in ranges[category])
            k = min(len(avail), int(rng.integers(lo, hi + 1)))
            w = weight[avail]
            chosen = sorted(int(s) for s in rng.choice(avail, size=k, replace=False, p=w / w.sum()))
            units.extend((s, fam) for s in chosen)

        def brand_groups(fam: str, j: int) -> list[int]:
            groups = list(families[fam])
            for codes, prob in DROPOUTS.get(fam, ()):
                idx = [g for g in groups if GROUPS[g].code in codes]
                if j > 0 and idx and len(idx) < len(groups) and rng.random() < prob:
                    groups = [g for g in groups if g not in idx]
            return groups

        slots: list[list[int]] = []  # per line: [supplier, group, brand index]
        brands_of: dict[tuple[int, str], int] = {}
        for s, fam in units:
            brands_of[(s, fam)] = 1
            slots.extend([s, g, 0] for g in brand_groups(fam, 0))
        unit_w = np.array([weight[s] * FAMILY_BRANDS.get(fam, 1.0) for s, fam in units])
        target = self.size.lines
        while len(slots) < target and units:
            s, fam = units[int(rng.choice(len(units), p=unit_w / unit_w.sum()))]
            j = brands_of[(s, fam)]
            brands_of[(s, fam)] = j + 1
            slots.extend([s, g, j] for g in brand_groups(fam, j))
        while len(slots) > target:  # drop lines at random, keeping every group while possible
            per_group = np.bincount([g for _, g, _ in slots], minlength=len(GROUPS))
            spare = [i for i, (_, g, _) in enumerate(slots) if per_group[g] > 1] or list(range(len(slots)))
            del slots[int(spare[int(rng.integers(len(spare)))])]
        lines = []
        for s, g_idx, j in slots:
            name, abr = self._brand(s, GROUPS[g_idx].family, j)
            lines.append(Line(s, g_idx, name, abr))
        lines.sort(key=lambda ln: (ln.supplier, ln.brand, ln.group))
        self.lines = lines

    def _skus(self) -> None:
        rng, fixed = self.r_skus, self.size.skus_per_line
        cols: dict[str, list] = {
            k: []
            for k in (
                "line",
                "part",
                "supplier_code",
                "description",
                "component",
                "size",
                "pack",
                "weight",
                "pos",
                "base",
            )
        }
        for line_id, line in enumerate(self.lines):
            group = GROUPS[line.group]
            parts = list(range(len(group.parts)))
            if group.pick and group.pick < len(parts):
                parts = sorted(int(p) for p in rng.choice(parts, size=group.pick, replace=False))
            pack = int(rng.choice(group.pack))
            entries = []  # (part index, code, desc, size, weight, pos, base)
            for p in parts:
                part = group.parts[p]
                base = float(rng.uniform(*part.price))
                dims = []
                for d_i, dim in enumerate(part.dims):
                    w = np.array(dim.weights) if dim.weights else bell(len(dim.text))
                    idx = np.arange(len(dim.text))
                    if fixed is None and dim.trim and len(idx) >= 6:
                        lo, hi = (int(x) for x in rng.choice(3, size=2, p=[0.5, 0.3, 0.2]))
                        idx = idx[lo : len(idx) - hi]
                    dims.append((dim, idx, w, d_i == 0))
                for combo in itertools.product(*(d[1] for d in dims)):
                    values, wt, pos = {}, 1.0, 0.5
                    for (dim, _idx, w, first), i in zip(dims, combo, strict=True):
                        values[dim.key] = dim.text[i]
                        values[dim.key + "_c"] = dim.code[i]
                        wt *= w[i]
                        if first and len(dim.text) > 1:
                            pos = i / (len(dim.text) - 1)
                    entries.append(
                        (
                            p,
                            f"{line.abr}-{part.token}-" + part.code.format(**values),
                            part.desc.format(**values),
                            part.size.format(**values),
                            wt,
                            pos,
                            base,
                        )
                    )
            if fixed is not None:
                if fixed <= len(entries):
                    pick = np.floor(np.linspace(0, len(entries) - 1, fixed) + 0.5).astype(int)
                    entries = [entries[i] for i in pick]
                else:
                    extra = []
                    for k in range(fixed - len(entries)):
                        p, code, desc, sz, wt, pos, base = entries[k % len(entries)]
                        v = k // len(entries) + 2
                        extra.append((p, f"{code}-V{v}", f"{desc}, variant {v}", f"{sz} v{v}", wt, pos, base))
                    entries += extra
            for p, code, desc, sz, wt, pos, base in entries:
                cols["line"].append(line_id)
                cols["part"].append(p)
                cols["supplier_code"].append(code)
                cols["description"].append(desc)
                cols["component"].append(group.parts[p].component)
                cols["size"].append(sz)
                cols["pack"].append(pack)
                cols["weight"].append(wt)
                cols["pos"].append(pos)
                cols["base"].append(base)
        sku = pd.DataFrame(cols)
        n = len(sku)
        line_sup = np.array([ln.supplier for ln in self.lines])
        line_grp = np.array([ln.group for ln in self.lines])
        sku["supplier"] = line_sup[sku["line"]]
        sku["group_idx"] = line_grp[sku["line"]]
        sku["group"] = [GROUPS[g].code for g in sku["group_idx"]]
        sku["category"] = [GROUPS[g].category for g in sku["group_idx"]]
        sku["brand"] = [self.lines[i].brand for i in sku["line"]]
        noise = rng.uniform(-0.01, 0.01, n)
        sku["unit_price"] = np.round(sku["base"] * (1 + 0.06 * (sku["pos"] - 0.5)) * (1 + noise), 2)
        sku["valid"] = True
        sku["bad_kind"] = ""
        self.sku = sku
        for row, line_id in enumerate(sku["line"].to_numpy()):
            self.lines[line_id].skus.append(row)

    def _normalise_weights(self) -> None:
        """A line's valid SKUs share its units per case; its parts by their ``per``."""
        sku = self.sku
        per = pd.Series(
            [GROUPS[g].parts[p].per for g, p in zip(sku["group_idx"], sku["part"], strict=True)], index=sku.index
        )
        upc = np.array([GROUPS[g].units_per_case for g in sku["group_idx"]])
        w = sku["weight"].where(sku["valid"], 0.0)
        part_sum = w.groupby([sku["line"], sku["part"]]).transform("sum")
        present = part_sum > 0
        parts = pd.DataFrame({"line": sku["line"], "part": sku["part"], "per": per.where(present, 0.0)})
        line_total = parts.drop_duplicates(["line", "part"]).groupby("line")["per"].sum()
        share = per / sku["line"].map(line_total).where(lambda x: x > 0, 1.0)
        sku["w"] = np.where(present, w / part_sum.where(present, 1.0) * share * upc, 0.0)
        self.line_valid = (
            sku.groupby("line")["valid"].any().reindex(range(len(self.lines)), fill_value=False).to_numpy()
        )

    def _gtins(self) -> None:
        rng, sku = self.r_skus, self.sku
        reserve = max(3, self.size.trusts // 2) + 4
        gtin = np.empty(len(sku), dtype=object)
        self.spare_refs: dict[int, list[int]] = {}
        by_sup = sku.groupby("supplier").indices
        for s in range(len(self.sup)):
            idx = by_sup.get(s, np.array([], dtype=int))
            if len(idx) + reserve > 100_000:
                raise ValueError("more than 100,000 SKUs for one supplier: GS1 prefix exhausted")
            refs = rng.choice(100_000, size=len(idx) + reserve, replace=False)
            prefix = self.sup.at[s, "gs1_prefix"]
            packs = sku["pack"].to_numpy()[idx]
            for i, ref, pack in zip(idx, refs[: len(idx)], packs, strict=True):
                body = f"{prefix}{ref:05d}"
                if pack > 1:  # a box has its own GTIN-14 (indicator digit 1)
                    body = "1" + body
                gtin[i] = body + ean.calc_check_digit(body)
            self.spare_refs[s] = [int(r) for r in refs[len(idx) :]]
        sku["gtin"] = gtin
        sku["gtin14"] = [g.zfill(14) for g in gtin]

    def _spare_gtin(self, supplier: int) -> str:
        body = f"{self.sup.at[supplier, 'gs1_prefix']}{self.spare_refs[supplier].pop():05d}"
        return body + ean.calc_check_digit(body)
