"""The taxonomy (categories, equivalence groups, classification rules) and classification.

The taxonomy is a data file (``catalogues/taxonomy.toml`` by default, or the file
named by ``PROCURE_TAXONOMY``): adding a category is a data change. Classification is
vectorised: one regular-expression pass per group over the whole catalogue, groups
tried in file order, first match wins.
"""

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_TAXONOMY = Path(__file__).parent / "taxonomy.toml"


class TaxonomyError(Exception):
    """The taxonomy file is unreadable or inconsistent."""


@dataclass(frozen=True)
class GroupRule:
    code: str
    category: str
    name: str
    include: tuple[re.Pattern, ...]
    exclude: tuple[re.Pattern, ...]


@dataclass(frozen=True)
class Taxonomy:
    categories: pd.DataFrame  # code, name, odep_applies
    rules: tuple[GroupRule, ...]
    source: Path

    @property
    def groups(self) -> pd.DataFrame:
        """code, category, name of every group, in file order."""
        return pd.DataFrame(
            [(r.code, r.category, r.name) for r in self.rules],
            columns=["code", "category", "name"],
        )

    def classify(self, text: pd.Series) -> pd.Series:
        """The group code of each text (``None`` where no rule matches).

        ``text`` is the lower-cased "component description brand" of each row.
        Each distinct text is classified once, and a rule's later patterns are only
        tried on the texts its earlier patterns left in: same result, fewer searches.
        """
        lowered = text.fillna("").astype(str).str.lower()
        codes, uniques = pd.factorize(lowered)
        distinct = [str(u) for u in uniques]
        found = np.full(len(distinct), None, dtype=object)
        todo = np.arange(len(distinct))  # positions not classified yet
        for rule in self.rules:
            if not len(todo):
                break
            candidate = todo
            for pattern in rule.include:
                search = pattern.search
                candidate = candidate[
                    np.fromiter((search(distinct[i]) is not None for i in candidate), bool, len(candidate))
                ]
            for pattern in rule.exclude:
                search = pattern.search
                candidate = candidate[
                    np.fromiter((search(distinct[i]) is None for i in candidate), bool, len(candidate))
                ]
            found[candidate] = rule.code
            todo = todo[found[todo] == None]  # noqa: E711 (element-wise test against None)
        return pd.Series(found[codes], index=text.index, dtype="object")


def taxonomy_path() -> Path:
    return Path(os.environ.get("PROCURE_TAXONOMY") or DEFAULT_TAXONOMY)


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Read and check a taxonomy file (see the comments in catalogues/taxonomy.toml)."""
    path = Path(path or taxonomy_path())
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TaxonomyError(f"taxonomy {path}: cannot be read: {exc}") from exc
    categories = data.get("categories") or {}
    if not categories:
        raise TaxonomyError(f"taxonomy {path}: no [categories.*] tables")
    cat_frame = pd.DataFrame(
        [(code, spec.get("name", code), bool(spec.get("odep_applies", False))) for code, spec in categories.items()],
        columns=["code", "name", "odep_applies"],
    )
    rules = []
    seen: set[str] = set()
    for i, group in enumerate(data.get("groups") or [], start=1):
        code = group.get("code")
        if not code or code in seen:
            raise TaxonomyError(f"taxonomy {path}: group {i} has a missing or repeated code")
        if group.get("category") not in categories:
            raise TaxonomyError(f"taxonomy {path}: group {code} names unknown category {group.get('category')!r}")
        try:
            include = tuple(re.compile(p) for p in group.get("include", []))
            exclude = tuple(re.compile(p) for p in group.get("exclude", []))
        except re.error as exc:
            raise TaxonomyError(f"taxonomy {path}: group {code}: bad pattern: {exc}") from exc
        if not include:
            raise TaxonomyError(f"taxonomy {path}: group {code} has no include pattern")
        seen.add(code)
        rules.append(GroupRule(code, group["category"], group.get("name", code), include, exclude))
    if not rules:
        raise TaxonomyError(f"taxonomy {path}: no [[groups]]")
    return Taxonomy(cat_frame, tuple(rules), path)
