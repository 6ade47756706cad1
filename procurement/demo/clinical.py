"""Clinical data: ODEP ratings per brand and the panels' approvals and rejections.

Part of the generator (``generator._Generator``): writes ``ratings.csv`` and
``approvals.csv``. Draws from ``r_clinical``.
"""

from datetime import date, timedelta

import pandas as pd

from procurement.demo.data import CONDITIONS, GROUPS, REGIONAL_PANEL, REJECT_REASONS, ROLE, SURNAMES, TITLES
from procurement.demo.state import GeneratorState


class ClinicalData(GeneratorState):
    def _brands_by_category(self) -> list[tuple[int, str, str]]:
        seen, out = set(), []
        for i, ln in enumerate(self.lines):
            key = (ln.supplier, ln.brand)
            if key not in seen and self.line_valid[i]:
                seen.add(key)
                out.append((ln.supplier, ln.brand, GROUPS[ln.group].category))
        return out

    def _ratings(self) -> None:
        rng = self.r_clinical
        brands = [b for b in self._brands_by_category() if b[2] in ("hip", "knee")]
        n = len(brands)
        n_low = round(0.09 * n)
        n_mid = round(0.17 * n)
        tiers = ["low"] * n_low + ["mid"] * n_mid + ["good"] * (n - n_low - n_mid)
        tiers = [tiers[i] for i in rng.permutation(n)]
        rows, self.rating = [], {}
        low_seen = 0
        for (s, brand, _cat), tier in zip(brands, tiers, strict=True):
            if tier == "good":
                label = str(rng.choice(["10A", "10A*", "13A", "15A"], p=[0.4, 0.2, 0.25, 0.15]))
            elif tier == "mid":
                label = str(rng.choice(["3A", "5A", "7A"], p=[0.3, 0.35, 0.35]))
            else:
                low_seen += 1
                label = "Pre-entry" if low_seen % 2 == 1 else ""  # "" = unrated: no row
            self.rating[(s, brand)] = label
            if label:
                rows.append(
                    {"supplier": self.sup.at[s, "code"], "brand": brand, "group": "", "item_code": "", "rating": label}
                )
        self._csv(pd.DataFrame(rows, columns=["supplier", "brand", "group", "item_code", "rating"]), "ratings.csv")
        counts = {"10A_or_better": 0, "3A_to_7A": 0, "pre_entry": 0, "unrated": 0}
        for label in self.rating.values():
            key = (
                "unrated"
                if not label
                else "pre_entry"
                if label == "Pre-entry"
                else "10A_or_better"
                if int(label.rstrip("AB*")) >= 10
                else "3A_to_7A"
            )
            counts[key] += 1
        self.manifest["ratings"] = {"rows": len(rows), "brands": counts}

    def _approvals(self) -> None:
        rng = self.r_clinical
        start = self.start

        def person() -> str:
            title = TITLES[int(rng.integers(len(TITLES)))]
            return f"{title} {chr(65 + int(rng.integers(26)))}. {SURNAMES[int(rng.integers(len(SURNAMES)))]}"

        def when(lo: int = 20, hi: int = 365) -> date:
            return start - timedelta(days=int(rng.integers(lo, hi)))

        rows = []

        def add(trust, s, brand, group, decision, who, day, comment="", exception=False):
            rows.append(
                {
                    "trust": trust,
                    "supplier": self.sup.at[s, "code"],
                    "brand": brand,
                    "group": group,
                    "decision": decision,
                    "clinician": who,
                    "role": ROLE,
                    "date": day.isoformat(),
                    "comment": comment,
                    "odep_exception": "yes" if exception else "",
                }
            )

        def add_line(trust, i, decision, who, day, comment, exception=False):
            """A decision on product line ``i`` (its brand, in its group)."""
            ln = self.lines[i]
            add(trust, ln.supplier, ln.brand, GROUPS[ln.group].code, decision, who, day, comment, exception)

        panel = [person() for _ in range(3)]
        regional_ok = set()
        for s, brand, _cat in self._brands_by_category():
            r = rng.random()
            who = panel[int(rng.integers(len(panel)))]
            if r < 0.82:
                add(REGIONAL_PANEL, s, brand, "", "approve", who, when(150, 365))
                regional_ok.add((s, brand))
            elif r < 0.88:
                add(
                    REGIONAL_PANEL,
                    s,
                    brand,
                    "",
                    "conditional",
                    who,
                    when(150, 365),
                    CONDITIONS[int(rng.integers(len(CONDITIONS)))],
                )
                regional_ok.add((s, brand))
        recon_lines = [
            i for i, ln in enumerate(self.lines) if GROUPS[ln.group].category in ("hip", "knee") and self.line_valid[i]
        ]

        def below(label: str) -> bool:
            return not label or label == "Pre-entry" or int(label.rstrip("AB*")) < 10

        # A real region's panel has approved, for every clinical group, at least two
        # lines that meet a 10A floor (or accepted an exception): without that the
        # default scenario would be infeasible everywhere. Trusts never reject these.
        guaranteed: set[int] = set()
        by_group: dict[int, list[int]] = {}
        for i, ln in enumerate(self.lines):
            if self.line_valid[i]:
                by_group.setdefault(ln.group, []).append(i)
        for g, members in sorted(by_group.items()):
            recon = GROUPS[g].category in ("hip", "knee")
            good = [
                i
                for i in members
                if not recon or not below(self.rating.get((self.lines[i].supplier, self.lines[i].brand), ""))
            ]
            picks: list[int] = []
            suppliers = set()
            for i in good + [i for i in members if i not in good]:
                if len(picks) == 2:
                    break
                if self.lines[i].supplier not in suppliers:
                    picks.append(i)
                    suppliers.add(self.lines[i].supplier)
            for i in picks:
                ln = self.lines[i]
                guaranteed.add(i)
                exception = i not in good
                if (ln.supplier, ln.brand) not in regional_ok or exception:
                    add_line(
                        REGIONAL_PANEL,
                        i,
                        "approve",
                        panel[0],
                        when(150, 365),
                        "approved for the regional range"
                        if not exception
                        else "ODEP below 10A accepted regionally: no alternative in this group",
                        exception=exception,
                    )
                    regional_ok.add((ln.supplier, ln.brand))

        below_floor = [
            i for i in recon_lines if below(self.rating.get((self.lines[i].supplier, self.lines[i].brand), ""))
        ]
        used_by = self.trust_lines.groupby("trust")["line"].apply(list).to_dict()
        n_trusts = self.size.trusts
        counts = {"regional": len(rows), "trust": 0, "rejections": 0, "odep_exceptions": 0}
        for t, code in enumerate(self.trust_codes):
            staff = [person() for _ in range(3)]
            used = used_by.get(t, [])
            used_set = set(used)
            unapproved = [
                i for i in dict.fromkeys(used) if (self.lines[i].supplier, self.lines[i].brand) not in regional_ok
            ]
            for i in unapproved[:2]:
                add_line(
                    code,
                    i,
                    "approve",
                    staff[int(rng.integers(3))],
                    when(),
                    "in current use; outcomes satisfactory on local audit",
                )
            not_used = [i for i in recon_lines if i not in used_set and i not in guaranteed]
            if not_used and (t < 2 or (n_trusts == 1) or rng.random() < 0.4):
                for _ in range(2 if n_trusts == 1 else 1):
                    add_line(
                        code,
                        not_used[int(rng.integers(len(not_used)))],
                        "reject",
                        staff[int(rng.integers(3))],
                        when(),
                        REJECT_REASONS[int(rng.integers(len(REJECT_REASONS)))],
                    )
                    counts["rejections"] += 1
            if below_floor and (t == 0 or rng.random() < 0.35):
                pool = [i for i in below_floor if i in used_set] or below_floor
                add_line(
                    code,
                    pool[int(rng.integers(len(pool)))],
                    "approve",
                    staff[int(rng.integers(3))],
                    when(),
                    "ODEP below 10A accepted: good results in our registry-monitored cohort",
                    exception=True,
                )
                counts["odep_exceptions"] += 1
            if t == min(1, n_trusts - 1) and not_used:  # a decision revisited: the later one wins
                i = not_used[int(rng.integers(len(not_used)))]
                first = when(120, 300)
                add_line(
                    code,
                    i,
                    "reject",
                    staff[0],
                    first,
                    "no instrument sets on site",
                )
                add_line(
                    code,
                    i,
                    "conditional",
                    staff[0],
                    first + timedelta(days=60),
                    "re-reviewed after the supplier agreed instrument set loans",
                )
                counts["rejections"] += 1
        counts["trust"] = len(rows) - counts["regional"]
        frame = pd.DataFrame(
            rows,
            columns=[
                "trust",
                "supplier",
                "brand",
                "group",
                "decision",
                "clinician",
                "role",
                "date",
                "comment",
                "odep_exception",
            ],
        )
        frame = frame.sort_values("date", kind="stable")
        self._csv(frame, "approvals.csv")
        self.manifest["approvals"] = counts
