"""What the importer tests share: reading back rejected rows and counts, refusals that write nothing."""

import pytest

PREFIX_A, PREFIX_B = "5012345", "5098765"


def stored_rejects(rows, engine, import_id: int) -> list[tuple]:
    return [
        (r["row_number"], r["column"], r["value"], r["reason"])
        for r in rows(engine, "SELECT * FROM rejectedrow WHERE import_id = :i ORDER BY row_number, id", i=import_id)
    ]


def assert_counts_add_up(report, rows, engine) -> None:
    assert report.rows_read == report.rows_accepted + report.rows_rejected
    record = rows(engine, "SELECT * FROM dataimport WHERE id = :i", i=report.import_id)[0]
    assert (record["rows_read"], record["rows_accepted"], record["rows_rejected"]) == (
        report.rows_read,
        report.rows_accepted,
        report.rows_rejected,
    )
    distinct_rejected = {r[0] for r in stored_rejects(rows, engine, report.import_id)}
    assert len(distinct_rejected) == report.rows_rejected


def refused_without_writing(call, engine, snapshot, error, match: str):
    before = snapshot(engine)
    with pytest.raises(error, match=match) as info:
        call()
    assert snapshot(engine) == before
    return info.value


TIER_HEADER = ("Supplier", "Offer", "Scope", "Basis", "Threshold", "Discount %")
