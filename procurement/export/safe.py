"""Neutralise text that a spreadsheet would run as a formula (CSV/formula injection).

Any text that came from a supplier, a trust or a clinician and starts with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return is prefixed with an apostrophe (the
OWASP recommendation for CSV injection). openpyxl would otherwise store a string that
starts with ``=`` as a formula. The apostrophe stays visible, which is the point: a
reader sees that the supplier's text was neutralised. Numbers are never passed
through here: they are written as numbers.
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
