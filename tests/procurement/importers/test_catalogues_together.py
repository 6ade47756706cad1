"""Several catalogues at once (import_catalogues): the same rows as one by one, the same refusals."""

import os
import time
from pathlib import Path

import pytest

from procurement.errors import InputFileError
from procurement.importers import CatalogueFile, catalogue, import_catalogue, import_catalogues
from procurement.importers.ahead import worker_context


def contents(engine, snapshot) -> dict[str, list[tuple]]:
    """Every table's rows, the imports' times left out (they differ between two runs)."""
    tables = snapshot(engine)
    tables["dataimport"] = [row[:8] + row[9:] for row in tables["dataimport"]]
    return tables


def price_lists(files, profile: str, items) -> list[CatalogueFile]:
    second = [list(item) for item in items["SUP-A"] if item[0] != "A-300"]  # A-300 no longer listed
    second[0][6] = "£1,050.00"  # a new price
    second.append(["A-600", "", "Locking plate 6 hole", "LCP", "6", "1", "POA"])  # a rejected row
    return [
        CatalogueFile(files.catalogue("sup-a.csv", items["SUP-A"]), "SUP-A", profile),
        CatalogueFile(files.catalogue("sup-b.xlsx", items["SUP-B"]), "SUP-B", profile),
        CatalogueFile(files.catalogue("sup-a-2.csv", second), "SUP-A", profile),
        CatalogueFile(files.catalogue("sup-a-again.csv", items["SUP-A"]), "SUP-A", profile),  # version 1 again
        CatalogueFile(files.catalogue("sup-a-2-again.csv", second), "SUP-A", profile),  # a duplicate
    ]


def two_databases(templates, tmp_path, lists):
    """Two fresh region databases, the first with ``lists`` imported one by one: (it, the
    other, the reports of the one-by-one imports as dicts)."""
    (tmp_path / "one").mkdir()
    (tmp_path / "together").mkdir()
    one_by_one = templates.open("region", tmp_path / "one")
    together = templates.open("region", tmp_path / "together")
    expected = [import_catalogue(one_by_one, f.path, supplier=f.supplier, profile=f.profile).to_dict() for f in lists]
    return one_by_one, together, expected


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_several_catalogues_at_once_store_what_importing_them_one_by_one_stores(
    templates, tmp_path, files, profile, workers, catalogue_items, snapshot
):
    lists = price_lists(files, profile, catalogue_items)
    one_by_one, together, expected = two_databases(templates, tmp_path, lists)
    reports = import_catalogues(together, lists, workers=workers)
    assert [r.to_dict() for r in reports] == expected
    assert expected[2]["discontinued"] == 1 and expected[2]["rows_rejected"] == 1
    assert expected[4]["duplicate_of"] == expected[2]["import_id"]
    assert contents(together, snapshot) == contents(one_by_one, snapshot)
    one_by_one.dispose()
    together.dispose()


def test_a_file_that_cannot_be_read_stops_the_run_with_import_catalogues_message(
    region, files, profile, rows, catalogue_items
):
    lists = price_lists(files, profile, catalogue_items)
    garbage = CatalogueFile(files.raw("garbage.csv", bytes(range(256)) * 16), "SUP-A", profile)
    with pytest.raises(InputFileError, match=r"garbage\.csv: binary data"):
        import_catalogues(region, [lists[0], garbage, lists[1]])
    # The file before it stays imported; the one after it was not imported.
    imported = rows(region, "SELECT file_name FROM dataimport WHERE kind = 'catalogue' ORDER BY id")
    assert [r["file_name"] for r in imported] == ["sup-a.csv"]


def test_a_file_changed_after_it_was_read_ahead_is_read_again(region, files, profile, catalogue_items):
    path = price_lists(files, profile, catalogue_items)[0].path
    prepared = catalogue._prepare(CatalogueFile(path, "SUP-A", profile))  # what a worker hands back
    prepared.sha256 = "0" * 64  # as if the file had changed since
    # were it used, nothing would be stored
    prepared.accepted = catalogue._Accepted(**{name: [] for name in catalogue._Accepted.__dataclass_fields__})
    importer = catalogue._CatalogueImport(
        supplier="SUP-A", profile=profile, user=None, taxonomy=None, prepared=prepared
    )
    report = importer.run(region, path)
    assert (report.rows_read, report.rows_accepted, report.new_items) == (7, 7, 7)


_REAL_PREPARE = catalogue._prepare
_SLOW: dict = {"pid": None, "read": []}


def _slow_worker(f, taxonomy=None):
    """``_prepare``, half a second late in a (forked) worker; noting the files read by the test's process."""
    if os.getpid() != _SLOW["pid"]:
        time.sleep(0.5)
    else:
        _SLOW["read"].append(Path(f.path).name)
    return _REAL_PREPARE(f, taxonomy)


def test_files_read_here_while_the_worker_is_behind_are_stored_as_the_others(
    templates, tmp_path, files, profile, catalogue_items, snapshot, monkeypatch
):
    monkeypatch.setattr(catalogue, "_prepare", _slow_worker)
    monkeypatch.setitem(_SLOW, "pid", os.getpid())
    monkeypatch.setitem(_SLOW, "read", [])
    lists = price_lists(files, profile, catalogue_items)
    one_by_one, together, expected = two_databases(templates, tmp_path, lists)
    forked = worker_context().get_start_method() == "fork"
    assert [r.to_dict() for r in import_catalogues(together, lists)] == expected
    assert contents(together, snapshot) == contents(one_by_one, snapshot)
    if forked:  # the worker was slowed down: this process read the last file while it waited
        assert "sup-a-2-again.csv" in _SLOW["read"]
    one_by_one.dispose()
    together.dispose()
