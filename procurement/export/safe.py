"""Neutralise text that a spreadsheet would run as a formula (CSV/formula injection).

Any text that came from a supplier, a trust or a clinician and starts with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return is prefixed with an apostrophe-free
marker: a single quote is how Excel itself shows "this is text", but openpyxl writes
it literally, so we prefix a zero-width-free plain apostrophe (') and store the cell
as a string. Numbers are never passed through here: they are written as numbers.
"""

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: object) -> object:
    """``value`` unchanged unless it is text that a spreadsheet could execute."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def is_neutralised(value: object) -> bool:
    """True if ``value`` could not be read as a formula by Excel or LibreOffice."""
    return not (isinstance(value, str) and value.startswith(FORMULA_TRIGGERS))
