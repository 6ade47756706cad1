"""Properties of the vectorised parsers: money, GTINs, pack sizes, dates, text."""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from stdnum import ean

from catalogues.normalise import (
    MAX_UNIT_PRICE_GBP,
    Parsed,
    _clean_any,
    _general_amounts,
    _gtin_general,
    clean_text,
    normalise_gtin,
    parse_bool,
    parse_date,
    parse_money,
    parse_pack,
    parse_quantity,
    slug,
    slug_of,
)

amounts = st.floats(min_value=0.01, max_value=99999.99, allow_nan=False, allow_infinity=False)


def one(parser, value, **kwargs):
    parsed = parser(pd.Series([value], dtype="object"), **kwargs)
    return parsed.values.iloc[0], parsed.errors.iloc[0]


# --------------------------------------------------------------------------- money


@settings(max_examples=150, deadline=None)
@given(amounts)
@example(1234.5)
@example(0.01)
@example(99999.99)
@example(0.015)  # x*100 is 1.5 in floating point: the text "0.015" must not round to even
def test_money_in_every_accepted_spelling_parses_back_to_the_penny(x):
    two_places = [f"£{x:,.2f}", f"{x:.2f}", f" £ {x:,.2f} ", f"GBP {x:.2f}"]
    parsed = parse_money(pd.Series(two_places))
    assert (parsed.errors == "").all(), parsed.errors.tolist()
    assert parsed.values.tolist() == [round(x, 2)] * len(two_places)

    # Full precision ("GBP 12.345"): the text is decimal, so it is rounded half up on its
    # digits, the way a finance team rounds, not on the binary float (which would turn
    # "0.015" into 0.01 and "0.075" into 0.08 inconsistently).
    value, error = one(parse_money, f"GBP {x}")
    assert error == ""
    expected = float(Decimal(repr(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    assert value == expected
    assert abs(value - x) <= 0.005 + 1e-9


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.015", 0.02), ("0.025", 0.03), ("12.345", 12.35), ("12.3449", 12.34), ("2.675", 2.68), ("7", 7.0)],
)
def test_money_rounds_half_up_on_the_decimal_text(text, expected):
    assert one(parse_money, text) == (expected, "")


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Nd",)), max_size=30))
@example("POA")
@example("£")
@example("12,34")
@example("n/a")
@example("\x00")
def test_garbage_money_never_raises_and_says_why(text):
    value, error = one(parse_money, text)
    assert pd.isna(value)
    assert error in {"missing price", "price is not a number"}


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=30))
def test_any_text_gives_a_value_or_a_reason_never_both(text):
    value, error = one(parse_money, text)
    if error:
        assert pd.isna(value)
    else:
        assert 0.01 <= value <= 100_000


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "missing price"),
        ("   ", "missing price"),
        ("POA", "price is not a number"),
        ("12,34", "price is not a number"),  # a decimal comma is ambiguous
        ("1.2.3", "price is not a number"),
        ("-12.00", "negative price"),
        ("(12.00)", "negative price"),
        ("0", "zero price"),
        ("0.00", "zero price"),
        ("100000.01", "implausible price (over £100,000)"),
        ("١٢٣", "price is not a number"),  # Arabic-Indic digits are not a price in a UK file
    ],
)
def test_unusable_money_is_refused_with_a_reason(text, reason):
    value, error = one(parse_money, text)
    assert pd.isna(value)
    assert error == reason


def test_money_options_zero_maximum_and_wording():
    assert one(parse_money, "0", allow_zero=True) == (0.0, "")
    assert one(parse_money, "250000", maximum=None) == (250000.0, "")
    assert one(parse_money, "", what="unit price")[1] == "missing unit price"


# --------------------------------------------------------------------------- GTIN

gtin_bodies = st.sampled_from([8, 12, 13, 14]).flatmap(
    lambda n: st.text(alphabet="0123456789", min_size=n - 1, max_size=n - 1)
)


@settings(max_examples=150, deadline=None)
@given(gtin_bodies)
def test_a_gtin_with_a_correct_check_digit_validates_and_becomes_gtin14(body):
    assume(body.strip("0"))  # all zeros is a placeholder, read as no GTIN (test below)
    code = body + ean.calc_check_digit(body)
    value, error = one(normalise_gtin, code)
    assert error == ""
    assert value == code.zfill(14)
    assert len(value) == 14


@settings(max_examples=150, deadline=None)
@given(gtin_bodies, st.integers(min_value=1, max_value=9))
def test_changing_the_check_digit_always_invalidates_the_gtin(body, shift):
    good = ean.calc_check_digit(body)
    wrong = str((int(good) + shift) % 10)
    value, error = one(normalise_gtin, body + wrong)
    assert value is None or pd.isna(value)
    assert error == "GTIN check digit is wrong"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("501234500001", "GTIN check digit is wrong"),
        ("5012345", "GTIN must have 8, 12, 13 or 14 digits"),
        ("50123450000123", "GTIN check digit is wrong"),
        ("ABC123", "GTIN has characters other than digits"),
        ("501234500001X", "GTIN has characters other than digits"),
    ],
)
def test_bad_gtins_say_what_is_wrong(text, reason):
    assert one(normalise_gtin, text)[1] == reason


def test_gtin_blank_is_allowed_and_spaces_and_dashes_are_tolerated():
    body = "501234500001"
    code = body + ean.calc_check_digit(body)
    spaced = f"{code[:1]} {code[1:7]}-{code[7:]}"
    parsed = normalise_gtin(pd.Series(["", spaced]))
    assert parsed.errors.tolist() == ["", ""]
    assert pd.isna(parsed.values.iloc[0])
    assert parsed.values.iloc[1] == "0" + code


def test_a_gtin_of_all_zeros_is_a_placeholder_read_as_blank():
    # It passes the check digit, but matching usage on it would pick an arbitrary SKU.
    parsed = normalise_gtin(pd.Series(["00000000000000", "0000000000000", "00000000"]))
    assert parsed.errors.tolist() == ["", "", ""]
    assert parsed.values.isna().all()


def test_gtin_in_excel_scientific_notation():
    # A CSV saved from Excel may hold a number-formatted GTIN as 5.012345000121E+12.
    assert ean.is_valid("5012345000121")
    assert one(normalise_gtin, "5.012345000121E+12") == ("05012345000121", "")


# --------------------------------------------------------------------------- packs and quantities


@settings(max_examples=100, deadline=None)
@given(
    st.integers(min_value=1, max_value=10_000),
    st.sampled_from(["Box of {n}", "{n}", "Pack {n}", "{n}/box", "BOX OF {n}", " pack  {n} "]),
)
def test_pack_sizes_in_words_and_numbers(n, template):
    assert one(parse_pack, template.format(n=n)) == (n, "")


@pytest.mark.parametrize("text", ["EA", "ea", "Each", "single", "", "Unit"])
def test_single_unit_packs(text):
    assert one(parse_pack, text) == (1, "")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Box", "pack size not understood"),
        ("Box of 0", "implausible pack size"),
        ("Box of 20000", "implausible pack size"),
    ],
)
def test_bad_pack_sizes(text, reason):
    value, error = one(parse_pack, text)
    assert pd.isna(value)
    assert error == reason


def test_quantities():
    parsed = parse_quantity(pd.Series(["3", "1,200", "2.5", "0", "-1", "", "lots"]))
    assert parsed.values.tolist()[:3] == [3.0, 1200.0, 2.5]
    assert parsed.errors.tolist() == [
        "",
        "",
        "",
        "quantity must be positive",
        "quantity must be positive",
        "missing quantity",
        "quantity is not a number",
    ]


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-04-01", dt.date(2026, 4, 1)),
        ("2026-04-01T00:00:00", dt.date(2026, 4, 1)),
        ("2026-04-01 00:00:00", dt.date(2026, 4, 1)),
        ("01/04/2026", dt.date(2026, 4, 1)),  # UK: day first
        ("1/4/2026", dt.date(2026, 4, 1)),
        ("01/04/26", dt.date(2026, 4, 1)),
        ("01-04-2026", dt.date(2026, 4, 1)),
        ("01.04.2026", dt.date(2026, 4, 1)),
        ("1 Apr 2026", dt.date(2026, 4, 1)),
        ("1 April 2026", dt.date(2026, 4, 1)),
        ("01-Apr-2026", dt.date(2026, 4, 1)),
        ("01-Apr-26", dt.date(2026, 4, 1)),
        ("2026/04/01", dt.date(2026, 4, 1)),
        ("2026-04", dt.date(2026, 4, 1)),
        ("Apr 2026", dt.date(2026, 4, 1)),
        ("April 2026", dt.date(2026, 4, 1)),
        ("Apr-26", dt.date(2026, 4, 1)),
        ("13/12/2025", dt.date(2025, 12, 13)),
    ],
)
def test_every_accepted_date_format(text, expected):
    assert one(parse_date, text) == (expected, "")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("31/02/2026", "date not understood (use YYYY-MM-DD or DD/MM/YYYY)"),
        ("2026-02-30", "date not understood (use YYYY-MM-DD or DD/MM/YYYY)"),
        ("next Tuesday", "date not understood (use YYYY-MM-DD or DD/MM/YYYY)"),
        ("", "missing date"),
        ("01/01/1899", "implausible date"),
    ],
)
def test_impossible_or_missing_dates_are_refused(text, reason):
    value, error = one(parse_date, text)
    assert pd.isna(value)
    assert error == reason


def test_dates_in_one_column_may_mix_formats():
    parsed = parse_date(pd.Series(["2026-04-01", "02/04/2026", "3 Apr 2026", "31/02/2026"]))
    assert parsed.values.tolist()[:3] == [dt.date(2026, 4, 1), dt.date(2026, 4, 2), dt.date(2026, 4, 3)]
    assert parsed.errors.tolist()[:3] == ["", "", ""]
    assert parsed.errors.iloc[3] != ""


# --------------------------------------------------------------------------- text, booleans


def test_clean_text_collapses_whitespace_and_non_breaking_spaces():
    cleaned = clean_text(pd.Series(["  Exeter\u00a0V40 \t stem  ", None]))
    assert cleaned.tolist() == ["Exeter V40 stem", ""]


def test_parse_bool():
    parsed = parse_bool(pd.Series(["yes", "Y", "", "no", "maybe"]), what="odep_exception")
    assert parsed.values.tolist() == [True, True, False, False, False]
    assert parsed.errors.tolist() == ["", "", "", "", "odep_exception must be yes or no"]


# --------------------------------------------------------------------------- distinct values

_RAW = st.sampled_from(
    [
        "",
        " ",
        "£1,234.50",
        "12",
        "12.005",
        "(5.00)",
        "-3",
        "Box of 10",
        "EA",
        "01/04/2026",
        "1 Apr 2026",
        "5012345001007",
        "05012345001007",
        "5.05555E+12",
        "0000000",
        "yes",
        "No",
        "  a  b ",
        "\u00a0x",
        "POA",
        None,
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_RAW, max_size=25), st.sampled_from(["object", "str"]))
def test_parsing_each_distinct_value_once_gives_what_parsing_every_row_gives(values, dtype):
    raw = pd.Series(values, dtype=dtype, index=[7 + 3 * i for i in range(len(values))], name="col")
    for parser in (_clean_any, normalise_gtin, parse_pack, parse_quantity, parse_date, parse_money):
        fast, every_row = parser(raw), parser.__wrapped__(raw)
        if isinstance(fast, pd.Series):
            pd.testing.assert_series_equal(fast, every_row)
        else:
            pd.testing.assert_series_equal(fast.values, every_row.values)
            pd.testing.assert_series_equal(fast.errors, every_row.errors)


def test_numbers_that_compare_equal_but_read_differently_are_parsed_apart():
    # 1, 1.0 and True hash alike; as text they are "1", "1.0" and "True".
    assert clean_text(pd.Series([1, 1.0, True, 1], dtype="object")).tolist() == ["1", "1.0", "True", "1"]


def test_a_remembered_list_of_values_gives_what_parsing_it_again_gives():
    months = pd.Series(["2026-04-01", "2026-05-01", "2026-04-01"], name="date")
    first, again = parse_date(months), parse_date(months.set_axis([5, 6, 7]))
    assert again.values.index.tolist() == [5, 6, 7]
    assert again.values.tolist() == first.values.tolist()
    # Another column name, dtype or argument is another key: parsed, not remembered.
    renamed = parse_money(pd.Series(["0", "0", "5"], name="a"), allow_zero=True)
    refused = parse_money(pd.Series(["0", "0", "5"], name="a"))
    assert renamed.errors.tolist() == ["", "", ""]
    assert refused.errors.tolist() == ["zero price", "zero price", ""]
    assert parse_money(pd.Series(["0", "0"], name="b"), what="fee").errors.tolist() == ["zero fee"] * 2
    # What a caller does to a result does not change what the next caller gets.
    spoilt = clean_text(pd.Series([" x ", " x "], name="c"))
    spoilt[:] = "changed"
    assert clean_text(pd.Series([" x ", " x "], name="c")).tolist() == ["x", "x"]


# --------------------------------------------------------------------------- fast paths

# Text that exercises the fast paths' edges: whitespace of every kind (str.split() and re's
# \s must agree), currency and separators, digits that are not ASCII, scientific notation.
_EDGY = st.text(
    alphabet=st.sampled_from(list("0123456789 ,.-()£eE+aX|") + ["\u00a0", "\u2003", "\x1c", "\t", "\n", "５", "٣"]),
    max_size=16,
)
_MONEYISH = st.from_regex(r"\A\s?(£|GBP ?)?-?[0-9]{0,4}(,[0-9]{1,4}){0,3}(\.[0-9]{0,3})?\s?\Z")
_GTINISH = st.one_of(
    st.from_regex(r"\A[0-9]{6,15}\Z"),
    st.integers(0, 10**12).map(lambda n: ean.calc_check_digit(f"{n:012d}")).map(str),
    st.integers(0, 10**12).map(lambda n: f"{n:012d}" + ean.calc_check_digit(f"{n:012d}")),
    st.from_regex(r"\A[0-9]\.[0-9]{0,12}E\+[0-9]{1,2}\Z"),
    st.just("00000000"),
)
_ANY_TEXT = st.lists(st.one_of(_EDGY, _MONEYISH, _GTINISH, st.none()), max_size=20)


def _general_money(raw: pd.Series, **kwargs) -> Parsed:
    """parse_money as it was before its fast paths: every amount through the general path."""
    what, money = kwargs.get("what", "price"), kwargs.get("money", True)
    allow_zero, maximum = kwargs.get("allow_zero", False), kwargs.get("maximum", MAX_UNIT_PRICE_GBP)
    text = _clean_any.__wrapped__(raw)
    number, bad_comma = _general_amounts(text)
    errors = pd.Series("", index=raw.index, dtype="object")
    errors[text == ""] = f"missing {what}"
    errors[(text != "") & (number.isna() | bad_comma)] = f"{what} is not a number"
    errors[(errors == "") & (number < 0)] = f"negative {what}"
    if not allow_zero:
        errors[(errors == "") & (number == 0)] = f"zero {what}"
    if maximum is not None:
        limit = f"£{maximum:,.0f}" if money else f"{maximum:,.2f}".rstrip("0").rstrip(".")
        errors[(errors == "") & (number > maximum)] = f"implausible {what} (over {limit})"
    return Parsed(number.round(2).where(errors == ""), errors)


def _general_gtin(raw: pd.Series) -> Parsed:
    values, errors = _gtin_general(_clean_any.__wrapped__(raw).str.replace(r"[\s-]", "", regex=True))
    return Parsed(values.where(errors == ""), errors)


def _assert_same(fast, general) -> None:
    if isinstance(fast, pd.Series):
        pd.testing.assert_series_equal(fast, general)
    else:
        pd.testing.assert_series_equal(fast.values, general.values)
        pd.testing.assert_series_equal(fast.errors, general.errors)


@settings(max_examples=400, deadline=None)
@given(_ANY_TEXT, st.sampled_from(["object", "str", "string"]))
@example(["£1,234.5", "136.03", "POA"], "object")
@example(["5012345678900", "5.05555E+12", ""], "object")
@example(["\u00a0 a\x1c b \u2003", None], "str")
def test_the_fast_paths_give_what_the_general_paths_give(values, dtype):
    raw = pd.Series(values, dtype=dtype, index=[3 + 2 * i for i in range(len(values))], name="col")
    _assert_same(clean_text(raw), _clean_any.__wrapped__(raw))
    slugs = clean_text(raw).str.upper().str.replace(r"[^A-Z0-9]+", "-", regex=True).str.strip("-")
    _assert_same(slug.__wrapped__(raw), slugs)
    texts = [isinstance(v, str) for v in values]
    assert [slug_of(v) for v in values if isinstance(v, str)] == slugs[texts].tolist()
    _assert_same(normalise_gtin.__wrapped__(raw), _general_gtin(raw))
    for kwargs in ({}, {"maximum": None}, {"allow_zero": True, "what": "fee"}, {"maximum": 100.0, "money": False}):
        _assert_same(parse_money.__wrapped__(raw, **kwargs), _general_money(raw, **kwargs))
