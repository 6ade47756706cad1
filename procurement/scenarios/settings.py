"""Scenario settings: what a scenario says, read from TOML or options, and its calendar.

A scenario is a named set of settings (``ScenarioSettings``), defined from a TOML
file (``[scenarios.NAME]`` tables, :func:`load_scenario_file`) or CLI options and
stored as JSON on ``Scenario``. One table-driven validator (:func:`validate_settings`,
rows in :data:`RULES`) checks every definition, from options, TOML or ``sweep --vary``,
and lists every problem at once (``SettingsError``: exit 2 for a bad value, 3 for an
unknown name).

Calendar: months count from the scenario's ``start_date``; :func:`month_offset` turns a
date into that month number (rounded up) and :func:`financial_year` a month number
into its NHS financial year (April to March). The regional agreement ends for every
trust on one date, :meth:`ScenarioSettings.common_end` (start + horizon, less a day). Notice on
current contracts can be served from :meth:`ScenarioSettings.decision` (the setting
``decision_date``; default the start minus 6 months, or today if that is later).
"""

import dataclasses
import datetime as dt
import json
import math
import tomllib
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from procurement.errors import InputFileError, ProcureError
from procurement.ratings import odep_rank


class ScenarioError(ProcureError):
    """A scenario definition that cannot be used."""


@dataclass(frozen=True)
class ScenarioSettings:
    """Everything a scenario says; defaults are a cautious regional programme."""

    trusts: tuple[str, ...] = ()  # empty: every trust with usage
    start_date: str = "2027-04-01"
    horizon_months: int = 36
    join_grid_months: int = 3
    range_cap: int = 3
    range_cap_by_group: dict[str, int] = field(default_factory=dict)
    trust_range_cap: int | None = 2
    odep_floor: str | None = "10A"
    min_suppliers: int = 2
    min_suppliers_by_category: dict[str, int] = field(default_factory=dict)
    min_supplier_share: float = 0.05
    max_supplier_share: float = 1.0
    year_one_cap: float | None = None
    switching_cost: float = 15_000.0
    participation: str = "all"
    regional_price: str = "best_paid"
    price_change_pct: float = 0.0
    line_prices: dict[str, float] = field(default_factory=dict)  # what-if: LINE -> regional unit price
    require_approval: bool = True
    solver: str = "highs"
    time_limit: float = 60.0
    gap_rel: float = 1e-4
    decision_date: str | None = None  # None: start minus 6 months, or today if later
    max_joins_per_quarter: int | None = None  # None: no limit on (trust, category) joins a quarter

    def start(self) -> dt.date:
        return dt.date.fromisoformat(self.start_date)

    def common_end(self) -> dt.date:
        """The day the regional agreement ends for every trust: start + horizon, less a day
        (its last day; the finance workbook's "common end date" too)."""
        return add_months(self.start(), self.horizon_months) - dt.timedelta(days=1)

    def decision(self, today: dt.date | None = None) -> dt.date:
        """When the region can first serve notice on current contracts.

        ``decision_date`` if set; else six months before the start, or ``today`` if
        that is later (notice cannot be served in the past).
        """
        if self.decision_date:
            return dt.date.fromisoformat(self.decision_date)
        today = today or dt.date.today()
        return max(add_months(self.start(), -6), today)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_mapping(
        cls, data: dict, *, where: str = "scenario", known: "KnownNames | None" = None
    ) -> "ScenarioSettings":
        """Settings from a mapping (TOML table, options, stored JSON), checked by :func:`validate_settings`."""
        return validate_settings(data, where=where, known=known)

    def check(self, where: str = "scenario", known: "KnownNames | None" = None) -> None:
        """Raise ``SettingsError`` listing every setting out of its allowed range."""
        validate_settings(dataclasses.asdict(self), where=where, known=known)


# --------------------------------------------------------------------------- the validator
#
# One table, one row per setting: its kind (how a value is read and type-checked), the
# allowed range as a test and as the words a user reads, and whether ``None`` ("none")
# is allowed. Options, TOML tables, stored JSON and ``sweep --vary`` all go through
# :func:`validate_settings`, which lists every problem at once. A setting added to
# ``ScenarioSettings`` without a row is still type-checked from its annotation; its row
# adds the range.


@dataclass(frozen=True)
class KnownNames:
    """The codes a scenario may name, from the database (``None``: not checked)."""

    trusts: frozenset[str] | None = None
    groups: frozenset[str] | None = None
    categories: frozenset[str] | None = None


@dataclass(frozen=True)
class Rule:
    """How one setting is checked.

    ``kind``: ``int``, ``float``, ``bool``, ``text``, ``date``, ``odep``, ``codes`` (a list
    of codes), ``caps`` (a table code -> whole number), ``prices`` (a table code ->
    number); ``test`` the allowed range of a number (or of each value of a ``caps`` or
    ``prices`` table) and ``allowed`` the same in words;
    ``choices`` the allowed texts; ``names`` the ``KnownNames`` field codes must be in.
    """

    kind: str
    allowed: str = ""
    test: Callable[[Any], bool] | None = None
    optional: bool = False
    choices: tuple[str, ...] = ()
    names: str | None = None


def _within(low: float, high: float) -> Callable[[Any], bool]:
    return lambda v: low <= v <= high


RULES: dict[str, Rule] = {
    "trusts": Rule("codes", "trust codes (an empty list: every trust with usage)", names="trusts"),
    "start_date": Rule("date", "a date, YYYY-MM-DD"),
    "decision_date": Rule(
        "date", "a date (YYYY-MM-DD) or none: 6 months before the start, or today if later", optional=True
    ),
    "max_joins_per_quarter": Rule("int", ">= 1, or none (no limit)", lambda v: v >= 1, optional=True),
    "horizon_months": Rule("int", "1 to 120", _within(1, 120)),
    "join_grid_months": Rule("int", "1 to 12", _within(1, 12)),
    "range_cap": Rule("int", ">= 1", lambda v: v >= 1),
    "range_cap_by_group": Rule("caps", "group code -> whole number >= 1", lambda v: v >= 1, names="groups"),
    "trust_range_cap": Rule("int", ">= 1, or none", lambda v: v >= 1, optional=True),
    "odep_floor": Rule("odep", "an ODEP rating such as 10A or 7A, or none", optional=True),
    "min_suppliers": Rule("int", ">= 0", lambda v: v >= 0),
    "min_suppliers_by_category": Rule(
        "caps", "category code -> whole number >= 0", lambda v: v >= 0, names="categories"
    ),
    "min_supplier_share": Rule("float", "in (0, 1]", lambda v: 0 < v <= 1),
    "max_supplier_share": Rule("float", "in (0, 1]", lambda v: 0 < v <= 1),
    "year_one_cap": Rule("float", "in [0, 1], or none", _within(0, 1), optional=True),
    "switching_cost": Rule("float", ">= 0 (GBP)", lambda v: v >= 0),
    "participation": Rule("text", "", choices=("all", "optional")),
    "regional_price": Rule("text", "", choices=("best_paid", "catalogue")),
    "price_change_pct": Rule("float", "above -100", lambda v: v > -100),
    "line_prices": Rule("prices", "product line code -> regional unit price above 0 (GBP)", lambda v: v > 0),
    "require_approval": Rule("bool", "true or false"),
    "solver": Rule("text", "", choices=("highs", "cbc")),
    "time_limit": Rule("float", "> 0 seconds, at most a week", lambda v: 0 < v <= 604_800),
    "gap_rel": Rule("float", "0 to 1", _within(0, 1)),
}
IGNORED_KEYS = frozenset({"name", "description"})  # a TOML table may carry them


class SettingsError(ScenarioError):
    """Scenario settings refused: every problem, each naming the setting and its allowed range.

    Exit code 2 when a value is wrong, 3 when every problem is an unknown name (a
    setting, trust, group or category the database does not know).
    """

    def __init__(self, where: str, problems: list[tuple[str, str, bool]]):
        self.where = where
        self.problems = problems  # (setting, message, is an unknown name)
        self.exit_code = 3 if all(unknown for _, _, unknown in problems) else 2
        lines = "\n".join(f"  {setting}: {message}" for setting, message, _ in problems)
        super().__init__(f"{where}: {len(problems)} setting(s) refused:\n{lines}")


def rule_of(name: str) -> Rule | None:
    """The rule of setting ``name``: its row, else one derived from the field's annotation."""
    if name in RULES:
        return RULES[name]
    fields = {f.name: f for f in dataclasses.fields(ScenarioSettings)}
    if name not in fields:
        return None
    annotation = fields[name].type
    optional = False
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        optional, annotation = len(args) < len(get_args(annotation)), args[0]
    scalar_kinds: dict[object, str] = {int: "int", float: "float", bool: "bool", str: "text"}
    container_kinds: dict[object, str] = {tuple: "codes", dict: "caps"}
    kind = scalar_kinds.get(annotation)
    if kind is None:
        kind = container_kinds.get(get_origin(annotation), "any")
    return Rule(kind, optional=optional)


def _type_name(value: object) -> str:
    return {bool: "true/false", int: "a whole number", float: "a number", str: "text"}.get(
        type(value), type(value).__name__
    )


def _read(rule: Rule, value: object) -> tuple[object, str | None]:
    """``(value in the setting's type, None)`` or ``(None, why it is refused)``."""
    if value is None or (rule.optional and isinstance(value, str) and value.strip().lower() == "none"):
        return (None, None) if rule.optional else (None, "must be given (none is not allowed)")
    kind = rule.kind
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                return None, f"{value!r} is {_type_name(value)}, not a whole number"
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, f"{value!r} is {_type_name(value)}, not a number"
        value = float(value)
        if not math.isfinite(value):
            return None, f"{value!r} is not a finite number"
    elif kind == "bool":
        if not isinstance(value, bool):
            return None, f"{value!r} is not true or false"
    elif kind == "text":
        if not isinstance(value, str):
            return None, f"{value!r} is {_type_name(value)}, not text"
    elif kind == "date":
        if isinstance(value, dt.datetime):
            value = value.date()
        if isinstance(value, dt.date):
            return value.isoformat(), None
        try:
            return dt.date.fromisoformat(str(value)).isoformat(), None
        except ValueError:
            return None, f"{value!r} is not a date (YYYY-MM-DD)"
    elif kind == "odep":
        try:
            odep_rank(str(value))
        except (TypeError, ValueError):
            return None, f"{value!r} is not an ODEP rating such as 10A or 7A (or none)"
        return str(value), None
    elif kind == "codes":
        if isinstance(value, str) or not isinstance(value, list | tuple):
            return None, f"{value!r} is not a list of codes"
        if not all(isinstance(v, str) and v.strip() for v in value):
            return None, f"{list(value)!r}: every code must be non-empty text"
        codes = tuple(v.strip() for v in value)
        if len(set(codes)) < len(codes):
            return None, f"{list(codes)!r} repeats a code"
        return codes, None
    elif kind == "caps":
        if not isinstance(value, dict):
            return None, f"{value!r} is not a table of code = whole number"
        bad = [f"{k} = {v!r}" for k, v in value.items() if isinstance(v, bool) or not isinstance(v, int)]
        if bad:
            return None, f"{', '.join(bad)}: not a whole number"
        return {str(k): int(v) for k, v in value.items()}, None
    elif kind == "prices":
        if not isinstance(value, dict):
            return None, f"{value!r} is not a table of code = price"
        bad = [
            f"{k} = {v!r}"
            for k, v in value.items()
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)
        ]
        if bad:
            return None, f"{', '.join(bad)}: not a number"
        return {str(k): float(v) for k, v in value.items()}, None
    if rule.choices and value not in rule.choices:
        return None, f"{value!r} is not one of {', '.join(rule.choices)}"
    return value, None


def _out_of_range(rule: Rule, value: object) -> str | None:
    if rule.test is None or value is None:
        return None
    values = value.items() if isinstance(value, dict) else [(None, value)]
    bad = [f"{k} = {v!r}" if k is not None else repr(v) for k, v in values if not rule.test(v)]
    return f"{', '.join(bad)} is out of range: allowed {rule.allowed}" if bad else None


def _unknown_codes(rule: Rule, value: object, known: KnownNames | None) -> str | None:
    allowed = getattr(known, rule.names, None) if (known is not None and rule.names) else None
    if allowed is None or not value:
        return None
    # Codes come as a tuple (a list of names) or a dict keyed by code (caps).
    codes = list(value) if isinstance(value, Iterable) else [value]
    unknown = [c for c in codes if c not in allowed]
    if not unknown:
        return None
    listed = ", ".join(sorted(allowed)) or "none imported yet"
    return f"unknown {rule.names} {', '.join(map(str, unknown))} (known: {listed})"


def validate_settings(
    data: Mapping[str, object], *, where: str = "scenario", known: KnownNames | None = None
) -> ScenarioSettings:
    """``ScenarioSettings`` from ``data``, or ``SettingsError`` listing every problem at once.

    Checks, per setting: that it exists, its type (``range_cap = "two"`` is refused),
    its allowed range (:data:`RULES`), and with ``known`` that the trusts, groups and
    categories it names exist. Dates become ISO text, lists of codes tuples.
    """
    problems: list[tuple[str, str, bool]] = []
    values: dict[str, Any] = {}  # each checked against its field's rule above
    for name, raw in data.items():
        if name in IGNORED_KEYS:
            continue
        rule = rule_of(name)
        if rule is None:
            known_settings = ", ".join(f.name for f in dataclasses.fields(ScenarioSettings))
            problems.append((name, f"unknown setting (known: {known_settings})", True))
            continue
        value, why = _read(rule, raw)
        why = why or _out_of_range(rule, value)
        if why:
            if rule.allowed and "allowed" not in why:
                why += f"; allowed: {rule.allowed}"
            problems.append((name, why, False))
            continue
        unknown = _unknown_codes(rule, value, known)
        if unknown:
            problems.append((name, unknown, True))
            continue
        values[name] = value
    if problems:
        raise SettingsError(where, problems)
    return ScenarioSettings(**values)


def load_scenario_file(path: Path, *, known: KnownNames | None = None) -> dict[str, ScenarioSettings]:
    """Scenarios defined in a TOML file: ``[scenarios.NAME]`` tables of settings.

    Every table is validated; the problems of all of them are listed together.
    """
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputFileError(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputFileError(f"{path}: not a readable TOML file: {exc}") from exc
    tables = data.get("scenarios")
    if not isinstance(tables, dict) or not tables:
        raise InputFileError(f"{path}: no [scenarios.NAME] tables")
    defined: dict[str, ScenarioSettings] = {}
    problems: list[tuple[str, str, bool]] = []
    for name, body in tables.items():
        if not isinstance(body, dict):
            problems.append((f"[scenarios.{name}]", "is not a table of settings", False))
            continue
        try:
            defined[name] = validate_settings(body, where=f"[scenarios.{name}]", known=known)
        except SettingsError as exc:
            problems += [(f"[scenarios.{name}] {setting}", why, unknown) for setting, why, unknown in exc.problems]
    if problems:
        raise SettingsError(Path(path).name, problems)
    return defined


def month_offset(start: dt.date, when: dt.date) -> int:
    """Whole months from ``start`` to ``when``, rounded up (a contract ending mid-month
    is free from the next month)."""
    months = (when.year - start.year) * 12 + (when.month - start.month)
    return months + (1 if when.day > start.day else 0)


def add_months(start: dt.date, months: int) -> dt.date:
    """The first day of the month ``months`` after ``start``'s month (may be negative)."""
    total = start.month - 1 + months
    return dt.date(start.year + total // 12, total % 12 + 1, 1)


def financial_year(start: dt.date, month: int) -> str:
    """NHS financial year label (April to March) of month ``month`` after ``start``."""
    total = start.month - 1 + month
    year, month0 = start.year + total // 12, total % 12 + 1
    fy_start = year if month0 >= 4 else year - 1
    return f"{fy_start}/{str(fy_start + 1)[-2:]}"


# --------------------------------------------------------------------------- values as text

ALL_TRUSTS = "all"  # trusts=all: every trust with usage (the empty list)


def label(value: object) -> str:
    """A setting's value as text for a scenario name: ``1``, ``0.05``, ``RXA+RXB``, ``all``, ``none``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    if isinstance(value, list | tuple):
        return "+".join(str(v) for v in value) if value else ALL_TRUSTS
    return str(value)


def table_cell(value: object) -> object:
    """A setting's value for a table cell: lists as ``RXA+RXB`` (``all``); numbers stay numbers."""
    if isinstance(value, list | tuple):
        return label(value)
    return value


__all__ = [
    "ALL_TRUSTS",
    "RULES",
    "KnownNames",
    "Rule",
    "ScenarioError",
    "ScenarioSettings",
    "SettingsError",
    "add_months",
    "financial_year",
    "label",
    "load_scenario_file",
    "month_offset",
    "table_cell",
    "validate_settings",
]
