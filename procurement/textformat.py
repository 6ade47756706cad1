"""How figures read in text output: money, percentages, counts and table cells.

One place, so that every command (and the demo's log) writes a pound amount, a gap or
a count the same way. Missing values (None, NaN, NA) read as an empty string.
"""

import math

import pandas as pd


def is_missing(value) -> bool:
    """None, NaN, ``pd.NA`` or ``pd.NaT``."""
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT


def _signed_pounds(value, places: int) -> str:
    """The sign before the pound: ``-£1,050,000`` (not ``£-1,050,000``); no ``-£0``."""
    text = f"{abs(value):,.{places}f}"
    negative = value < 0 and any(ch not in "0,." for ch in text)
    return f"{'-' if negative else ''}£{text}"


def money(value) -> str:
    """Whole pounds with thousands separators, the sign first: ``£1,234,568``, ``-£1,050,000``."""
    return "" if is_missing(value) else _signed_pounds(value, 0)


def money_pence(value) -> str:
    """Pounds and pence with thousands separators, the sign first: ``£1,234.50``, ``-£0.50``."""
    return "" if is_missing(value) else _signed_pounds(value, 2)


def percent(value, places: int = 3) -> str:
    """A fraction as a percentage: ``0.01234`` reads ``1.234%``."""
    return "" if is_missing(value) else f"{value:.{places}%}"


def count(value) -> str:
    """A whole number with thousands separators: ``12,345``."""
    return "" if is_missing(value) else f"{value:,.0f}"


def decimal(value) -> str:
    """A non-money figure to one decimal place: ``1,234.5``."""
    return "" if is_missing(value) else f"{value:,.1f}"


def cell(value, *, is_money: bool = False, is_percent: bool = False, is_count: bool = False) -> str:
    """One table cell: money in pounds and pence, a fraction as a percentage, a count as a
    whole number, other floats to one decimal, the rest as text.

    None and NaN are blank; any other value prints as ``str`` gives it.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if is_money:
        return money_pence(value)
    if is_percent and isinstance(value, int | float) and not isinstance(value, bool):
        return percent(value, places=1)
    if is_count and isinstance(value, int | float) and not isinstance(value, bool):
        return count(value)
    if isinstance(value, float):
        return decimal(value)
    return str(value)


def progress_line(state: dict) -> str:
    """One line for a long solve: ``stage 2: 128 of 1,656 lines · 45 s · plan £283,667,711 · bound £290,000,000``.

    ``state`` holds ``stage``, ``elapsed`` (seconds), ``incumbent`` and ``bound``
    (GBP, either may be None: shown as "none yet")."""
    parts = [str(state.get("stage") or "starting"), f"{state.get('elapsed') or 0:,.0f} s"]
    incumbent, bound = state.get("incumbent"), state.get("bound")
    parts.append(f"plan {money(incumbent)}" if not is_missing(incumbent) else "plan: none yet")
    parts.append(f"bound {money(bound)}" if not is_missing(bound) else "bound: none yet")
    if not is_missing(incumbent) and not is_missing(bound) and incumbent:
        parts.append(f"gap {percent(max(0.0, bound - incumbent) / max(1.0, abs(incumbent)), 2)}")
    return " · ".join(parts)
