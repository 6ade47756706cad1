"""Switching costs: instrument sets, training and consignment stock per supplier system.

Part of the generator (``generator._Generator``): writes ``switching-costs.csv``
(PARAMETERS.md: instrument sets and training, £10k to £50k per trust per new system):

* per supplier system (supplier x category with a valid line), for ``ALL`` trusts: an
  instruments cost of £10k to £40k and a training cost of £2k to £10k on top;
* one supplier lends its instrument sets free: its instruments rows cost £0 (training
  still paid);
* for a third of the trusts, one system dearer at that trust (more theatres to equip):
  a trust-specific instruments row replacing the ``ALL`` figure, up to £50k;
* a few line-level extras (consignment stock for one brand in one group, £2k to £8k).

Draws from its own stream (``SeedSequence(seed, spawn_key=(13,))``), so the other
jobs' draws, and the files they write, do not change.
"""

import numpy as np
import pandas as pd

from procurement.demo.data import CATEGORIES, GROUPS
from procurement.demo.state import GeneratorState

LINE_EXTRAS = 4  # line-level consignment rows


class SwitchingCosts(GeneratorState):
    def _switching_costs(self) -> None:
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(13,)))
        valid = [ln for i, ln in enumerate(self.lines) if self.line_valid[i]]
        systems = sorted(
            {(ln.supplier, GROUPS[ln.group].category) for ln in valid},
            key=lambda sc: (sc[0], CATEGORIES.index(sc[1])),
        )
        codes = self.sup["code"].to_numpy()
        n = len(systems)
        supplier = [codes[s] for s, _ in systems]
        category = [c for _, c in systems]
        lender = codes[int(rng.integers(len(codes)))]
        instruments = np.round(rng.uniform(10_000, 40_000, n), -3)
        instruments = np.where(np.array(supplier) == lender, 0.0, instruments)
        training = np.round(rng.uniform(2_000, 10_000, n), -3)
        everyone = pd.DataFrame({"trust": "ALL", "supplier": supplier, "brand": "", "group": "", "category": category})
        rows = [
            everyone.assign(
                cost_gbp=instruments,
                kind="instruments",
                note=np.where(instruments == 0, "instrument sets lent free of charge", "instrument sets"),
            ),
            everyone.assign(cost_gbp=training, kind="training", note="theatre and ward training"),
        ]
        dear_trusts = rng.choice(len(self.trust_codes), size=max(1, len(self.trust_codes) // 3), replace=False)
        dear = rng.integers(n, size=len(dear_trusts))
        rows.append(
            everyone.iloc[dear].assign(
                trust=[self.trust_codes[t] for t in sorted(dear_trusts)],
                cost_gbp=np.maximum(instruments[dear], np.round(rng.uniform(35_000, 50_000, len(dear)), -3)),
                kind="instruments",
                note="more theatres to equip",
            )
        )
        extras = rng.choice(len(valid), size=min(LINE_EXTRAS, len(valid)), replace=False)
        rows.append(
            pd.DataFrame(
                {
                    "trust": "ALL",
                    "supplier": [codes[valid[i].supplier] for i in extras],
                    "brand": [valid[i].brand for i in extras],
                    "group": [GROUPS[valid[i].group].code for i in extras],
                    "category": "",
                    "cost_gbp": np.round(rng.uniform(2_000, 8_000, len(extras)), -3),
                    "kind": "consignment",
                    "note": "consignment stock of this line",
                }
            )
        )
        frame = pd.concat(rows, ignore_index=True)
        frame["cost_gbp"] = frame["cost_gbp"].map(lambda x: f"{x:.0f}")
        self._csv(frame, "switching-costs.csv")
        self.manifest["switching_costs"] = {"rows": len(frame), "systems": n, "lends_sets_free": lender}
