"""The demo's constant tables (procurement/demo/data.py reading procurement/demo/data/*.toml).

The generated files are checked in tests/procurement/test_demo.py; here the tables
themselves: that they agree with the taxonomy and the shipped import profiles they are
written for, and that every name one table uses is defined by another.
"""

import tomllib
from pathlib import Path

from procurement.demo import data

ROOT = Path(__file__).resolve().parents[3]
TAXONOMY = tomllib.loads((ROOT / "catalogues" / "taxonomy.toml").read_text(encoding="utf-8"))
PROFILES = ROOT / "catalogues" / "profiles"


def test_groups_are_the_taxonomys_in_its_order_and_categories():
    taxonomy = [(g["code"], g["category"]) for g in TAXONOMY["groups"]]
    assert [(g.code, g.category) for g in data.GROUPS] == taxonomy


def test_part_tokens_are_unique_and_templates_name_only_their_dimensions():
    tokens = [p.token for g in data.GROUPS for p in g.parts]
    assert len(tokens) == len(set(tokens))
    for group in data.GROUPS:
        assert 0 <= group.pick <= len(group.parts)
        for part in group.parts:
            first = {d.key: d.text[0] for d in part.dims} | {d.key + "_c": d.code[0] for d in part.dims}
            for template in (part.desc, part.size, part.code):
                template.format(**first)  # KeyError: a template names a dimension the part lacks
            for dim in part.dims:
                assert len(dim.text) == len(dim.code)
                assert dim.weights is None or len(dim.weights) == len(dim.text)
            lo, hi = part.price
            assert 0 < lo < hi


def test_family_tables_name_known_groups_and_families():
    codes = {g.code for g in data.GROUPS}
    families = {g.family for g in data.GROUPS}
    assert set(data.FAMILY_BRANDS) <= families
    assert set(data.DROPOUTS) <= families
    dropped = {code for drops in data.DROPOUTS.values() for group_codes, _ in drops for code in group_codes}
    assert dropped <= codes
    assert set(data.OPTIONAL_GROUPS) <= codes


def test_a_locking_plates_price_is_scaled_by_its_site():
    plates = next(g for g in data.GROUPS if g.code == "TRAUMA-PLATE-LOCK")
    femur = next(p for p in plates.parts if p.token == "PLDF")
    assert femur.price == (220 * 1.5, 380 * 1.5)


def test_catalogue_layouts_are_the_shipped_profiles_with_their_header_rows():
    assert sorted(data.CATALOGUE_LAYOUTS) == sorted(p.stem for p in PROFILES.glob("demo-*.toml"))
    for name, layout in data.CATALOGUE_LAYOUTS.items():
        profile = tomllib.loads((PROFILES / f"{name}.toml").read_text(encoding="utf-8"))
        assert profile.get("header_row", 1) == layout["header_row"] == data.LAYOUT_HEADER_ROWS[name]
        assert layout["suffix"] in (".csv", ".xlsx")


def test_usage_layouts_record_unknown_items_in_a_column_they_have():
    for layout in data.USAGE_LAYOUTS.values():
        assert layout.unknown_column in layout.columns
        assert layout.dates in ("iso", "uk", "long", "dmy")
        assert layout.item in ("gtin", "gtin14", "code")


def test_supplier_kinds_are_described_in_every_table():
    kinds = set(data.SUPPLIER_PATTERN)
    assert kinds <= set(data.COMPANY_SUFFIX) & set(data.SUPPLIER_CATEGORIES) & set(data.SUPPLIER_WEIGHT)
    assert {c for cats in data.SUPPLIER_CATEGORIES.values() for c in cats} <= set(data.CATEGORIES)
