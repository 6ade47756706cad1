"""The contract every importer shares: refusal writes nothing, a duplicate is reported."""

import pytest
from importer_checks import TIER_HEADER, refused_without_writing

from catalogues.classify import load_taxonomy
from procurement.errors import InputFileError, UnknownReferenceError
from procurement.importers import (
    import_approvals,
    import_catalogue,
    import_contracts,
    import_ratings,
    import_suppliers,
    import_tiers,
    import_trusts,
    import_usage,
    list_imports,
    rejected_rows,
)


@pytest.mark.parametrize(
    ("importer", "kwargs"),
    [
        (import_usage, {"trust": "RXA"}),
        (import_contracts, {}),
        (import_tiers, {}),
        (import_ratings, {}),
        (import_approvals, {}),
        (import_trusts, {}),
        (import_suppliers, {}),
    ],
)
def test_every_importer_refuses_an_unreadable_file_without_writing(catalogues, files, snapshot, importer, kwargs):
    path = files.raw("export.xlsx", b"PK\x03\x04 truncated")
    error = refused_without_writing(
        lambda: importer(catalogues, path, **kwargs),
        catalogues,
        snapshot,
        InputFileError,
        r"export\.xlsx: cannot be opened as XLSX",
    )
    assert error.exit_code == 2


VALID_FILES = {
    "trusts": (import_trusts, {}, [("code", "name"), ("RXD", "Delta Trust")]),
    "suppliers": (import_suppliers, {}, [("code", "name"), ("SUP-D", "Delta Implants")]),
    "usage": (
        import_usage,
        {"trust": "RXA"},
        [("item_code", "qty", "unit_price", "date"), ("A-100", "2", "990", "2026-04-01")],
    ),
    "contracts": (
        import_contracts,
        {},
        [("trust", "supplier", "category", "start", "end"), ("RXA", "SUP-A", "hip", "2024-01-01", "2027-12-31")],
    ),
    "tiers": (import_tiers, {}, [TIER_HEADER, ("SUP-A", "A1", "hip", "units", "100", "2")]),
    "ratings": (import_ratings, {}, [("supplier", "brand", "rating"), ("SUP-A", "Exeter", "10A")]),
    "approvals": (
        import_approvals,
        {},
        [
            ("trust", "supplier", "brand", "decision", "clinician", "date"),
            ("RXA", "SUP-A", "Exeter", "approve", "Mr B Bone", "2026-03-01"),
        ],
    ),
}


@pytest.mark.parametrize("kind", list(VALID_FILES))
def test_every_importer_reports_an_identical_file_as_a_duplicate_and_writes_nothing(catalogues, files, snapshot, kind):
    importer, kwargs, content = VALID_FILES[kind]
    path = files.csv(f"{kind}.csv", content)
    first = importer(catalogues, path, **kwargs)
    assert (first.rows_read, first.rows_accepted, first.duplicate_of) == (1, 1, None)
    before = snapshot(catalogues)
    again = importer(catalogues, path, **kwargs)
    assert again.duplicate_of == first.import_id and again.import_id is None
    assert again.notes == [f"identical file already imported as import #{first.import_id}; nothing written"]
    assert snapshot(catalogues) == before


def test_list_imports_and_rejected_rows(catalogues, files):
    imports = list_imports(catalogues)
    assert imports["kind"].tolist() == ["trusts", "suppliers", "catalogue", "catalogue"]
    assert imports["file_name"].tolist() == ["trusts.csv", "suppliers.csv", "sup-a.csv", "sup-b.xlsx"]
    assert rejected_rows(catalogues, 3).empty
    with pytest.raises(UnknownReferenceError, match=r"no import #99"):
        rejected_rows(catalogues, 99)


def test_a_bad_taxonomy_is_an_input_file_error(
    region, files, catalogue_items, tmp_path, snapshot, monkeypatch, profile
):
    bad = tmp_path / "taxonomy.toml"
    bad.write_text("[categories.hip]\n", encoding="utf-8")
    monkeypatch.setenv("PROCURE_TAXONOMY", str(bad))
    path = files.catalogue("a.csv", catalogue_items["SUP-A"])
    refused_without_writing(
        lambda: import_catalogue(region, path, supplier="SUP-A", profile=profile),
        region,
        snapshot,
        InputFileError,
        r"no \[\[groups\]\]",
    )
    monkeypatch.delenv("PROCURE_TAXONOMY")
    assert (
        import_catalogue(region, path, supplier="SUP-A", profile=profile, taxonomy=load_taxonomy()).rows_accepted == 7
    )
