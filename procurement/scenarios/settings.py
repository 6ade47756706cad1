"""Scenario settings: what a scenario says, read from TOML or options, and its calendar.

A scenario is a named set of settings (``ScenarioSettings``), defined from a TOML
file (``[scenarios.NAME]`` tables, :func:`load_scenario_file`) or CLI options and
stored as JSON on ``Scenario``. ``ScenarioSettings.check`` rejects a definition that
cannot be used with a ``ScenarioError`` naming where it came from.

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
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

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
    def from_mapping(cls, data: dict, *, where: str = "scenario") -> "ScenarioSettings":
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known) - {"name", "description"})
        if unknown:
            raise ScenarioError(f"{where}: unknown setting(s) {', '.join(unknown)} (known: {', '.join(known)})")
        values = {k: v for k, v in data.items() if k in known}
        if "trusts" in values:
            values["trusts"] = tuple(str(t) for t in values["trusts"])
        for name in ("start_date", "decision_date"):
            if isinstance(values.get(name), dt.date):
                values[name] = values[name].isoformat()
        settings = cls(**values)
        settings.check(where)
        return settings

    def check(self, where: str = "scenario") -> None:
        def bad(msg: str) -> None:
            raise ScenarioError(f"{where}: {msg}")

        try:
            self.start()
        except (TypeError, ValueError):
            bad(f"start_date {self.start_date!r} is not a date (YYYY-MM-DD)")
        if self.odep_floor:
            try:
                odep_rank(self.odep_floor)
            except ValueError:
                bad(f"odep_floor {self.odep_floor!r} is not an ODEP rating such as 10A or 7A")
        if self.participation not in ("all", "optional"):
            bad('participation must be "all" or "optional"')
        if self.regional_price not in ("best_paid", "catalogue"):
            bad('regional_price must be "best_paid" or "catalogue"')
        if self.solver not in ("highs", "cbc"):
            bad('solver must be "highs" or "cbc"')
        if self.switching_cost < 0:
            bad("switching_cost must be >= 0")
        if self.price_change_pct <= -100:
            bad("price_change_pct must be above -100")
        if self.decision_date is not None:
            try:
                dt.date.fromisoformat(str(self.decision_date))
            except (TypeError, ValueError):
                bad(f"decision_date {self.decision_date!r} is not a date (YYYY-MM-DD)")
        cap = self.max_joins_per_quarter
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            bad(f"max_joins_per_quarter must be a whole number >= 1 (or absent for no limit), got {cap!r}")


def load_scenario_file(path: Path) -> dict[str, ScenarioSettings]:
    """Scenarios defined in a TOML file: ``[scenarios.NAME]`` tables of settings."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputFileError(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputFileError(f"{path}: not a readable TOML file: {exc}") from exc
    tables = data.get("scenarios")
    if not isinstance(tables, dict) or not tables:
        raise InputFileError(f"{path}: no [scenarios.NAME] tables")
    return {
        name: ScenarioSettings.from_mapping(body, where=f"{Path(path).name} [scenarios.{name}]")
        for name, body in tables.items()
    }


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
    "ScenarioError",
    "ScenarioSettings",
    "add_months",
    "financial_year",
    "label",
    "load_scenario_file",
    "month_offset",
    "table_cell",
]
