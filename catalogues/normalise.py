"""Vectorised normalisation of raw text columns: money, pack sizes, GTINs, dates, text.

Each parser takes a Series of raw text and returns a ``Parsed`` pair: the parsed
values and, aligned with them, the reason each unusable value was refused (empty
string where the value is fine). Callers turn non-empty reasons into rejected rows
naming the row and column, so nothing here raises on bad data.
"""

import functools
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd
from stdnum import ean

MAX_UNIT_PRICE_GBP = 100_000.0
MAX_PACK_SIZE = 10_000


class Parsed(NamedTuple):
    values: pd.Series
    errors: pd.Series  # "" where the value parsed

    def ok(self) -> pd.Series:
        return self.errors == ""


MEMO_SIZE = 32  # recent distinct-value lists remembered per parser
MEMO_MAX_VALUES = 4096  # longer lists are parsed every time (they seldom recur)


def per_distinct_value[R: (pd.Series, Parsed)](parser: Callable[..., R]) -> Callable[..., R]:
    """Run an element-wise ``parser`` once per distinct raw value and spread the results.

    Catalogue and usage columns repeat a few values many times (pack sizes, brands,
    months, prices): the text work is done on the distinct values only. The result is
    what ``parser`` gives on the whole column: same values, dtypes, index and name.

    Files of one import run repeat whole lists of distinct values too (the same twelve
    months, pack sizes and quantities in every trust's file): the parser's result for a
    list is remembered (the last ``MEMO_SIZE`` lists, keyed by the values in order, their
    dtype, the column's name and the parser's arguments) and spread again. The parsers
    are pure functions of those, so a remembered result is the one they would give.
    """
    memo: OrderedDict[tuple, R] = OrderedDict()
    lock = threading.Lock()

    def parse_distinct(distinct: pd.Series, args: tuple, kwargs: dict) -> R:
        try:
            key = (tuple(distinct), str(distinct.dtype), distinct.name, args, tuple(sorted(kwargs.items())))
            hash(key)
        except TypeError:  # an unhashable argument: nothing to remember it by
            return parser(distinct, *args, **kwargs)
        with lock:  # imports in threads share the memo
            if key in memo:
                memo.move_to_end(key)
                return memo[key]
        result = parser(distinct, *args, **kwargs)
        with lock:
            memo[key] = result
            if len(memo) > MEMO_SIZE:
                memo.popitem(last=False)
        return result

    @functools.wraps(parser)
    def wrapper(raw: pd.Series, *args, **kwargs):
        # Text only: factorize would take 1, 1.0 and True for one value, which parse apart.
        if raw.dtype == object and pd.api.types.infer_dtype(raw, skipna=True) not in ("string", "empty"):
            return parser(raw, *args, **kwargs)
        codes, uniques = pd.factorize(raw, use_na_sentinel=False)
        if len(uniques) == len(raw):  # nothing repeats: no work to save
            return parser(raw, *args, **kwargs)
        distinct = pd.Series(uniques, dtype=raw.dtype, name=raw.name)
        if len(uniques) <= MEMO_MAX_VALUES:
            result = parse_distinct(distinct, args, kwargs)
        else:
            result = parser(distinct, *args, **kwargs)

        # take() makes new Series: a remembered result is never handed out (or changed).
        def spread(series: pd.Series) -> pd.Series:
            return series.take(codes).set_axis(raw.index)

        if isinstance(result, Parsed):
            return Parsed(spread(result.values), spread(result.errors))
        return spread(result)

    return wrapper


# What ``astype(str)`` makes of a column: pandas' default string dtype (``str`` in pandas 3).
_TEXT_DTYPE = pd.Series([""], dtype=object).astype(str).dtype


def is_text(raw: pd.Series) -> bool:
    """Whether every value of ``raw`` is a ``str`` or missing (the columns files are read into)."""
    if isinstance(raw.dtype, pd.StringDtype):
        return True
    return raw.dtype == object and pd.api.types.infer_dtype(raw, skipna=True) in ("string", "empty")


def clean_text(raw: pd.Series) -> pd.Series:
    """Trim and collapse internal whitespace (including non-breaking spaces); missing gives "".

    A column of text is cleaned in one pass: ``str.split()`` splits at exactly the
    characters that ``\\s`` matches in a ``str`` pattern (those ``str.isspace()`` holds
    for, the non-breaking space among them), so joining the parts with one space is the
    general path's replace-and-strip (a test compares the two on arbitrary text).
    """
    if not is_text(raw):
        return _clean_any(raw)
    values = raw.to_numpy(dtype=object).tolist()
    distinct = set(values)
    if 2 * len(distinct) > len(values):  # mostly distinct (codes): clean every value
        cleaned = [" ".join(v.split()) if isinstance(v, str) else "" for v in values]
    else:  # repeating (brands, sizes): clean each distinct value once
        once = {v: " ".join(v.split()) if isinstance(v, str) else "" for v in distinct}
        cleaned = [once[v] for v in values]
    return pd.Series(cleaned, index=raw.index, name=raw.name, dtype=_TEXT_DTYPE)


@per_distinct_value
def _clean_any(raw: pd.Series) -> pd.Series:
    """``clean_text`` of any column (numbers as their text): the general path."""
    return (
        raw.fillna("")
        .astype(str)
        .str.replace("\u00a0", " ", regex=False)
        .str.replace(r"\s+", " ", regex=True)
        .str.strip()
    )


def _errors_like(raw: pd.Series) -> pd.Series:
    return pd.Series("", index=raw.index, dtype="object")


_MONEY_NOISE = re.compile(r"(?i)£|gbp|\s|,|\u00a3")


@per_distinct_value
def parse_money(
    raw: pd.Series,
    *,
    allow_zero: bool = False,
    maximum: float | None = MAX_UNIT_PRICE_GBP,
    what: str = "price",
    money: bool = True,
) -> Parsed:
    """Parse amounts such as ``1234.5``, ``£1,234.50``, ``GBP 99``, ``(12.00)``.

    Returns float GBP rounded to the penny. Refused: blank, not a number (``POA``,
    ``12,34`` with a decimal comma is read as 1234 only when it has three digits
    after the comma), negative, zero unless ``allow_zero``, above ``maximum``.
    ``money=False`` parses other amounts (months, percentages) the same way; only the
    wording of the messages differs.
    """
    text = clean_text(raw)
    # Most amounts are plain ("136.03", "£219.67") or have thousands commas ("£1,234.50"):
    # each is read from the text the general path would read (``_readable_amount``); the
    # rest, if any, go through the general path. Every amount ends rounded to the penny.
    readable = [_readable_amount(t) for t in text.to_numpy(dtype=object)]
    general = np.array([r is None for r in readable], dtype=bool)
    if len(general) and not general.any():
        number = pd.to_numeric(pd.Series(readable, index=raw.index, dtype=object)).astype(float)
        return _money_errors(raw, text, number, allow_zero, maximum, what, money)
    if general.all():
        number, bad_comma = _general_amounts(text)
    else:
        # The general path is element-wise: run on the others alone, it reads them alike.
        rest, rest_comma = _general_amounts(text[general])
        values = np.empty(len(text), dtype=float)
        values[general] = rest.to_numpy(dtype=float)
        values[~general] = pd.to_numeric(pd.Series([r for r in readable if r is not None], dtype=object))
        comma = np.zeros(len(text), dtype=bool)
        comma[general] = rest_comma.to_numpy(dtype=bool)
        number, bad_comma = pd.Series(values, index=text.index), pd.Series(comma, index=text.index)
    return _money_errors(raw, text, number, allow_zero, maximum, what, money, bad_comma)


def _general_amounts(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(amount, a comma that is not a thousands comma) of each cleaned text; NaN: not a number."""
    # Currency and spaces go first, so that "£-5.00" is as negative as "-£5.00".
    bare = text.str.replace(_MONEY_NOISE, "", regex=True)
    negative = bare.str.match(r"^\(.*\)$") | bare.str.startswith("-")
    stripped = bare.str.replace(r"^\((.*)\)$", r"\1", regex=True).str.lstrip("-")
    # A thousands comma is followed by exactly three digits; anything else is ambiguous.
    bad_comma = text.str.contains(r",(?!\d{3}(?:\D|$))", regex=True)
    # Round half up on the decimal digits as written (not on the binary float, whose
    # half-even rounding turned "0.015" into 0.02 but "0.025" into 0.02 as well).
    # ASCII digits only: \d would also accept Arabic-Indic and other Unicode digits.
    parts = stripped.where(stripped.str.fullmatch(r"[0-9]+(\.[0-9]+)?|\.[0-9]+"), None).str.extract(
        r"^(?P<whole>[0-9]*)\.?(?P<frac>[0-9]*)$"
    )
    frac = parts["frac"].str.ljust(3, "0")
    number = pd.to_numeric(parts["whole"] + "." + frac.str.slice(0, 2), errors="coerce")
    number = (number + 0.01 * (frac.str.slice(2, 3) >= "5")).round(2)
    return number.where(~negative, -number).astype(float), bad_comma


def _readable_amount(text: str) -> str | None:
    """The text ``pd.to_numeric`` reads a plain amount from, or None for the general path.

    Plain ("136.03", "£219.67"): the amount without its "£". With thousands commas
    ("£1,234.5"): whole pounds and two decimals ("1234.50"), the text the general path
    builds. Both have at most two decimals, so there is nothing to round half up, and
    ``_money_errors`` rounds every amount to the penny: the same floats as the general path.
    """
    if not _READABLE_MONEY.fullmatch(text):
        return None
    if "," not in text:  # plain
        return text.lstrip("£")
    whole, _, frac = text.lstrip("£").replace(",", "").partition(".")
    return whole + "." + (frac + "00")[:2]


# A plain amount ("£136.03": up to nine digits) or one with thousands commas ("£1,234.50"),
# at most two decimals.
_READABLE_MONEY = re.compile(r"£?(?:[0-9]{1,9}|[0-9]{1,3}(?:,[0-9]{3}){1,2})(?:\.[0-9]{1,2})?")


def _money_errors(
    raw: pd.Series,
    text: pd.Series,
    number: pd.Series,
    allow_zero: bool,
    maximum: float | None,
    what: str,
    money: bool,
    bad_comma: pd.Series | None = None,
) -> Parsed:
    """``parse_money``'s refusals of the amounts read as ``number`` (NaN: not a number).

    The first refusal that applies, in this order: missing, not a number, negative,
    zero (unless allowed), over ``maximum``.
    """
    blank = (text == "").to_numpy(dtype=bool)
    value = number.to_numpy(dtype=float)
    not_number = np.isnan(value) if bad_comma is None else np.isnan(value) | bad_comma.to_numpy(dtype=bool)
    refusals = [(blank, f"missing {what}"), (~blank & not_number, f"{what} is not a number")]
    refusals.append((value < 0, f"negative {what}"))
    if not allow_zero:
        refusals.append((value == 0, f"zero {what}"))
    if maximum is not None:
        limit = f"£{maximum:,.0f}" if money else f"{maximum:,.2f}".rstrip("0").rstrip(".")
        refusals.append((value > maximum, f"implausible {what} (over {limit})"))
    errors = pd.Series(_first_reason(refusals, len(value)), index=raw.index, dtype="object")
    return Parsed(number.round(2).where(errors == ""), errors)


def _first_reason(refusals: list[tuple[np.ndarray, str]], n: int) -> np.ndarray:
    """Per row, the reason of the first refusal whose mask holds there ("" if none), as objects."""
    reasons = np.full(n, "", dtype=object)
    undecided = np.ones(n, dtype=bool)
    for mask, reason in refusals:
        hit = mask & undecided
        reasons[hit] = reason
        undecided &= ~hit
    return reasons


@per_distinct_value
def parse_quantity(raw: pd.Series, *, what: str = "quantity") -> Parsed:
    """Positive numbers (units); fractions allowed (monthly averages), zero refused."""
    text = clean_text(raw).str.replace(",", "", regex=False)
    number = pd.to_numeric(text.where(text.str.fullmatch(r"-?\d+(\.\d+)?"), None), errors="coerce")
    errors = _errors_like(raw)
    errors[text == ""] = f"missing {what}"
    errors[(text != "") & number.isna()] = f"{what} is not a number"
    errors[(errors == "") & (number <= 0)] = f"{what} must be positive"
    errors[(errors == "") & (number > 1e7)] = f"implausible {what}"
    return Parsed(number.where(errors == ""), errors)


_PACK_WORDS_ONE = {"", "ea", "each", "each1", "single", "unit", "1", "one", "pc", "piece"}


@per_distinct_value
def parse_pack(raw: pd.Series) -> Parsed:
    """Pack sizes such as ``Box of 10``, ``10``, ``Pack 5``, ``10/box``, ``EA`` (=1)."""
    text = clean_text(raw).str.lower()
    number = pd.to_numeric(text.str.extract(r"(\d+)", expand=False), errors="coerce")
    is_one = text.str.replace(r"[^a-z0-9]", "", regex=True).isin(_PACK_WORDS_ONE)
    number = number.where(~is_one | number.notna(), 1)
    errors = _errors_like(raw)
    errors[number.isna()] = "pack size not understood"
    errors[(errors == "") & ((number < 1) | (number > MAX_PACK_SIZE))] = "implausible pack size"
    return Parsed(number.where(errors == "").astype("Int64"), errors)


def _gtin14(code: str) -> str | None:
    if len(code) not in (8, 12, 13, 14):
        return None
    # Once a code is clean ASCII digits (it is by now), ean.is_valid checks the check digit.
    clean = code.isascii() and code.isdigit()
    valid = ean.calc_check_digit(code[:-1]) == code[-1] if clean else ean.is_valid(code)
    return code.zfill(14) if valid else None


_GTIN_LENGTHS = (8, 12, 13, 14)
_GTIN_WEIGHTS = [3, 1] * 6 + [3]  # of the 13 digits before the check digit, once padded to 14


def _gtin14_all(text: pd.Series) -> pd.Series:
    """``_gtin14`` of every code ("" gives None), its check digits computed with numpy.

    Codes of ASCII digits of a GTIN length are padded to 14 (leading zeros weigh
    nothing) and checked together: weights 3, 1, 3... from the right of the 13 data
    digits, check digit (10 - sum mod 10) mod 10, as python-stdnum computes it. Any
    other code goes through ``_gtin14`` one at a time.
    """
    values = pd.Series(None, index=text.index, dtype=object)
    ascii_digits = text.str.fullmatch(r"[0-9]+") & text.str.len().isin(_GTIN_LENGTHS)
    if ascii_digits.any():
        padded = text[ascii_digits].str.zfill(14)
        digits = np.frombuffer("".join(padded).encode("ascii"), dtype=np.uint8).reshape(-1, 14) - ord("0")
        check = (10 - (digits[:, :13].astype(np.int64) @ np.array(_GTIN_WEIGHTS)) % 10) % 10
        values[ascii_digits] = padded.where(check == digits[:, 13], None)
    rest = ~ascii_digits & (text != "")
    if rest.any():
        values[rest] = text[rest].map(_gtin14)
    # Spread through ``map`` so that the dtype is inferred as ``text.map(_gtin14)`` infers it.
    found = {code: value if isinstance(value, str) else None for code, value in zip(text, values, strict=True)}
    return text.map(lambda code: found[code])


@per_distinct_value
def normalise_gtin(raw: pd.Series) -> Parsed:
    """GTIN-8/12/13/14 validated by GS1 check digit (python-stdnum) and padded to GTIN-14.

    A blank GTIN is allowed (value ``None``, no error): not every SKU carries one. All
    zeros is read as blank.

    Codes of ASCII digits (nearly all of them) are judged together here, check digits
    with numpy; any other code goes through ``_gtin_general`` (a test compares the two
    on arbitrary codes). A column with a code in scientific notation goes through it whole.
    """
    text = _gtin_text(raw)
    codes = text.to_numpy(dtype=object)
    kind = np.fromiter(map(_gtin_kind, codes), dtype=np.int8, count=len(codes))
    other = kind == _GTIN_OTHER
    if other.any() and text[other].str.fullmatch(_GTIN_SCI).any():
        values, errors = _gtin_general(text)
        return Parsed(values.where(errors == ""), errors)
    found = np.full(len(codes), None, dtype=object)
    reasons = np.full(len(codes), "", dtype=object)
    check = kind == _GTIN_CHECK
    if check.any():
        padded = np.array([code.zfill(14) for code in codes[check]], dtype=object)
        digits = np.frombuffer("".join(padded).encode("ascii"), dtype=np.uint8).reshape(-1, 14) - ord("0")
        valid = (10 - (digits[:, :13].astype(np.int64) @ np.array(_GTIN_WEIGHTS)) % 10) % 10 == digits[:, 13]
        checked = np.flatnonzero(check)
        found[checked[valid]] = padded[valid]
        reasons[checked[~valid]] = "GTIN check digit is wrong"
    reasons[kind == _GTIN_LENGTH] = "GTIN must have 8, 12, 13 or 14 digits"
    if other.any():
        values, errors = _gtin_general(text[other])
        found[other] = [value if isinstance(value, str) else None for value in values]
        reasons[other] = errors.to_numpy(dtype=object)
    # Spread through ``map`` so that the dtype is inferred as the general path infers it.
    by_code = dict(zip(codes, found, strict=True))
    errors = pd.Series(reasons, index=raw.index, dtype="object")
    return Parsed(text.map(by_code.__getitem__).where(errors == ""), errors)


_GTIN_BLANK, _GTIN_CHECK, _GTIN_LENGTH, _GTIN_OTHER = range(4)
_GTIN_SCI = re.compile(r"\d(\.\d+)?[eE]\+?\d+")


def _gtin_kind(code: str) -> int:
    """Blank (or all zeros), ASCII digits of a GTIN length, ASCII digits of another length, or other."""
    if not (code.isascii() and code.isdigit()):
        return _GTIN_BLANK if code == "" else _GTIN_OTHER
    if not code.strip("0"):
        return _GTIN_BLANK
    return _GTIN_CHECK if len(code) in _GTIN_LENGTHS else _GTIN_LENGTH


def _gtin_text(raw: pd.Series) -> pd.Series:
    """The codes without whitespace or hyphens (what ``clean_text`` then removing ``[\\s-]`` gives)."""
    if not is_text(raw):
        return clean_text(raw).str.replace(r"[\s-]", "", regex=True)
    # str.split() splits at exactly the characters \s matches (see clean_text).
    codes = ["".join(v.split()).replace("-", "") if isinstance(v, str) else "" for v in raw.to_numpy(dtype=object)]
    return pd.Series(codes, index=raw.index, name=raw.name, dtype=_TEXT_DTYPE)


def _gtin_general(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(GTIN-14 or None, reason refused) of each code of ``_gtin_text``: the general path."""
    # An XLSX cell formatted as a number may arrive in scientific notation.
    sci = text.str.fullmatch(_GTIN_SCI)
    lossy = pd.Series(False, index=text.index)
    if sci.any():
        # 5.05555E+12 has kept 6 of 13 digits: the rest are zeros made up by the display.
        decimals = text.where(sci).str.extract(r"^\d\.?(\d*)[eE]", expand=False).str.len()
        exponent = pd.to_numeric(text.where(sci).str.extract(r"(\d+)$", expand=False), errors="coerce")
        lossy = (sci & (decimals < exponent) & (exponent < 14)).fillna(False).astype(bool)
        number = pd.to_numeric(text.where(sci), errors="coerce")
        number = number.where(number.abs() < 1e15)  # 5e324 is infinite: left as text, refused
        text = text.where(~sci | number.isna(), number.map(lambda v: "" if pd.isna(v) else f"{int(v)}"))
    # All zeros passes the check digit but is a purchasing system's "no barcode": blank.
    text = text.where(~text.str.fullmatch(r"0+"), "")
    values = _gtin14_all(text)
    errors = _errors_like(text)
    digits = text.str.fullmatch(r"\d+")
    errors[(text != "") & ~digits] = "GTIN has characters other than digits"
    wrong_length = (text != "") & digits & ~text.str.len().isin([8, 12, 13, 14])
    errors[wrong_length] = "GTIN must have 8, 12, 13 or 14 digits"
    errors[(errors == "") & (text != "") & values.isna()] = "GTIN check digit is wrong"
    errors[lossy] = "GTIN in scientific notation has lost its last digits (format the column as text)"
    return values, errors


_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%d/%m/%Y",
    "%d/%m/%y",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%d %b %Y",
    "%d %B %Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%Y/%m/%d",
    "%Y-%m",
    "%b %Y",
    "%B %Y",
    "%b-%y",
    "%b-%Y",
)


@per_distinct_value
def parse_date(raw: pd.Series, *, what: str = "date") -> Parsed:
    """Dates in the formats UK exports use (day first); the first format that fits wins."""
    text = clean_text(raw)
    result = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    for fmt in _DATE_FORMATS:
        todo = result.isna() & (text != "")
        if not todo.any():
            break
        result[todo] = pd.to_datetime(text[todo], format=fmt, errors="coerce")
    errors = _errors_like(raw)
    errors[text == ""] = f"missing {what}"
    errors[(text != "") & result.isna()] = f"{what} not understood (use YYYY-MM-DD or DD/MM/YYYY)"
    errors[(errors == "") & ((result.dt.year < 1990) | (result.dt.year > 2100))] = f"implausible {what}"
    return Parsed(result.dt.date.where(errors == ""), errors)


@per_distinct_value
def parse_bool(raw: pd.Series, *, what: str) -> Parsed:
    text = clean_text(raw).str.lower()
    yes = text.isin(["yes", "y", "true", "1", "x"])
    no = text.isin(["no", "n", "false", "0", ""])
    errors = _errors_like(raw)
    errors[~(yes | no)] = f"{what} must be yes or no"
    return Parsed(yes, errors)


@per_distinct_value
def slug(text: pd.Series) -> pd.Series:
    """Upper-case code fragment for identifiers built from names."""
    cleaned = clean_text(text)
    # Element by element as pandas' str.upper, str.replace and str.strip do, in one pass.
    slugs = [_code_fragment(value) for value in cleaned.tolist()]
    return pd.Series(slugs, index=cleaned.index, name=cleaned.name, dtype=cleaned.dtype)


_NOT_CODE = re.compile(r"[^A-Z0-9]+")


def slug_of(text: str) -> str:
    """``slug`` of one text, without a Series: for the few names of a file or a supplier."""
    return _code_fragment(" ".join(text.split()))


def _code_fragment(cleaned: str) -> str:
    return _NOT_CODE.sub("-", cleaned.upper()).strip("-")
