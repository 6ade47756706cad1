"""The mess of real price lists, at low rates: bad GTINs, POA and blank prices, duplicates...

Part of the generator (``generator._Generator``): decides, for one supplier's file, which
SKUs turn into deliberately bad rows (each kind in ``data.BAD_ROW_EXPECT``), marks them
invalid in ``sku`` and returns the file's rows in order. Draws from ``r_mess``.
"""

import numpy as np
import pandas as pd

from procurement.demo.data import CATALOGUE_LAYOUTS, UNCLASSIFIED
from procurement.demo.state import GeneratorState


class CatalogueMess(GeneratorState):
    def _file_rows(self, s: int, file_idx: int, idx: np.ndarray, rng) -> list[dict]:
        """Supplier ``s``'s rows in file order, with the deliberately bad ones marked by ``kind``."""
        sku = self.sku
        n = len(idx)
        line_of = sku["line"].to_numpy()[idx]
        line_size = pd.Series(line_of).map(pd.Series(line_of).value_counts()).to_numpy()
        kinds = ["invalid_gtin"] * max(1, round(0.005 * n))
        kinds.append("poa_price" if file_idx % 2 == 0 else "blank_price")
        kinds.append("discontinued")
        if file_idx % 3 == 0:
            kinds.append("conflicting_duplicate")
        kinds = kinds[: max(1, n // 10)] if n >= 4 else []
        # pick bad SKUs in distinct lines that keep at least two valid SKUs
        eligible = [int(i) for i, size in zip(idx, line_size, strict=True) if size >= 3]
        order = [eligible[i] for i in rng.permutation(len(eligible))]
        taken_lines: dict[int, int] = {}
        chosen: list[int] = []
        for i in order:
            if len(chosen) == len(kinds):
                break
            ln = int(line_of[np.searchsorted(idx, i)])
            if taken_lines.get(ln, 0) >= 1:
                continue
            taken_lines[ln] = 1
            chosen.append(i)
        kinds = kinds[: len(chosen)]
        bad_of = dict(zip(chosen, kinds, strict=True))
        for i, kind in bad_of.items():
            sku.at[i, "valid"] = False
            sku.at[i, "bad_kind"] = kind
        good = [int(i) for i in idx if int(i) not in bad_of]
        n_dup = min(len(good), 1 + file_idx % 2)
        n_ws = min(len(good) - n_dup, max(1, round(0.01 * n)))
        picks = [good[i] for i in rng.permutation(len(good))[: n_dup + n_ws]]
        dups, spaces = picks[:n_dup], set(picks[n_dup:])

        rows: list[dict] = []
        for i in idx:
            i = int(i)
            row = self._base_row(i)
            kind = bad_of.get(i, "")
            if kind == "invalid_gtin":
                good_check = int(row["gtin"][-1])
                wrong = (good_check + int(rng.integers(1, 10))) % 10
                row["gtin"] = row["gtin"][:-1] + str(wrong)
                row["detail"] = f"check digit {wrong}, should be {good_check}"
            elif kind == "poa_price":
                row["price"] = "POA"
                row["detail"] = "price on application"
            elif kind == "blank_price":
                row["price"] = None
                row["detail"] = "no price"
            elif kind == "discontinued":
                row["price"] = None
                row["status"] = "Discontinued"
                row["description"] += " - discontinued"
                row["detail"] = "discontinued, no price"
            elif i in spaces:
                if rng.random() < 0.5:
                    row["code"] = " " + row["code"] + "  "
                else:
                    row["description"] = " " + row["description"].replace(", ", ",  ", 1) + " "
                row["detail"] = "stray whitespace"
                kind = "whitespace"
            row["kind"] = kind
            rows.append(row)
        position = {r["sku"]: k for k, r in enumerate(rows)}

        def insert_after(original: int, new: dict) -> None:
            at = int(rng.integers(position[original] + 1, len(rows) + 1))
            rows.insert(at, new)
            for k in range(at, len(rows)):
                if rows[k]["sku"] >= 0:
                    position[rows[k]["sku"]] = k

        for i in dups:
            copy = dict(rows[position[i]])
            copy.update(kind="exact_duplicate", detail="identical repeat of an earlier row", sku=-1)
            insert_after(i, copy)
        for i, kind in bad_of.items():
            if kind == "conflicting_duplicate":
                copy = dict(rows[position[i]])
                copy["price"] = round(copy["price"] * (1 + float(rng.uniform(0.04, 0.12))), 2)
                copy.update(kind=kind, detail="same code, different price", sku=-1)
                rows[position[i]]["detail"] = "same code, different price"
                insert_after(i, copy)
        if file_idx % 3 == 1:
            component, description = UNCLASSIFIED[(file_idx // 3) % len(UNCLASSIFIED)]
            line = self.lines[int(line_of[0])]
            extra = {
                "sku": -1,
                "code": f"{line.abr}-SRV-{file_idx % 100:02d}",
                "gtin": self._spare_gtin(s),
                "description": description,
                "brand": line.brand,
                "component": component,
                "size": "",
                "pack": 1,
                "price": 150.0,
                "status": "Active",
                "kind": "unclassified",
                "detail": "not an implant: matches no equivalence group",
            }
            rows.insert(int(rng.integers(0, len(rows) + 1)), extra)
        if CATALOGUE_LAYOUTS[self.sup.at[s, "layout"]]["suffix"] == ".csv":
            rows.append({"sku": -1, "code": "", "kind": "blank_row", "detail": "trailing blank row"})
        return rows
