"""The region's reference data: trusts, suppliers and the brand names of their product lines.

Part of the generator (``generator._Generator``): sets ``trust_codes``, ``trust_names`` and
``sup`` (one row a supplier: code, name, GS1 prefix, kind, market weight, catalogue layout),
and hands out brand names and three-letter abbreviations on demand (``_brand``). Draws
only from the ``r_names`` stream.
"""

import numpy as np
import pandas as pd

from procurement.demo.data import (
    BRAND_FIRST,
    BRAND_FORBIDDEN,
    BRAND_FORBIDDEN_WORDS,
    BRAND_SECOND,
    BRAND_SUFFIX,
    CATALOGUE_LAYOUTS,
    COMPANY_STEMS,
    COMPANY_SUFFIX,
    PLACE_FIRST,
    PLACE_SECOND,
    REGION_NAME,
    SUPPLIER_PATTERN,
    SUPPLIER_WEIGHT,
    TRUST_KIND,
)
from procurement.demo.helpers import column_letters
from procurement.demo.state import GeneratorState


def brand_ok(name: str) -> bool:
    low = name.lower()
    words = set(low.replace("-", " ").split())
    return not any(f in low for f in BRAND_FORBIDDEN) and not words & BRAND_FORBIDDEN_WORDS


class ReferenceData(GeneratorState):
    def _trusts(self) -> None:
        rng, n = self.r_names, self.size.trusts
        second = "XYWVTSQPNMLKJHGFEDCBAZUROI"
        self.trust_codes = [f"R{second[i // 26]}{chr(65 + i % 26)}" for i in range(n)]
        kinds = [TRUST_KIND[k] for k in rng.permutation(len(TRUST_KIND))]
        places = [a + b for a in PLACE_FIRST for b in PLACE_SECOND]
        order = rng.permutation(len(places))
        names = []
        for i in range(n):
            place = places[order[i % len(places)]]
            if i >= len(places):
                place = f"{place} {('Upper', 'Lower', 'Greater', 'Royal')[(i // len(places) - 1) % 4]}"
            names.append(f"{place} {kinds[i % len(kinds)]}")
        self.trust_names = names
        self._csv(pd.DataFrame({"code": self.trust_codes, "name": names, "region": REGION_NAME}), "trusts.csv")

    def _suppliers(self) -> None:
        rng, n = self.r_names, self.size.suppliers
        kinds = [SUPPLIER_PATTERN[i % len(SUPPLIER_PATTERN)] for i in range(n)]
        stems = [COMPANY_STEMS[i] for i in rng.permutation(len(COMPANY_STEMS))]
        names = []
        for i, kind in enumerate(kinds):
            stem = stems[i % len(stems)] + ("" if i < len(stems) else f" {i // len(stems) + 1}")
            suffixes = COMPANY_SUFFIX[kind]
            names.append(f"{stem} {suffixes[int(rng.integers(len(suffixes)))]}")
        refs = rng.choice(100_000, size=n, replace=False)
        layouts = list(CATALOGUE_LAYOUTS)
        self.sup = pd.DataFrame(
            {
                "code": [f"SUP-{column_letters(i)}" for i in range(n)],
                "name": names,
                "gs1_prefix": [f"50{r:05d}" for r in refs],
                "kind": kinds,
                "weight": np.array([SUPPLIER_WEIGHT[k] for k in kinds]) * rng.uniform(0.7, 1.3, n),
                "layout": [layouts[i % len(layouts)] for i in range(n)],
            }
        )
        self._csv(self.sup[["code", "name", "gs1_prefix"]], "suppliers.csv")

    def _brand_names(self) -> None:
        rng = self.r_names
        bases = sorted({a + b for a in BRAND_FIRST for b in BRAND_SECOND if a[-1] != b[0]})
        bases = [bases[i] for i in rng.permutation(len(bases))]
        self._brand_pool = iter(name for suffix in BRAND_SUFFIX for base in bases if brand_ok(name := base + suffix))
        self._brands: dict[tuple[int, str, int], tuple[str, str]] = {}
        self._used_abr: set[str] = set()

    def _brand(self, supplier: int, family: str, j: int) -> tuple[str, str]:
        key = (supplier, family, j)
        if key not in self._brands:
            rng = self.r_names
            name = next(self._brand_pool)
            if family == "knee" and " " not in name and rng.random() < 0.5:
                name += " Knee"
            if self.sup.at[supplier, "layout"] == "demo-c" and "e" in name and rng.random() < 0.5:
                name = name.replace("e", "é", 1)  # a Windows-1252 file must be decoded as such
            letters = "".join(c for c in name.upper().replace("É", "E") if "A" <= c <= "Z")
            candidates = [letters[:3], letters[0] + letters[2:4], letters[0] + letters[-2:]]
            abr = next((c for c in candidates if len(c) == 3 and c not in self._used_abr), None)
            while abr is None or abr in self._used_abr:
                abr = "".join(chr(65 + int(x)) for x in rng.integers(0, 26, 3))
            self._used_abr.add(abr)
            self._brands[key] = (name, abr)
        return self._brands[key]
