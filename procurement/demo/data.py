"""The synthetic region's constant tables, read once from the TOML files in ``data/``.

``products.toml`` holds the equivalence groups, their parts and dimensions (what a
product line offers and at what price), ``names.toml`` the fictional names (brands,
companies, trusts, clinicians) and ``layouts.toml`` the suppliers' and trusts' file
layouts. This module turns them into frozen dataclasses and tuples at import; the
generator's modules read only these names, never the files.

The order of every list is part of the contract: the generator draws from them by index
with seeded random streams, so reordering a list changes the generated region.
"""

import tomllib
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

REGION_NAME = "Greater Mancaster Orthopaedic Network"
REGIONAL_PANEL = "REGIONAL"
ROLE = "Consultant orthopaedic surgeon"
VAT_RATE = 0.20
CATEGORIES = ("hip", "knee", "trauma")


def _load(name: str) -> dict[str, Any]:
    return tomllib.loads(files(__package__).joinpath("data", name).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- products


@dataclass(frozen=True)
class Dim:
    """One dimension of a part (size, side, offset...): its values' text and code labels."""

    key: str
    text: tuple[str, ...]
    code: tuple[str, ...]
    weights: tuple[float, ...] | None = None  # None: bell-shaped, middle sizes commonest
    trim: bool = False  # a size range: a line may offer a slightly narrower one


@dataclass(frozen=True)
class Part:
    token: str  # code segment naming the component; unique to one group
    component: str
    desc: str  # templates over the dims: {key} is the text, {key_c} the code label
    size: str
    code: str
    dims: tuple[Dim, ...]
    price: tuple[float, float]  # range of a line's base unit price, GBP ex VAT
    per: float = 1.0  # relative number of this part used per case


@dataclass(frozen=True)
class Group:
    code: str
    category: str
    family: str  # groups of one family share brands (a knee system, an acetabular system)
    parts: tuple[Part, ...]
    pick: int = 0  # a line offers `pick` of the parts (0: all)
    units_per_case: float = 1.0
    pack: tuple[int, ...] = (1,)


def _dim(spec: dict[str, Any]) -> Dim:
    """A dimension from its TOML table: a whole-number ``range`` or listed ``text`` values."""
    if "range" in spec:
        lo, hi, *step = spec["range"]
        values = range(lo, hi + 1, *step)
        width = spec.get("width", 2)
        text = tuple(str(v) for v in values)
        code = tuple(f"{v:0{width}d}" for v in values)
        return Dim(spec.get("key", "size"), text, code, None, spec.get("trim", True))
    text = tuple(str(t) for t in spec["text"])
    code = tuple(str(c) for c in spec["code"]) if "code" in spec else text
    weights = tuple(spec["weights"]) if "weights" in spec else None
    return Dim(spec["key"], text, code, weights, spec.get("trim", False))


def _part(spec: dict[str, Any], shared: dict[str, Dim]) -> Part:
    factor = spec.get("price_factor", 1)
    lo, hi = spec["price"]
    dims = tuple(shared[d] if isinstance(d, str) else _dim(d) for d in spec["dims"])
    return Part(
        spec["token"],
        spec["component"],
        spec["desc"],
        spec["size"],
        spec["code"],
        dims,
        (lo * factor, hi * factor),
        spec.get("per", 1.0),
    )


def _groups(products: dict[str, Any]) -> tuple[Group, ...]:
    shared = {name: _dim(spec) for name, spec in products["dims"].items()}
    return tuple(
        Group(
            g["code"],
            g["category"],
            g["family"],
            tuple(_part(p, shared) for p in g["parts"]),
            g.get("pick", 0),
            g.get("units_per_case", 1.0),
            tuple(g.get("pack", (1,))),
        )
        for g in products["groups"]
    )


_PRODUCTS = _load("products.toml")
# In the taxonomy's order (catalogues/taxonomy.toml).
GROUPS: tuple[Group, ...] = _groups(_PRODUCTS)
# Per family: (groups a later brand may lack together, probability).
DROPOUTS: dict[str, tuple[tuple[tuple[str, ...], float], ...]] = {
    family: tuple((tuple(d["groups"]), d["probability"]) for d in drops)
    for family, drops in _PRODUCTS["dropouts"].items()
}
FAMILY_BRANDS: dict[str, float] = dict(_PRODUCTS["family_brands"])
OPTIONAL_GROUPS: tuple[str, ...] = tuple(_PRODUCTS["usage"]["optional_groups"])
# (component, description) of rows that are not implants.
UNCLASSIFIED: tuple[tuple[str, str], ...] = tuple((u["component"], u["description"]) for u in _PRODUCTS["unclassified"])

# --------------------------------------------------------------------------- names

_NAMES = _load("names.toml")
BRAND_FIRST: tuple[str, ...] = tuple(_NAMES["brands"]["first"])
BRAND_SECOND: tuple[str, ...] = tuple(_NAMES["brands"]["second"])
BRAND_SUFFIX: tuple[str, ...] = tuple(_NAMES["brands"]["suffix"])
BRAND_FORBIDDEN: tuple[str, ...] = tuple(_NAMES["brands"]["forbidden"])
BRAND_FORBIDDEN_WORDS: frozenset[str] = frozenset(_NAMES["brands"]["forbidden_words"])
COMPANY_STEMS: tuple[str, ...] = tuple(_NAMES["suppliers"]["stems"])
COMPANY_SUFFIX: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _NAMES["suppliers"]["suffix"].items()}
SUPPLIER_CATEGORIES: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _NAMES["suppliers"]["categories"].items()}
SUPPLIER_WEIGHT: dict[str, float] = dict(_NAMES["suppliers"]["weight"])
SUPPLIER_PATTERN: tuple[str, ...] = tuple(_NAMES["suppliers"]["pattern"])
PLACE_FIRST: tuple[str, ...] = tuple(_NAMES["trusts"]["place_first"])
PLACE_SECOND: tuple[str, ...] = tuple(_NAMES["trusts"]["place_second"])
TRUST_KIND: tuple[str, ...] = tuple(_NAMES["trusts"]["kind"])
TITLES: tuple[str, ...] = tuple(_NAMES["clinicians"]["titles"])
SURNAMES: tuple[str, ...] = tuple(_NAMES["clinicians"]["surnames"])
REJECT_REASONS: tuple[str, ...] = tuple(_NAMES["clinicians"]["reject_reasons"])
CONDITIONS: tuple[str, ...] = tuple(_NAMES["clinicians"]["conditions"])

# --------------------------------------------------------------------------- layouts


@dataclass(frozen=True)
class UsageLayout:
    """A trust's purchasing-system export: columns, date style, item reference, encoding."""

    columns: tuple[str, ...]
    dates: str  # iso, uk (the order's day), long, dmy
    item: str  # gtin, gtin14 or code
    encoding: str
    unknown_column: str  # the column that names the item (reported for unknown items)


_LAYOUTS = _load("layouts.toml")
# Suppliers' price-list layouts by profile name: suffix, header_row, columns, sheet (XLSX).
CATALOGUE_LAYOUTS: dict[str, dict[str, Any]] = _LAYOUTS["catalogue"]
LAYOUT_HEADER_ROWS: dict[str, int] = {name: spec["header_row"] for name, spec in CATALOGUE_LAYOUTS.items()}
USAGE_LAYOUTS: dict[str, UsageLayout] = {
    name: UsageLayout(**{**spec, "columns": tuple(spec["columns"])}) for name, spec in _LAYOUTS["usage"].items()
}
# What happens to each kind of deliberately bad row when it is imported.
BAD_ROW_EXPECT: dict[str, str] = dict(_LAYOUTS["bad_row_expect"])
