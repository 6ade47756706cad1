"""How figures read in text output: money, percentages, counts and table cells.

One place, so that every command (and the demo's log) writes a pound amount, a gap or
a count the same way. Missing values (None, NaN, NA) read as an empty string.
"""

import math

import pandas as pd


def is_missing(value) -> bool:
    """None, NaN, ``pd.NA`` or ``pd.NaT``."""
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT


def money(value) -> str:
    """Whole pounds with thousands separators: ``£1,234,568``."""
    return "" if is_missing(value) else f"£{value:,.0f}"


def money_pence(value) -> str:
    """Pounds and pence with thousands separators: ``£1,234.50``."""
    return "" if is_missing(value) else f"£{value:,.2f}"


def percent(value, places: int = 3) -> str:
    """A fraction as a percentage: ``0.01234`` reads ``1.234%``."""
    return "" if is_missing(value) else f"{value:.{places}%}"


def count(value) -> str:
    """A whole number with thousands separators: ``12,345``."""
    return "" if is_missing(value) else f"{value:,.0f}"


def decimal(value) -> str:
    """A non-money figure to one decimal place: ``1,234.5``."""
    return "" if is_missing(value) else f"{value:,.1f}"


def cell(value, *, is_money: bool = False) -> str:
    """One table cell: money in pounds and pence, other floats to one decimal, the rest as text.

    None and NaN are blank; any other value prints as ``str`` gives it.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if is_money:
        return money_pence(value)
    if isinstance(value, float):
        return decimal(value)
    return str(value)
