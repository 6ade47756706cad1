"""ODEP ratings: parse labels such as ``10A*``, ``7A``, ``3B``, ``Pre-entry`` and order them.

ODEP rates an implant by years of evidence (pre-entry, 3, 5, 7, 10, 13, 15) and the
strength of that evidence (B, A, A*). ``rank = 10 * years + strength`` with
B=1, A=2, A*=3 orders ratings so that a scenario floor such as ``10A`` means
``rank >= rank("10A")``; pre-entry ranks 0. ODEP itself warns that 3A-7A products
may be tracking as well as 10A ones, so the floor is a scenario setting with a
clinician-approved exception, never hard-coded.
"""

import pandas as pd

from catalogues.normalise import clean_text

STRENGTH_SCORE = {"B": 1, "A": 2, "A*": 3}
ODEP_YEARS = (3, 5, 7, 10, 13, 15)


def parse_odep(raw: pd.Series) -> pd.DataFrame:
    """Columns rating (canonical label), years, strength, rank, error ("" when valid)."""
    text = clean_text(raw).str.upper().str.replace(" ", "", regex=False)
    pre = text.isin(["PRE-ENTRY", "PREENTRY", "PRE", "PE"])
    parts = text.str.extract(r"^(?P<years>\d{1,2})(?P<strength>A\*|A|B)$")
    years = pd.to_numeric(parts["years"], errors="coerce")
    valid = pre | (years.isin(ODEP_YEARS) & parts["strength"].notna())
    strength = parts["strength"].where(~pre, "")
    rank = (years.fillna(0) * 10 + strength.map(STRENGTH_SCORE).fillna(0)).where(~pre, 0)
    out = pd.DataFrame(
        {
            "rating": (years.astype("Int64").astype(str) + strength.fillna("")).where(~pre, "Pre-entry"),
            "years": years.fillna(0).astype(int).where(~pre, 0),
            "strength": strength.fillna(""),
            "rank": rank.astype(int),
            "error": "",
        },
        index=raw.index,
    )
    out.loc[~valid, "error"] = (
        "ODEP rating not understood (e.g. 10A*, 10A, 7A, 5B, 3A or Pre-entry; years 3,5,7,10,13,15)"
    )
    return out


def odep_rank(label: str) -> int:
    """The rank of one label, e.g. a scenario's floor ``"10A"``; ValueError if invalid."""
    parsed = parse_odep(pd.Series([label]))
    if parsed.at[0, "error"]:
        raise ValueError(f"ODEP rating {label!r} not understood")
    return int(parsed.at[0, "rank"])
