"""Fuzzed rows through every CSV importer: never a crash, and every row accounted for.

Hypothesis writes rows of random text, numbers, unicode, empty cells, quotes,
delimiters and line breaks inside cells, and formula-like text under each importer's
header, as a CSV file (with any delimiter and encoding the reader detects). The
importer must either refuse the whole file with one of the documented ``ProcureError``
subclasses (what the CLI turns into exits 0-3) or import it with ``rows_read ==
rows_accepted + rows_rejected`` == the file's non-blank rows. Any other exception is
what the CLI reports as an internal error (exit 70): a bug.

Deterministic: ``derandomize=True`` and no example database, so CI runs the same
examples every time.
"""

import csv
import io
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procurement import importers as imp
from procurement.errors import DuplicateImportError, InputFileError, ProcureError, UnknownReferenceError

PROFILE_TOML = """\
name = "fuzz-pack"
[columns]
supplier_code = "Product Code"
gtin = "GTIN"
description = "Description"
brand = "Brand"
size = "Size"
pack = "Pack"
price = "Pack Price"
[price]
per = "pack"
"""

# Headers as the docs spell them; values the test database knows, so that some rows match.
IMPORTERS = {
    "trusts": (["code", "name", "region"], ["RXA", "rxb", "RXD", "North West"]),
    "suppliers": (["code", "name", "gs1_prefix"], ["SUP-A", "SUP-D", "5012345", "Alpha Ortho"]),
    "catalogue": (
        ["Product Code", "GTIN", "Description", "Brand", "Size", "Pack", "Pack Price"],
        ["C-1", "Cemented femoral stem", "Tibial insert PS", "Apex", "Box of 10", "EA", "05055555001002"],
    ),
    "usage": (
        ["GTIN", "Item Code", "Supplier", "Qty", "Unit Cost", "Date"],
        ["05012345001005", "A-100", "12-345", "SUP-B", "B-10", "2026-04-01"],
    ),
    "contracts": (
        [
            "trust",
            "supplier",
            "category",
            "reference",
            "start",
            "end",
            "notice_months",
            "exit_fee",
            "extension_months",
            "extension_uplift_pct",
        ],
        ["RXA", "SUP-A", "hip", "knee", "2025-04-01", "31/03/2028", "3%"],
    ),
    "tiers": (
        ["supplier", "offer", "scope", "basis", "threshold", "discount_pct"],
        ["SUP-A", "O1", "hip", "HIP-STEM-CEM", "units", "spend", "100", "5%"],
    ),
    "ratings": (["supplier", "brand", "group", "item_code", "rating"], ["SUP-A", "Exeter", "A-100", "10A", "7A"]),
    "approvals": (
        [
            "trust",
            "supplier",
            "brand",
            "group",
            "decision",
            "clinician",
            "role",
            "date",
            "comment",
            "odep_exception",
        ],
        ["REGIONAL", "RXA", "SUP-B", "Vanguard", "approve", "reject", "Dr X", "2026-04-01", "yes"],
    ),
}

AWKWARD = [
    "",
    " ",
    "\t",
    '"',
    '""',
    "'",
    ",",
    ";",
    "|",
    "\n",
    "\r\n",
    "a,b;c\td|e",
    'say "hi"',
    "=1+2",
    "+44 161",
    "-3",
    "@SUM(A1)",
    "=cmd|' /C calc'!A0",
    "\u00a0",
    "£1,234.50",
    "(12.00)",
    "1e3",
    "NaN",
    "inf",
    "0",
    "00000000000000",
    "31/02/2026",
    "2026-02-30",
    "١٢٣",
    "Müller – Ørsted ✓",
    "x" * 300,
]
numbers = st.one_of(
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.decimals(places=3, allow_nan=False, allow_infinity=False).map(str),
)
text = st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=15)


def cells(known: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(known), st.sampled_from(AWKWARD), numbers, text)


def rows_for(importer: str) -> st.SearchStrategy[list[list[str]]]:
    header, known = IMPORTERS[importer]
    width = len(header)
    row = st.lists(cells(known), min_size=0, max_size=width + 2)  # ragged: short and long rows
    return st.lists(row, min_size=1, max_size=8)


def csv_bytes(header: list[str], rows: list[list[str]], delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows([header, *rows])
    return buffer.getvalue().encode(encoding)


def run_importer(engine, importer: str, path, profile: str) -> imp.ImportReport:
    if importer == "catalogue":
        return imp.import_catalogue(engine, path, supplier="SUP-C", profile=profile)
    if importer == "usage":
        return imp.import_usage(engine, path, trust="RXA")
    return getattr(imp, f"import_{importer}")(engine, path)


FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ALLOWED = (InputFileError, UnknownReferenceError, DuplicateImportError)
# Detected by the reader (docs/formats.md); Windows-1252 cannot hold arbitrary text.
DELIMITERS = [",", ";", "\t", "|"]
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16"]


@pytest.mark.parametrize("importer", list(IMPORTERS))
def test_fuzzed_rows_never_crash_an_importer_and_every_row_is_counted(importer, catalogues, tmp_path):
    profile = tmp_path / "fuzz-pack.toml"
    profile.write_text(PROFILE_TOML, encoding="utf-8")
    header = IMPORTERS[importer][0]
    counter = itertools.count()
    outcomes = {"imported": 0, "refused": 0}

    @FUZZ
    @given(rows=rows_for(importer), delimiter=st.sampled_from(DELIMITERS), encoding=st.sampled_from(ENCODINGS))
    def check(rows, delimiter, encoding):
        path = tmp_path / f"{importer}-{next(counter)}.csv"
        path.write_bytes(csv_bytes(header, rows, delimiter, encoding))
        try:
            report = run_importer(catalogues, importer, path, str(profile))
        except ProcureError as exc:
            assert isinstance(exc, ALLOWED), repr(exc)
            assert path.name in str(exc) or isinstance(exc, UnknownReferenceError), str(exc)
            outcomes["refused"] += 1
            return
        if report.duplicate_of:
            return
        non_blank = sum(1 for row in rows if any(cell.strip() for cell in row))
        assert report.rows_read == non_blank
        assert report.rows_read == report.rows_accepted + report.rows_rejected
        assert len(set(report.rejects["row"])) == report.rows_rejected
        outcomes["imported"] += 1

    check()
    # The header is always valid: most files must get as far as their rows.
    assert outcomes["imported"] > outcomes["refused"], outcomes
