"""``procure audit``: every import, clinical decision and run, who, when and from which file."""

import datetime as dt
import hashlib
import json
import shutil

import pytest
from click.testing import CliRunner
from sqlalchemy import update
from sqlmodel import Session

from cli import main
from procurement.audit import audit_trail
from procurement.db import open_database
from procurement.errors import ProcureError
from procurement.models import DataImport


@pytest.fixture
def audited(demo_region_db, tmp_path, files):
    """The demo region plus, as user ``lead``: a surgeon's rejection and a scenario run.

    The demo's own 23 imports (the last: switching costs) are back-dated to 1 March 2026 (made by the OS user).
    """
    copy = tmp_path / "procure.db"
    shutil.copy(demo_region_db, copy)
    url = f"sqlite:///{copy}"
    engine = open_database(url)
    with Session(engine) as session:
        session.execute(update(DataImport).values(imported_at=dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)))
        session.commit()
    engine.dispose()
    rejection = files.csv(
        "rxa-decisions.csv",
        [
            ("trust", "supplier", "brand", "group", "decision", "clinician", "date", "comment"),
            ("RXA", "SUP-A", "Fenira", "TRAUMA-NAIL-PF-LONG", "reject", "Mr K. Osei", "2026-11-02",
             "dislocation concerns in our cohort"),
        ],
    )  # fmt: skip

    def procure(*args: str, expect: int = 0):
        result = CliRunner().invoke(main, ["--db", url, "--user", "lead", *args])
        assert result.exit_code == expect, result.output
        assert "Traceback" not in result.output
        return result

    procure("import", "approvals", str(rejection))
    procure("scenario", "define", "pair", "--trusts", "RXA,RXB", "--start", "2027-04-01")
    procure("scenario", "run", "pair")
    return procure, url, hashlib.sha256(rejection.read_bytes()).hexdigest()


def test_the_audit_lists_imports_approvals_and_runs_with_who_when_and_hashes(audited):
    procure, _, rejection_sha = audited
    trail = json.loads(procure("audit", "--json").stdout)
    assert set(trail) == {"imports", "approvals", "runs"}

    imports = trail["imports"]
    assert len(imports) == 24
    assert all(len(i["sha256"]) == 64 and i["who"] and i["when"] for i in imports)
    last = imports[-1]
    assert (last["kind"], last["file"], last["sha256"], last["who"]) == (
        "approvals",
        "rxa-decisions.csv",
        rejection_sha,
        "lead",
    )
    assert (last["rows_read"], last["rows_accepted"], last["rows_rejected"]) == (1, 1, 0)
    usage = [i for i in imports if i["kind"] == "usage"]
    assert len(usage) == 6 and all(i["trust"] for i in usage)

    approvals = trail["approvals"]
    # 98 rows in the demo's approvals file (a brand without a group is one decision per line) + 1
    assert len(approvals) >= 99
    assert all(a["clinician"] and len(a["source_sha256"]) == 64 and a["recorded_by"] for a in approvals)
    decision = approvals[-1]
    assert decision["trust"] == "RXA" and decision["product_line"].startswith("SUP-A:TRAUMA-NAIL-PF-LONG:")
    assert (decision["decision"], decision["clinician"], decision["comment"]) == (
        "reject",
        "Mr K. Osei",
        "dislocation concerns in our cohort",
    )
    assert decision["decided_at"].startswith("2026-11-02")
    assert (decision["source_file"], decision["source_sha256"], decision["recorded_by"]) == (
        "rxa-decisions.csv",
        rejection_sha,
        "lead",
    )
    assert {a["trust"] for a in approvals} >= {"REGIONAL", "RXA"}

    (run,) = trail["runs"]
    assert (run["scenario"], run["status"], run["who"]) == ("pair", "optimal", "lead")
    assert run["objective"] > 0 and len(run["input_hash"]) == 64 and run["when"]


def test_the_audit_filters_by_kind_and_date(audited):
    procure, _, _ = audited
    only_runs = json.loads(procure("audit", "--kind", "run", "--json").stdout)
    assert list(only_runs) == ["runs"]
    two = json.loads(procure("audit", "--kind", "approval", "--kind", "import", "--json").stdout)
    assert list(two) == ["imports", "approvals"]
    # The demo's imports were made on 1 March 2026; only the rejection came later.
    recent = json.loads(procure("audit", "--kind", "import", "--since", "2026-03-02", "--json").stdout)
    assert [i["file"] for i in recent["imports"]] == ["rxa-decisions.csv"]
    assert len(json.loads(procure("audit", "--since", "2026-03-01", "--json").stdout)["imports"]) == 24
    future = procure("audit", "--since", "2999-01-01")
    assert "no imports recorded since 2999-01-01" in future.stdout
    bad = procure("audit", "--since", "last week", expect=1)
    assert "is not a date (YYYY-MM-DD)" in bad.output


def test_the_audit_prints_tables_for_a_person(audited):
    procure, _, rejection_sha = audited
    text = procure("audit").stdout
    for title in ("Audit: imports", "Audit: approvals", "Audit: runs"):
        assert title in text
    assert rejection_sha in text and "Mr K. Osei" in text and "lead" in text


def test_the_library_refuses_an_unknown_kind(audited):
    _, url, _ = audited
    engine = open_database(url)
    with pytest.raises(ProcureError, match="unknown audit kind"):
        audit_trail(engine, kinds=["invoice"])
    assert list(audit_trail(engine, kinds=["run"], since=dt.date(2026, 1, 1))) == ["runs"]
    engine.dispose()
