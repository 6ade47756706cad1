"""Bad input, through the ``procure`` command line: the corpus in tests/data/bad.

The developers' bar for a bad file: a clear message naming the file (and, for a row
problem, the row and the column), a non-zero exit where the command could not do its
job, never a Python traceback, and nothing lost or half-written. Each file of the
corpus and what it must do is listed in tests/data/bad/MANIFEST.toml (convention:
tests/data/bad/README.md). Plus: a large usage export imports in bounded memory.
"""

import json
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import EXIT_INTERNAL, main

CORPUS = Path(__file__).parent / "data" / "bad"
CASES = tomllib.loads((CORPUS / "MANIFEST.toml").read_text(encoding="utf-8"))["case"]
# The table each importer writes its accepted rows to (``stored`` in the manifest).
TABLES = {
    "trusts": "trust",
    "suppliers": "supplier",
    "catalogue": "itemprice",
    "usage": "usage",
    "contracts": "contract",
    "tiers": "volumetier",
    "ratings": "clinicalrating",
    "approvals": "approval",
}
INPUT_SUFFIXES = {".csv", ".xlsx", ".xls"}


@pytest.fixture
def procure(db_url):
    """Run ``procure --db URL ARGS...``; never a traceback, never an internal error."""
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(main, ["--db", db_url, "--user", "tester", *map(str, args)])
        assert "Traceback" not in result.stdout + result.stderr, result.stderr
        assert result.exit_code != EXIT_INTERNAL, result.stderr
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        return result

    return run


def test_the_manifest_lists_every_file_of_the_corpus_once():
    files = sorted(p.name for p in CORPUS.iterdir() if p.suffix in INPUT_SUFFIXES)
    listed = [case["file"] for case in CASES]
    assert sorted(listed) == files
    assert len(files) >= 40
    assert {case["importer"] for case in CASES} == set(TABLES)
    for case in CASES:
        assert case["exit"] in (0, 1, 2, 3), case["file"]
        if case["exit"]:
            assert case["message"], case["file"]
        else:
            assert case["rows_read"] >= case["accepted"] >= 0, case["file"]
            rejected_rows = {r["row"] for r in case.get("rejects", [])}
            assert len(rejected_rows) == case["rows_read"] - case["accepted"], case["file"]


def _new_rows(before: dict, after: dict, table: str) -> set[tuple]:
    return set(after[table]) - set(before[table])


@pytest.mark.parametrize("case", CASES, ids=[case["file"] for case in CASES])
def test_a_bad_file_is_refused_or_its_rows_rejected_as_documented(case, catalogues, procure, snapshot):
    name = case["file"]
    args = [a.replace("{corpus}", str(CORPUS)) for a in case.get("args", [])]
    before = snapshot(catalogues)
    result = procure("import", case["importer"], CORPUS / name, *args, "--json")
    assert result.exit_code == case["exit"], (result.stdout, result.stderr)
    after = snapshot(catalogues)

    if case["exit"] != 0:
        # Could not be used: one line naming the file and the problem; nothing written.
        assert after == before
        message = result.stderr.strip()
        assert message.startswith("Error: ") and "\n" not in message, message
        if case.get("names_file", True):
            assert f"{name}:" in message, message
        for fragment in case["message"]:
            assert fragment in message, (fragment, message)
        assert json.loads(result.stdout) == {"error": message.removeprefix("Error: "), "exit_code": case["exit"]}
        return

    # Usable: the good rows are stored, every bad one is listed with its row and column.
    report = json.loads(result.stdout)
    assert report["file"] == name and report["duplicate_of"] is None
    assert (report["rows_read"], report["rows_accepted"]) == (case["rows_read"], case["accepted"])
    assert report["rows_read"] == report["rows_accepted"] + report["rows_rejected"]
    record = next(r for r in json.loads(procure("imports", "--json").stdout) if r["id"] == report["import_id"])
    assert (record["file_name"], record["rows_read"], record["rows_accepted"], record["rows_rejected"]) == (
        name,
        report["rows_read"],
        report["rows_accepted"],
        report["rows_rejected"],
    )
    listed = json.loads(procure("rejects", "--import", report["import_id"], "--json").stdout)
    shown = procure("rejects", "--import", report["import_id"])  # the table: values are not markup
    assert shown.exit_code == 0 and all(str(r["row"]) in shown.stdout for r in listed)
    assert listed == report["rejects"]
    assert len({r["row"] for r in listed}) == report["rows_rejected"]
    expected = {(r["row"], r["column"]): r["reason"] for r in case.get("rejects", [])}
    assert {(r["row"], r["column"]) for r in listed} == set(expected)
    for reject in listed:
        assert expected[reject["row"], reject["column"]] in reject["reason"], reject

    assert len(_new_rows(before, after, TABLES[case["importer"]])) == case["stored"]
    stored_cells = {cell for table in after for row in _new_rows(before, after, table) for cell in row}
    for text in case.get("text", []):
        assert text in stored_cells, (text, sorted(c for c in stored_cells if isinstance(c, str)))


# --------------------------------------------------------------------------- a large file

LARGE_ROWS = 300_000
# Peak resident memory the import may add to the process, in MB. Measured (Linux,
# Python 3.12, pandas 3): about 230 MB for this 20 MB, 300,000-row file; the reader of
# issue 7 (whole grid in lists, one insert of every row) needed about 600 MB.
RSS_GROWTH_LIMIT_MB = 500

_MEASURE = textwrap.dedent(
    """
    import resource, sys
    from procurement.db import open_database
    import cli

    url, path = sys.argv[1], sys.argv[2]
    open_database(url).dispose()  # every module the import needs is loaded
    scale = 1 if sys.platform != "darwin" else 1024  # ru_maxrss: KB on Linux, bytes on macOS
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
    cli.main(["--db", url, "import", "usage", path, "--trust", "RXA", "--json"], standalone_mode=False)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
    print(f"{before:.0f} {after:.0f}", file=sys.stderr)
    """
)


def _write_large_usage(path: Path, rows: int) -> None:
    """A year of order lines as a purchasing system exports them: many columns, few used."""
    codes = ["A-100", "A-101", "A-200", "A-300", "A-400", "A-500"]
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("Order Date,Order No,Item Code,Description,Qty,Unit Cost,Ward,Cost Centre\r\n")
        for i in range(rows):
            out.write(
                f"{1 + i % 28:02d}/{1 + i % 12:02d}/2025,PO{i:07d},{codes[i % 6]},Implant {i % 97},"
                f"{1 + i % 3},{100 + i % 50}.50,Theatre {i % 9},CC{i % 1000:04d}\r\n"
            )


@pytest.mark.slow
def test_a_large_usage_file_imports_in_bounded_memory(catalogues, db_url, tmp_path, count):
    path = tmp_path / "large-usage.csv"
    _write_large_usage(path, LARGE_ROWS)
    size_mb = path.stat().st_size / 1e6
    assert 15 < size_mb < 30
    catalogues.dispose()
    # A fresh process, so that the peak measured is this import's, not an earlier test's.
    child = subprocess.run(
        [sys.executable, "-c", _MEASURE, db_url, str(path)], capture_output=True, text=True, timeout=300
    )
    assert child.returncode == 0, child.stderr[-2000:]
    report = json.loads(child.stdout)
    assert (report["rows_read"], report["rows_accepted"], report["rows_rejected"]) == (LARGE_ROWS, LARGE_ROWS, 0)
    assert count(catalogues, "usage") == LARGE_ROWS
    before_kb, after_kb = map(float, child.stderr.split()[-2:])
    growth_mb = (after_kb - before_kb) / 1024
    print(f"large usage file: {size_mb:.1f} MB, {LARGE_ROWS} rows, peak RSS growth {growth_mb:.0f} MB")
    assert growth_mb < RSS_GROWTH_LIMIT_MB
