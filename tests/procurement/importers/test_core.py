"""The contract every importer shares: refusal writes nothing, a duplicate is reported."""

import numpy as np
import pandas as pd
import pytest
from importer_checks import TIER_HEADER, refused_without_writing

from catalogues.classify import load_taxonomy
from catalogues.read import ROW_COLUMN
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
from procurement.importers.core import Problems


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


def _frame_as_pandas_did(table: pd.DataFrame, headings: dict, adds: list) -> pd.DataFrame:
    """The reference (the code before plain lists): a frame per add over the table's rows,
    concatenated, values as text, sorted stably by row and column."""
    parts = []
    for mask, column, reason in adds:
        at = np.flatnonzero(mask.to_numpy(dtype=bool))
        parts.append(
            pd.DataFrame(
                {
                    "index": table.index[at],
                    "row": table[ROW_COLUMN].array[at],
                    "column": headings.get(column, column),
                    "value": table[column].array[at] if column in table else "",
                    "reason": reason.array[at] if isinstance(reason, pd.Series) else reason,
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    out["value"] = out["value"].astype(str).str.slice(0, 200)
    return out.sort_values(["row", "column"], kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("kind", ["text", "mixed"])
def test_problems_columns_sort_by_row_then_column_keeping_the_order_found_and_write_values_as_pandas_does(kind):
    long = "x" * 250
    cells = ["a", None, long, "b", "c", "d"] if kind == "text" else ["a", 2.5, long, np.nan, 7, None]
    table = pd.DataFrame(
        {ROW_COLUMN: [5, 3, 3, 9, 4, 3], "price": pd.Series(cells, dtype=object), "code": list("pqrstu")}
    )
    headings = {"price": "Unit Price", "code": "Item"}
    adds = [
        (pd.Series([True, False, True, False, True, True]), "price", "not a price"),
        (pd.Series([False, True, True, False, False, True]), "code", pd.Series(list("klmnop"))),
        (pd.Series([False, False, True, True, False, False]), "price", "second problem, same cell"),
        (pd.Series([True, False, False, False, False, False]), "missing", "a column the file lacks"),
    ]
    problems = Problems(table, headings)
    for mask, column, reason in adds:
        problems.add(mask, column, reason)
    got = pd.DataFrame(problems.columns())
    pd.testing.assert_frame_equal(got, _frame_as_pandas_did(table, headings, adds))
    # by row, then column; within row 3's "Unit Price", the order found (the first add, then the third)
    assert got["row"].tolist() == [3, 3, 3, 3, 3, 3, 4, 5, 5, 9]
    assert got.loc[got["row"] == 3, "reason"].tolist() == [
        *"lmp",
        "not a price",
        "not a price",
        "second problem, same cell",
    ]
    assert got["value"].str.len().max() == 200
    if kind == "mixed":  # None and NaN stay missing, a number is written as text
        assert got["value"].isna().sum() == 2 and "7" in got["value"].tolist()
