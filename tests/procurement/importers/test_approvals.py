"""Approvals: appended to the history, timezone-aware."""

import datetime as dt

from importer_checks import assert_counts_add_up, stored_rejects

from procurement.importers import import_approvals

APPROVAL_HEADER = (
    "Trust",
    "Supplier",
    "Brand",
    "Group",
    "Decision",
    "Clinician",
    "Role",
    "Date",
    "Comment",
    "ODEP Exception",
)


def test_approvals(catalogues, files, rows):
    path = files.csv(
        "approvals.csv",
        [
            APPROVAL_HEADER,
            (
                "REGIONAL",
                "SUP-A",
                "Exeter",
                "",
                "Approved",
                "Ms A Surgeon",
                "Chair, regional panel",
                "2026-03-02",
                "",
                "",
            ),
            (
                "rxa",
                "SUP-A",
                "Corail",
                "HIP-STEM-UNC",
                "conditionally approved",
                "Mr B Bone",
                "Consultant",
                "03/03/2026",
                "only for revision-risk patients",
                "yes",
            ),
            (
                "RXB",
                "SUP-B",
                "Vanguard",
                "KNEE-TRAY",
                "No",
                "Dr C Knee",
                "Consultant",
                "4 Mar 2026",
                "dislocation concerns in our cohort",
                "no",
            ),
            ("RXB", "SUP-A", "Exeter", "", "maybe", "Dr C Knee", "", "2026-03-04", "", ""),
            ("RXQ", "SUP-A", "Exeter", "", "approve", "Dr D", "", "2026-03-04", "", ""),
            ("RXA", "SUP-A", "Exeter", "", "approve", "", "", "2026-03-04", "", ""),
            ("RXA", "SUP-A", "Exeter", "", "approve", "Dr D", "", "2026-03-04", "", "perhaps"),
        ],
    )
    report = import_approvals(catalogues, path)
    assert stored_rejects(rows, catalogues, report.import_id) == [
        (5, "Decision", "maybe", "decision must be approve, reject or conditional"),
        (6, "Trust", "RXQ", "unknown trust code"),
        (7, "Clinician", "", "missing clinician name"),
        (8, "ODEP Exception", "perhaps", "odep_exception must be yes or no"),
    ]
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (7, 3, 4)
    assert_counts_add_up(report, rows, catalogues)
    stored = rows(
        catalogues,
        "SELECT t.code AS trust, a.trust_id, p.code AS line, a.decision, a.odep_exception, a.clinician, a.role, "
        "a.decided_at, a.comment, a.source_sha256, a.import_id FROM approval a "
        "JOIN productline p ON p.id = a.product_line_id LEFT JOIN trust t ON t.id = a.trust_id ORDER BY a.id",
    )
    assert [(s["trust"], s["trust_id"] is None, s["line"], s["decision"], s["odep_exception"]) for s in stored] == [
        (None, True, "SUP-A:HIP-STEM-CEM:EXETER", "approve", 0),
        ("RXA", False, "SUP-A:HIP-STEM-UNC:CORAIL", "conditional", 1),
        ("RXB", False, "SUP-B:KNEE-TRAY:VANGUARD", "reject", 0),
    ]
    assert [s["decided_at"][:10] for s in stored] == ["2026-03-02", "2026-03-03", "2026-03-04"]
    assert stored[2]["comment"] == "dislocation concerns in our cohort"
    assert stored[1]["clinician"] == "Mr B Bone" and stored[1]["role"] == "Consultant"
    assert {s["source_sha256"] for s in stored} == {report.sha256}
    assert {s["import_id"] for s in stored} == {report.import_id}


def test_approvals_are_append_only(catalogues, files, rows):
    first = files.csv(
        "round-1.csv",
        [APPROVAL_HEADER, ("RXA", "SUP-A", "Exeter", "", "approve", "Mr B Bone", "", "2026-03-01", "", "")],
    )
    second = files.csv(
        "round-2.csv",
        [
            APPROVAL_HEADER,
            ("RXA", "SUP-A", "Exeter", "", "reject", "Mr B Bone", "", "2026-06-01", "loosening reports", ""),
        ],
    )
    import_approvals(catalogues, first)
    import_approvals(catalogues, second)
    history = rows(catalogues, "SELECT decision, decided_at FROM approval ORDER BY decided_at")
    assert [h["decision"] for h in history] == ["approve", "reject"]
    # The same file again is a duplicate, not a third decision.
    assert import_approvals(catalogues, second).duplicate_of is not None
    assert rows(catalogues, "SELECT COUNT(*) AS n FROM approval") == [{"n": 2}]


def test_approvals_decided_at_is_timezone_aware(catalogues, files):
    from sqlmodel import Session, select

    from procurement.models import Approval

    import_approvals(
        catalogues,
        files.csv(
            "a.csv", [APPROVAL_HEADER, ("RXA", "SUP-A", "Exeter", "", "approve", "Mr B Bone", "", "2026-03-01", "", "")]
        ),
    )
    with Session(catalogues) as session:
        approval = session.exec(select(Approval)).one()
    assert approval.decided_at == dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    assert approval.recorded_at.tzinfo is not None
