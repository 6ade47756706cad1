"""The taxonomy (categories, equivalence groups, classification rules) and classification.

The taxonomy is a data file (``catalogues/taxonomy.toml`` by default, or the file
named by ``PROCURE_TAXONOMY``): adding a category is a data change. Classification is
vectorised: one regular-expression pass per group over the whole catalogue, groups
tried in file order, first match wins.
"""

import functools
import itertools
import operator
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

# CPython's own pattern parser (what re.compile runs), to read the literal text a pattern needs.
from re import _constants as _sre  # type: ignore[attr-defined]
from re import _parser as _sre_parser  # type: ignore[attr-defined]

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

    @functools.cached_property
    def as_stored(self) -> tuple[frozenset[tuple[str, str, bool]], frozenset[tuple[str, str, str]]]:
        """(code, name, ODEP flag) of every category and (code, name, category) of every group,
        as the database holds them once synced (computed once: every catalogue import asks)."""
        categories = frozenset(
            (code, name, bool(odep))
            for code, name, odep in self.categories[["code", "name", "odep_applies"]].itertuples(index=False)
        )
        return categories, frozenset((rule.code, rule.name, rule.category) for rule in self.rules)

    @property
    def groups(self) -> pd.DataFrame:
        """code, category, name of every group, in file order."""
        return pd.DataFrame(
            [(r.code, r.category, r.name) for r in self.rules],
            columns=["code", "category", "name"],
        )

    @functools.cached_property
    def reads_digits_alike(self) -> bool:
        """Whether no pattern tells one ASCII digit from another (``digits_alike``): then a text
        and the text with every digit written as 0 fall into the same group."""
        return all(digits_alike(p) for rule in self.rules for p in (*rule.include, *rule.exclude))

    def classify(self, text: pd.Series) -> pd.Series:
        """The group code of each text (``None`` where no rule matches).

        ``text`` is the lower-cased "component description brand" of each row.
        Each distinct text is classified once, and a rule's later patterns are only
        tried on the texts its earlier patterns left in: same result, fewer searches.
        Where no pattern tells digits apart (``reads_digits_alike``, the shipped
        taxonomy), texts that differ only in their digits ("size 3", "size 4") are
        classified once, as the text with every digit written as 0: a catalogue's
        descriptions repeat a few wordings with many sizes.
        """
        shapes = _lowered_shapes(text.tolist()) if self.reads_digits_alike else None
        if shapes is not None:
            # Nearly every text of a price list is distinct (its sizes differ), its shapes are not.
            codes, uniques = pd.factorize(np.asarray(shapes, dtype=object))
        else:
            codes, uniques = pd.factorize(text.fillna("").astype(str).str.lower())
        found = self._first_rule(np.asarray(uniques, dtype=object))  # str already; in C, not one by one
        return pd.Series(found[codes], index=text.index, dtype="object")

    def _first_rule(self, distinct: np.ndarray) -> np.ndarray:
        """The code of the first rule each of the ``distinct`` texts meets (None: no rule)."""
        found = np.full(len(distinct), None, dtype=object)
        todo = np.arange(len(distinct))  # positions not classified yet
        for rule in self.rules:
            if not len(todo):
                break
            candidate = todo
            for pattern in rule.include:
                candidate = candidate[_searched(pattern, distinct[candidate])]
            for pattern in rule.exclude:
                candidate = candidate[~_searched(pattern, distinct[candidate])]
            found[candidate] = rule.code
            todo = todo[found[todo] == None]  # noqa: E711 (element-wise test against None)
        return found


_ZERO_FOR_DIGITS = bytes.maketrans(b"123456789", b"000000000")


def _lowered_shapes(texts: list) -> list[str] | None:
    """Each text lower-cased, with its ASCII digits written as 0 (``_digits_as_zero``), or None
    where a value is not text (a missing one): ``classify`` then cleans each value itself.

    Lower-cased all at once, joined by NUL, where they are ASCII (lower case is then one
    character at a time); one by one otherwise (Greek capital sigma, for one, depends on
    its neighbours)."""
    try:
        joined = "\x00".join(texts)
    except TypeError:
        return None
    if not joined.isascii():
        return _digits_as_zero([t.lower() for t in texts])
    shapes = joined.lower().encode("ascii").translate(_ZERO_FOR_DIGITS).decode("ascii").split("\x00")
    return shapes if len(shapes) == len(texts) else None  # else a text held a NUL


def _digits_as_zero(texts: list[str]) -> list[str] | None:
    """Each text with its ASCII digits written as 0 (None where one pass cannot do it).

    One ``bytes.translate`` over the texts joined by NUL, in C: in UTF-8 the bytes of the
    ASCII digits never stand inside another character's bytes. A text holding a NUL
    would split in two: then None, as for text UTF-8 cannot carry.
    """
    try:
        joined = "\x00".join(texts).encode("utf-8", "surrogatepass")
        shapes = joined.translate(_ZERO_FOR_DIGITS).decode("utf-8", "surrogatepass").split("\x00")
    except UnicodeError:
        return None
    return shapes if len(shapes) == len(texts) else None


_ASCII_DIGITS = frozenset(range(ord("0"), ord("9") + 1))
_DIGIT_CATEGORIES = {  # does the category hold the ASCII digits (every one, or none)?
    _sre.CATEGORY_DIGIT: True,
    _sre.CATEGORY_NOT_DIGIT: False,
    _sre.CATEGORY_WORD: True,
    _sre.CATEGORY_NOT_WORD: False,
    _sre.CATEGORY_SPACE: False,
    _sre.CATEGORY_NOT_SPACE: True,
    _sre.CATEGORY_LINEBREAK: False,
    _sre.CATEGORY_NOT_LINEBREAK: True,
}


@functools.cache
def digits_alike(pattern: re.Pattern) -> bool:
    """Whether ``pattern`` treats every ASCII digit alike: no literal digit, no class holding some
    digits but not all, no backreference (which could compare two digits); False if unsure.

    Then at every position each test of the pattern (a character, a class, a word
    boundary: the digits are all word characters) gives the same answer for any digit,
    so a text and the text with each digit replaced by another are searched alike.
    Read from the parsed pattern, as ``required_text`` reads it.
    """
    try:
        return _alike(_sre_parser.parse(pattern.pattern, pattern.flags))
    except Exception:  # the parser is CPython's internal one: never let it decide wrongly
        return False


def _alike(items) -> bool:
    for op, value in items:
        if op in (_sre.LITERAL, _sre.NOT_LITERAL):
            alike = value not in _ASCII_DIGITS
        elif op in (_sre.ANY, _sre.AT):
            alike = True
        elif op is _sre.IN:
            alike = _class_alike(value)
        elif op is _sre.BRANCH:
            alike = all(_alike(branch) for branch in value[1])
        elif op is _sre.SUBPATTERN:
            alike = _alike(value[3])
        elif op is _sre.ATOMIC_GROUP:
            alike = _alike(value)
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT):
            alike = _alike(value[2])
        elif op in (_sre.ASSERT, _sre.ASSERT_NOT):
            alike = _alike(value[1])
        else:  # backreferences, conditionals, anything unknown
            alike = False
        if not alike:
            return False
    return True


def _class_alike(items) -> bool:
    """Whether a character class holds every ASCII digit or none (a negation keeps that)."""
    held: set[int] = set()
    for op, value in items:
        if op is _sre.NEGATE:
            continue
        if op is _sre.LITERAL:
            held |= {value} & _ASCII_DIGITS
        elif op is _sre.RANGE:
            held |= set(range(max(value[0], ord("0")), min(value[1], ord("9")) + 1))
        elif op is _sre.CATEGORY and value in _DIGIT_CATEGORIES:
            held |= _ASCII_DIGITS if _DIGIT_CATEGORIES[value] else set()
        else:
            return False
    return len(held) in (0, len(_ASCII_DIGITS))


def _searched(pattern: re.Pattern, texts: np.ndarray) -> np.ndarray:
    """``pattern.search(text) is not None`` for each text, as a boolean array.

    Only the texts holding one of the pattern's required substrings (``required_text``)
    are searched: a plain substring test is many times cheaper than a search, and most
    texts lack the word a group's first pattern names. ``map`` iterates in C.
    """
    found = np.zeros(len(texts), dtype=bool)
    maybe = np.arange(len(texts))
    needed = required_text(pattern)
    if needed is not None:
        holds = np.zeros(len(texts), dtype=bool)
        for part in needed:
            holds |= np.fromiter(map(operator.contains, texts, itertools.repeat(part)), dtype=bool, count=len(texts))
        maybe = maybe[holds]
    hits = map(operator.is_not, map(pattern.search, texts[maybe]), itertools.repeat(None))
    found[maybe] = np.fromiter(hits, dtype=bool, count=len(maybe))
    return found


@functools.cache
def required_text(pattern: re.Pattern) -> frozenset[str] | None:
    """Substrings of which every match of ``pattern`` contains at least one, or None if unknown.

    Read from the parsed pattern: a run of literal characters in sequence is required,
    an alternation requires one of its branches' requirements, a repeat at least once
    its body's, a group its content's. Anything else (classes, anchors, lookarounds,
    case-insensitive parts) requires nothing here. Of a sequence's requirements the one
    with the longest shortest string is kept. Patterns the parser reads otherwise (a
    Python version's internals differ) get None: every text is searched.
    """
    if pattern.flags & re.IGNORECASE:
        return None
    try:
        needed = _required_in(_sre_parser.parse(pattern.pattern, pattern.flags))
    except Exception:  # the parser is CPython's internal one: never let it decide wrongly
        return None
    return frozenset(needed) if needed and all(needed) else None


def _required_in(items) -> set[str] | None:
    options: list[set[str]] = []
    run: list[str] = []
    for op, value in items:
        if op is _sre.LITERAL:
            run.append(chr(value))
            continue
        if run:
            options.append({"".join(run)})
            run = []
        needed = None
        if op is _sre.SUBPATTERN:
            _, add_flags, _, body = value
            needed = None if add_flags & re.IGNORECASE else _required_in(body)
        elif op is _sre.ATOMIC_GROUP:
            needed = _required_in(value)
        elif op is _sre.BRANCH:
            branches = [_required_in(branch) for branch in value[1]]
            needed = set().union(*(b for b in branches if b is not None))
            if any(b is None for b in branches):
                needed = None  # a branch that requires nothing: the alternation neither
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT):
            low, _, body = value
            needed = _required_in(body) if low >= 1 else None
        if needed:
            options.append(needed)
    if run:
        options.append({"".join(run)})
    return max(options, key=lambda strings: min(map(len, strings))) if options else None


def taxonomy_path() -> Path:
    return Path(os.environ.get("PROCURE_TAXONOMY") or DEFAULT_TAXONOMY)


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Read and check a taxonomy file (see the comments in catalogues/taxonomy.toml)."""
    path = Path(path or taxonomy_path())
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TaxonomyError(f"taxonomy {path}: cannot be read: {exc}") from exc
    return _taxonomy_from(path, text)


@functools.lru_cache(maxsize=8)
def _taxonomy_from(path: Path, text: str) -> Taxonomy:
    """The taxonomy of the file ``path`` holding ``text``.

    Remembered per process: every catalogue import loads the taxonomy, and parsing it
    and compiling its patterns cost more than a small file's import. Keyed by the file's
    whole text, so an edited file is read afresh. A Taxonomy is not changed by its users.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
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
