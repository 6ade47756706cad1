"""A seeded, scalable generator of a realistic synthetic region, as the files a user receives.

``generate_region(out_dir, size=..., seed=..., start_date=...)`` writes, for a fictional
regional orthopaedic network (volumes and prices from ../shared/PARAMETERS.md):

* ``trusts.csv``, ``suppliers.csv``: the reference data;
* ``catalogues/SUP-X.csv|xlsx``: one price list per supplier, in four layouts read
  through the shipped profiles ``catalogues/profiles/demo-a.toml`` ... ``demo-d.toml``,
  with the mess of real files at low rates (bad GTINs, duplicates, POA prices...);
* ``usage/<TRUST>.csv``: twelve months of each trust's purchases, in four export layouts;
* ``contracts.csv``, ``tiers.csv``, ``ratings.csv``, ``approvals.csv``;
* ``README.txt`` (what each file is), ``manifest.json`` (what was generated and every
  deliberately bad row with its reason) and ``expected/catalogue_items.csv`` (the
  answer key: each SKU with its intended group and unit price ex VAT).

Same seed, size and start date: byte-identical files (CSV and XLSX alike). Data are
built with numpy/pandas; Python loops run over suppliers, product lines and trusts only.
"""

from __future__ import annotations

import calendar
import io
import itertools
import json
import math
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from stdnum import ean

REGION_NAME = "Greater Mancaster Orthopaedic Network"
REGIONAL_PANEL = "REGIONAL"
ROLE = "Consultant orthopaedic surgeon"
VAT_RATE = 0.20
CATEGORIES = ("hip", "knee", "trauma")

# --------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class RegionSize:
    """How big a region to generate. ``skus_per_line=None``: realistic size ranges."""

    trusts: int = 6
    suppliers: int = 10
    lines: int = 150
    months: int = 12
    skus_per_line: int | None = None


SIZES = {
    "S": RegionSize(),
    "M": RegionSize(trusts=30, suppliers=14, lines=600),
    "L": RegionSize(trusts=130, suppliers=20, lines=2000),  # about 40,000 SKUs
}


@dataclass(frozen=True)
class CatalogueFile:
    path: Path
    supplier: str
    profile: str


@dataclass(frozen=True)
class UsageFile:
    path: Path
    trust: str


@dataclass(frozen=True)
class RegionFiles:
    root: Path
    trusts: Path
    suppliers: Path
    catalogues: list[CatalogueFile]
    usage: list[UsageFile]
    contracts: Path
    tiers: Path
    ratings: Path
    approvals: Path
    start_date: date
    manifest: Path | None = None  # manifest.json: counts and every deliberately bad row


def generate_region(
    out_dir: Path,
    *,
    size: RegionSize = RegionSize(),  # noqa: B008 (frozen dataclass: immutable default)
    seed: int = 2026,
    start_date: date = date(2027, 4, 1),
) -> RegionFiles:
    """Write a synthetic region into ``out_dir`` and return where each file is."""
    return _Generator(Path(out_dir), size, seed, start_date).run()


# --------------------------------------------------------------------------- product specs


@dataclass(frozen=True)
class _Dim:
    key: str
    text: tuple[str, ...]
    code: tuple[str, ...]
    weights: tuple[float, ...] | None = None  # None: bell-shaped, middle sizes commonest
    trim: bool = False  # a size range: a line may offer a slightly narrower one


def _dim(key, text, code=None, weights=None, trim=False) -> _Dim:
    text = tuple(str(t) for t in text)
    code = tuple(str(c) for c in (code if code is not None else text))
    return _Dim(key, text, code, None if weights is None else tuple(weights), trim)


def _sizes(lo: int, hi: int, step: int = 1, *, key: str = "size", width: int = 2, trim: bool = True) -> _Dim:
    values = list(range(lo, hi + 1, step))
    return _dim(key, values, [f"{v:0{width}d}" for v in values], trim=trim)


_SIDE = _dim("side", ["left", "right"], ["L", "R"], [0.5, 0.5])


@dataclass(frozen=True)
class _Part:
    token: str  # code segment naming the component; unique to one group
    component: str
    desc: str  # templates over the dims: {key} is the text, {key_c} the code label
    size: str
    code: str
    dims: tuple[_Dim, ...]
    price: tuple[float, float]  # range of a line's base unit price, GBP ex VAT
    per: float = 1.0  # relative number of this part used per case


@dataclass(frozen=True)
class _Group:
    code: str
    category: str
    family: str  # groups of one family share brands (a knee system, an acetabular system)
    parts: tuple[_Part, ...]
    pick: int = 0  # a line offers `pick` of the parts (0: all)
    units_per_case: float = 1.0
    pack: tuple[int, ...] = (1,)


def _knee(token: str, comp: str, text: str, dims, price) -> _Part:
    """A knee part sized by "size" and further dimensions (side, fixation, thickness)."""
    rest = ["{" + d.key + "_c}" for d in dims[1:]]
    return _Part(token, comp, text, "{size} " + "/".join(rest), "{size_c}-" + "-".join(rest), dims, price)


_LINER_SIZE = _dim("sz", list("CDEFG"))
_HEAD_D = _dim("d", [28, 32, 36], weights=[0.15, 0.5, 0.35])
_NAIL_D = _dim("d", [10, 11, 12], weights=[0.3, 0.45, 0.25])
_ANATOMY = (
    ("PLDR", "distal radius", 0.6),
    ("PLPH", "proximal humerus", 1.0),
    ("PLDF", "distal femur", 1.5),
    ("PLPT", "proximal tibia", 1.3),
    ("PLDT", "distal tibia", 1.1),
    ("PLCL", "clavicle", 0.8),
    ("PLOL", "olecranon", 0.9),
)
_SCREWS = (
    ("CO35", "Cortical screw, 3.5 mm, self-tapping", (5.0, 12.0), (12, 50, 2)),
    ("LK35", "Locking screw, 3.5 mm", (25.0, 45.0), (12, 50, 2)),
    ("CO45", "Cortical screw, 4.5 mm, self-tapping", (6.0, 15.0), (20, 80, 4)),
    ("LK50", "Locking screw, 5.0 mm", (35.0, 60.0), (20, 80, 4)),
    ("CA65", "Cancellous screw, 6.5 mm, 32 mm thread", (15.0, 30.0), (40, 100, 4)),
)

# In the taxonomy's order (catalogues/taxonomy.toml); descriptions are written so that
# the first-match rules put each row in its group.
_GROUPS: tuple[_Group, ...] = (
    _Group(
        "HIP-STEM-UNC",
        "hip",
        "stem-unc",
        (
            _Part(
                "SU",
                "Femoral stem",
                "Uncemented femoral stem, HA coated, size {size}, {off} offset",
                "{size} {off}",
                "{size_c}-{off_c}",
                (_sizes(1, 12), _dim("off", ["standard", "lateral"], ["STD", "LAT"], [0.65, 0.35])),
                (500, 1000),
            ),
        ),
    ),
    _Group(
        "HIP-STEM-CEM",
        "hip",
        "stem-cem",
        (
            _Part(
                "SC",
                "Femoral stem",
                "Cemented femoral stem, polished taper, size {size}, offset {off} mm",
                "{size} / {off} mm",
                "{size_c}-{off_c}",
                (_sizes(1, 6), _dim("off", ["37.5", "44", "50"], ["375", "440", "500"], [0.3, 0.5, 0.2])),
                (250, 450),
            ),
        ),
    ),
    _Group(
        "HIP-SHELL-UNC",
        "hip",
        "acetabular",
        (
            _Part(
                "SH",
                "Acetabular shell",
                "Uncemented acetabular shell, porous coated, {od} mm, {holes}",
                "{od} mm {holes}",
                "{od_c}-{holes_c}",
                (_sizes(46, 64, 2, key="od"), _dim("holes", ["cluster hole", "multi-hole"], ["CH", "MH"], [0.7, 0.3])),
                (350, 700),
            ),
        ),
    ),
    _Group(
        "HIP-CUP-CEM",
        "hip",
        "cup",
        (
            _Part(
                "CC",
                "Acetabular cup",
                "Cemented all-poly acetabular cup, {od} mm OD, {id} mm ID",
                "{od}/{id} mm",
                "{od_c}-{id_c}",
                (_sizes(40, 58, 2, key="od"), _dim("id", [28, 32], weights=[0.4, 0.6])),
                (100, 250),
            ),
        ),
    ),
    _Group(
        "HIP-LINER-PE",
        "hip",
        "acetabular",
        (
            _Part(
                "LPE",
                "Acetabular liner",
                "Polyethylene liner, XLPE, {id} mm ID, size {sz}, {prof}",
                "{sz} / {id} mm {prof}",
                "{id_c}{sz_c}-{prof_c}",
                (
                    _dim("id", [28, 32, 36], weights=[0.2, 0.5, 0.3]),
                    _LINER_SIZE,
                    _dim("prof", ["neutral", "10 deg hooded"], ["N", "H"], [0.6, 0.4]),
                ),
                (150, 350),
            ),
        ),
    ),
    _Group(
        "HIP-LINER-CER",
        "hip",
        "acetabular",
        (
            _Part(
                "LCR",
                "Acetabular liner",
                "Ceramic liner, {id} mm ID, size {sz}",
                "{sz} / {id} mm",
                "{id_c}{sz_c}",
                (_dim("id", [28, 32, 36], weights=[0.2, 0.5, 0.3]), _LINER_SIZE),
                (400, 700),
            ),
        ),
    ),
    _Group(
        "HIP-HEAD-CER",
        "hip",
        "head",
        (
            _Part(
                "HC",
                "Femoral head",
                "Ceramic femoral head, {d} mm, neck {neck_c} ({neck})",
                "{d} mm {neck_c}",
                "{d_c}-{neck_c}",
                (_HEAD_D, _dim("neck", ["-3.5", "+0", "+3.5", "+7"], ["S", "M", "L", "XL"], [0.25, 0.4, 0.25, 0.1])),
                (250, 450),
            ),
        ),
    ),
    _Group(
        "HIP-HEAD-MET",
        "hip",
        "head",
        (
            _Part(
                "HM",
                "Femoral head",
                "CoCr femoral head, 12/14 taper, {d} mm, neck {neck_c} ({neck})",
                "{d} mm {neck_c}",
                "{d_c}-{neck_c}",
                (
                    _HEAD_D,
                    _dim(
                        "neck",
                        ["-4", "+0", "+4", "+8", "+12"],
                        ["S", "M", "L", "XL", "XXL"],
                        [0.2, 0.35, 0.25, 0.15, 0.05],
                    ),
                ),
                (100, 250),
            ),
        ),
    ),
    _Group(
        "KNEE-FEM-PS",
        "knee",
        "knee",
        (
            _knee(
                "FP",
                "Femoral component",
                "Posterior stabilised femoral component, cemented, size {size}, {side}",
                (_sizes(1, 8), _SIDE),
                (400, 800),
            ),
        ),
    ),
    _Group(
        "KNEE-FEM-CR",
        "knee",
        "knee",
        (
            _knee(
                "FC",
                "Femoral component",
                "Cruciate retaining femoral component, cemented, size {size}, {side}",
                (_sizes(1, 8), _SIDE),
                (400, 800),
            ),
        ),
    ),
    _Group(
        "KNEE-TRAY",
        "knee",
        "knee",
        (
            _knee(
                "TT",
                "Tibial tray",
                "Tibial tray, {fix}, size {size}",
                (_sizes(1, 8), _dim("fix", ["cemented", "cementless"], ["C", "P"], [0.85, 0.15])),
                (300, 600),
            ),
        ),
    ),
    _Group(
        "KNEE-INSERT-PS",
        "knee",
        "knee",
        (
            _knee(
                "IP",
                "Tibial insert",
                "Posterior stabilised tibial insert, size {size}, {t} mm",
                (_sizes(1, 8), _dim("t", [10, 12, 14, 16, 18], weights=[0.3, 0.3, 0.2, 0.12, 0.08])),
                (150, 350),
            ),
        ),
    ),
    _Group(
        "KNEE-INSERT-CR",
        "knee",
        "knee",
        (
            _knee(
                "IC",
                "Tibial insert",
                "Cruciate retaining tibial insert, size {size}, {t} mm",
                (_sizes(1, 8), _dim("t", [10, 12, 14, 16, 18], weights=[0.3, 0.3, 0.2, 0.12, 0.08])),
                (150, 350),
            ),
        ),
    ),
    _Group(
        "KNEE-PATELLA",
        "knee",
        "knee",
        (
            _Part(
                "PT",
                "Patella",
                "All-poly patella, cemented, {d} mm, 3-peg",
                "{d} mm",
                "{d_c}",
                (_dim("d", [26, 29, 32, 35, 38, 41]),),
                (60, 150),
            ),
        ),
    ),
    _Group(
        "TRAUMA-SHS",
        "trauma",
        "shs",
        (
            _Part(
                "LS",
                "Sliding hip screw",
                "Sliding hip screw, lag screw, {len} mm",
                "{len} mm",
                "{len_c}",
                (_sizes(70, 120, 5, key="len", width=3),),
                (80, 130),
            ),
            _Part(
                "BP",
                "Sliding hip screw",
                "Sliding hip screw, barrel plate, {ang} deg, {holes}-hole",
                "{ang} deg {holes}-hole",
                "{ang_c}-{holes_c}",
                (
                    _dim("ang", [130, 135, 140], weights=[0.2, 0.6, 0.2]),
                    _dim("holes", [2, 4, 6], ["02", "04", "06"], [0.4, 0.45, 0.15]),
                ),
                (160, 230),
            ),
        ),
        units_per_case=2.0,
    ),
    _Group(
        "TRAUMA-NAIL-PF-LONG",
        "trauma",
        "nail",
        (
            _Part(
                "NL",
                "Intramedullary nail",
                "Proximal femoral nail, long, {d} mm x {len} mm, {side}",
                "{d} x {len} mm {side_c}",
                "{d_c}{len_c}-{side_c}",
                (_NAIL_D, _dim("len", [320, 360, 400, 440]), _SIDE),
                (1300, 1800),
            ),
        ),
    ),
    _Group(
        "TRAUMA-NAIL-PF-SHORT",
        "trauma",
        "nail",
        (
            _Part(
                "NS",
                "Intramedullary nail",
                "Proximal femoral nail, short, {d} mm x {len} mm, {ang} deg",
                "{d} x {len} mm {ang} deg",
                "{d_c}{len_c}-{ang_c}",
                (_NAIL_D, _dim("len", [170, 200], weights=[0.6, 0.4]), _dim("ang", [125, 130], weights=[0.4, 0.6])),
                (750, 1100),
            ),
        ),
    ),
    _Group(
        "TRAUMA-HEMI",
        "trauma",
        "hemi",
        (
            _Part(
                "HH",
                "Hemiarthroplasty head",
                "Unipolar hemiarthroplasty head, {d} mm",
                "{d} mm",
                "{d_c}",
                (_sizes(41, 57, key="d"),),
                (250, 450),
            ),
            _Part(
                "HS",
                "Hemiarthroplasty stem",
                "Hemiarthroplasty stem, cemented, size {size}",
                "{size}",
                "{size_c}",
                (_sizes(1, 5, trim=False),),
                (200, 350),
            ),
        ),
        units_per_case=2.0,
    ),
    _Group(
        "TRAUMA-PLATE-LOCK",
        "trauma",
        "plating",
        tuple(
            _Part(
                token,
                "Locking plate",
                f"Locking compression plate, {where}, {{holes}}-hole, {{side}}",
                "{holes}-hole {side_c}",
                "{holes_c}-{side_c}",
                (_dim("holes", [4, 5, 6, 8, 10], ["04", "05", "06", "08", "10"]), _SIDE),
                (220 * factor, 380 * factor),
            )
            for token, where, factor in _ANATOMY
        ),
        pick=3,
    ),
    _Group(
        "TRAUMA-SCREW-CORT",
        "trauma",
        "plating",
        tuple(
            _Part(
                token,
                "Bone screw",
                text + ", {len} mm",
                "{len} mm",
                "{len_c}",
                (_sizes(lo, hi, step, key="len", width=3),),
                price,
            )
            for token, text, price, (lo, hi, step) in _SCREWS
        ),
        pick=2,
        pack=(5, 10),
    ),
)
# Components a brand of a family may lack: (groups dropped together, probability).
_DROPOUTS = {
    "knee": (
        (("KNEE-FEM-PS", "KNEE-INSERT-PS"), 0.2),
        (("KNEE-FEM-CR", "KNEE-INSERT-CR"), 0.1),
        (("KNEE-PATELLA",), 0.1),
    ),
    "acetabular": ((("HIP-LINER-CER",), 0.3),),
    "head": ((("HIP-HEAD-CER",), 0.25), (("HIP-HEAD-MET",), 0.15)),
    "nail": ((("TRAUMA-NAIL-PF-LONG",), 0.1), (("TRAUMA-NAIL-PF-SHORT",), 0.1)),
    "plating": ((("TRAUMA-PLATE-LOCK",), 0.15), (("TRAUMA-SCREW-CORT",), 0.15)),
}
# How readily a supplier adds another brand to a family (several stems, few knee systems).
_FAMILY_BRANDS = {
    "stem-unc": 1.3,
    "stem-cem": 0.9,
    "knee": 0.3,
    "acetabular": 0.6,
    "head": 0.6,
    "plating": 1.0,
    "nail": 0.8,
}
# Groups that some trusts do not use at all (their surgeons' choice); every trust uses the rest.
_OPTIONAL_GROUPS = ("HIP-LINER-CER", "HIP-HEAD-CER", "KNEE-PATELLA")

# Bad rows that are not catalogue SKUs: they must be rejected as unclassified.
_UNCLASSIFIED = (
    ("Service", "Instrument set loan and delivery charge"),
    ("Instrumentation", "Trial femoral head, 32 mm"),
    ("Service", "Sterile packaging surcharge"),
)

# --------------------------------------------------------------------------- names

_BRAND_A = (
    "Cor",
    "Hal",
    "Or",
    "Tal",
    "Ver",
    "Ash",
    "Bel",
    "Cal",
    "Dor",
    "El",
    "Fen",
    "Gal",
    "Kel",
    "Lum",
    "Mar",
    "Nor",
    "Pel",
    "Quin",
    "Rav",
    "Sol",
    "Tor",
    "Ul",
    "Val",
    "Wyn",
    "Zen",
    "Aur",
    "Bry",
    "Cyr",
    "Dal",
    "Eon",
    "Fal",
    "Gry",
    "Ira",
    "Kyr",
    "Lyr",
    "Myr",
    "Nym",
    "Oss",
    "Pyr",
    "Rhe",
    "Syl",
    "Tyr",
    "Vex",
    "Xan",
    "Yar",
    "Zor",
    "Arn",
    "Bran",
    "Cael",
    "Dren",
)
_BRAND_B = (
    "vex",
    "den",
    "ion",
    "ara",
    "is",
    "on",
    "ex",
    "ium",
    "ora",
    "an",
    "ar",
    "ent",
    "ix",
    "os",
    "um",
    "yn",
    "ia",
    "ova",
    "ax",
    "el",
    "ira",
    "ane",
)
_BRAND_SUFFIX = ("", " Plus", " II", " Pro", " Select", " Evo", " Prime", " One", " Max")
# Substrings a brand must not contain: they would steer the taxonomy's rules.
_BRAND_FORBIDDEN = (
    "stem",
    "head",
    "nail",
    "hemi",
    "polar",
    "cup",
    "shell",
    "liner",
    "lock",
    "long",
    "short",
    "plate",
    "screw",
    "poly",
    "delta",
    "biolox",
    "zircon",
    "ceramic",
    "cobalt",
    "chrome",
    "metal",
    "stainless",
    "tray",
    "baseplate",
    "tibia",
    "femor",
    "insert",
    "bearing",
    "patella",
    "revision",
    "cement",
    "press",
    "porous",
    "trochant",
    "proximal",
    "sliding",
    "dynamic",
    "hydroxy",
    "xlpe",
    "uhmwpe",
    "cocr",
    "knee",
    "humer",
    "hip",
    "acetab",
    "posterior",
    "cruciate",
    "stabili",
    "retain",
    "valium",
    "xanax",
)
_BRAND_FORBIDDEN_WORDS = ("ps", "cr", "pe", "ha", "ss", "dhs", "shs")
_COMPANY_STEMS = (
    "Corvane",
    "Hallamshire",
    "Ardent",
    "Brightwater",
    "Caldermoor",
    "Dunmore",
    "Everline",
    "Fairbridge",
    "Greystone",
    "Hollinwood",
    "Ivelbrook",
    "Kestrelford",
    "Larchmont",
    "Marlowe",
    "Nettleton",
    "Oakhurst",
    "Penrose",
    "Redfern",
    "Stanway",
    "Thornbury",
    "Umberleigh",
    "Vantage",
    "Westcott",
    "Yewdale",
    "Ashcombe",
    "Birchall",
    "Coldharbour",
    "Dovecote",
)
_COMPANY_SUFFIX = {
    "major": ("Orthopaedics Ltd", "Medical UK Ltd"),
    "recon": ("Joint Replacement Ltd", "Arthroplasty UK Ltd"),
    "trauma": ("Trauma Solutions Ltd", "Fixation Ltd"),
    "hip": ("Orthopaedic Implants Ltd",),
}
_SUPPLIER_CATEGORIES = {
    "major": ("hip", "knee", "trauma"),
    "recon": ("hip", "knee"),
    "trauma": ("trauma",),
    "hip": ("hip", "trauma"),
}
_SUPPLIER_WEIGHT = {"major": 3.0, "recon": 2.0, "trauma": 1.5, "hip": 1.5}
_SUPPLIER_PATTERN = ("major", "trauma", "recon", "major", "trauma", "major", "hip", "recon", "trauma", "major")
_PLACE_A = (
    "North",
    "South",
    "East",
    "West",
    "Ash",
    "Brack",
    "Calder",
    "Dun",
    "Elm",
    "Fern",
    "Glen",
    "Hallow",
    "Kirk",
    "Lang",
    "Mill",
    "Oak",
    "Pen",
    "Red",
    "Stan",
    "Thorn",
    "Wex",
    "Whit",
    "Wyn",
    "Bex",
    "Cran",
    "Hart",
    "Lynd",
    "Marl",
)
_PLACE_B = (
    "bridge",
    "ford",
    "ley",
    "field",
    "mere",
    "dale",
    "wick",
    "ton",
    "by",
    "holme",
    "stead",
    "worth",
    "gate",
    "combe",
)
_TRUST_KIND = (
    "Teaching Hospitals NHS Foundation Trust",
    "University Hospitals NHS Foundation Trust",
    "Hospitals NHS Trust",
    "NHS Foundation Trust",
    "and District Hospitals NHS Trust",
    "Royal Infirmary NHS Trust",
)
_SURNAMES = (
    "Ashdown",
    "Brennan",
    "Calloway",
    "Delacourt",
    "Ellingham",
    "Fairweather",
    "Gallagher",
    "Hartley",
    "Iqbal",
    "Jessop",
    "Kowalczyk",
    "Lindqvist",
    "Mensah",
    "Nakamura",
    "Okonkwo",
    "Pemberton",
    "Quayle",
    "Ravensworth",
    "Sandhu",
    "Thackwray",
    "Underhill",
    "Varma",
    "Whitlock",
    "Yardley",
    "Zaman",
    "Adeyemi",
    "Bhatt",
    "Crossley",
    "Dunleavy",
    "Egan",
)
_TITLES = ("Mr", "Mr", "Mr", "Ms", "Miss", "Mr", "Ms")
_REJECT_REASONS = (
    "dislocation concerns in our cohort",
    "higher early revision rate in our local audit",
    "surgeons not trained on this system; no instrument sets on site",
    "poor experience with the supplier's loan kit service",
    "prefer to keep one knee system for training registrars",
)
_CONDITIONS = (
    "approved for patients over 70 only",
    "approved subject to instrument sets on free loan",
    "approved pending a local outcome audit at 12 months",
)

USAGE_LAYOUTS = {
    # name: (columns, date style, GTIN or item code, encoding)
    "gtin": (["gtin", "quantity", "unit_price", "date"], "iso", "gtin", "utf-8"),
    "orders": (["Order Date", "Supplier", "Product Code", "Description", "Qty", "Unit Cost"], "uk", "code", "utf-8"),
    "barcode": (["Period", "Barcode", "Item Description", "Units", "Price Paid"], "long", "gtin14", "utf-8-sig"),
    "catalogue": (["Month", "Catalogue Number", "Qty", "Unit Cost"], "dmy", "code", "utf-8"),
}

# --------------------------------------------------------------------------- catalogue layouts

_LAYOUTS = {
    "demo-a": {
        "suffix": ".csv",
        "header_row": 1,
        "columns": [
            "Item Code",
            "GTIN",
            "Description",
            "Brand",
            "Component",
            "Size",
            "Pack Qty",
            "Unit Price",
            "Status",
        ],
    },
    "demo-b": {
        "suffix": ".xlsx",
        "header_row": 6,
        "sheet": "Price List",
        "columns": [
            "Product Code",
            "EAN/GTIN",
            "Product Description",
            "Range",
            "Type",
            "Size",
            "Pack",
            "Pack Price (GBP)",
        ],
    },
    "demo-c": {
        "suffix": ".csv",
        "header_row": 1,
        "columns": [
            "Cat. No",
            "Barcode",
            "Item Description",
            "Product Family",
            "Category",
            "Size",
            "Units/Box",
            "Price inc VAT (£)",
        ],
    },
    "demo-d": {
        "suffix": ".xlsx",
        "header_row": 3,
        "sheet": "NHS Pricing",
        "columns": [
            "Manufacturer Ref",
            "GTIN-14",
            "Product Name",
            "Brand Family",
            "Component Type",
            "Size / Variant",
            "UOM",
            "Net Unit Price",
        ],
    },
}
LAYOUT_HEADER_ROWS = {name: spec["header_row"] for name, spec in _LAYOUTS.items()}

# What happens to each kind of deliberately bad row when it is imported.
BAD_ROW_EXPECT = {
    "invalid_gtin": "rejected",
    "poa_price": "rejected",
    "blank_price": "rejected",
    "discontinued": "rejected",
    "conflicting_duplicate": "rejected",
    "unclassified": "rejected",
    "exact_duplicate": "dropped",
    "whitespace": "accepted",
    "blank_row": "skipped",
}

# --------------------------------------------------------------------------- helpers


def _letters(i: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA (spreadsheet column style)."""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def _bell(n: int, centre: float = 0.45) -> np.ndarray:
    if n == 1:
        return np.ones(1)
    x = np.arange(n)
    return np.exp(-0.5 * ((x - centre * (n - 1)) / (0.3 * n)) ** 2)


def _nice(x: float) -> float:
    """Round to two significant figures, as an offer letter would."""
    if x <= 0:
        return 0.0
    digits = 1 - int(math.floor(math.log10(x)))
    return round(x, digits)


def _brand_ok(name: str) -> bool:
    low = name.lower()
    words = set(low.replace("-", " ").split())
    return not any(f in low for f in _BRAND_FORBIDDEN) and not words & set(_BRAND_FORBIDDEN_WORDS)


def _money(x: float) -> str:
    return f"£{x:,.2f}"


def _stable_xlsx(data: bytes, stamp: datetime) -> bytes:
    """The workbook with fixed zip entry times and modified date: same seed, same bytes."""
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + iso, body)
            entry = zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            dst.writestr(entry, body)
    return out.getvalue()


def _write_csv(frame: pd.DataFrame, path: Path, *, sep: str = ",", encoding: str = "utf-8") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, sep=sep, encoding=encoding, lineterminator="\n")


# --------------------------------------------------------------------------- the generator


@dataclass
class _Line:
    supplier: int
    group: int
    brand: str
    abr: str
    skus: list[int] = field(default_factory=list)


class _Generator:
    def __init__(self, out: Path, size: RegionSize, seed: int, start: date):
        if min(size.trusts, size.suppliers, size.lines, size.months) < 1:
            raise ValueError(f"every dimension of {size} must be at least 1")
        if size.skus_per_line is not None and size.skus_per_line < 1:
            raise ValueError("skus_per_line must be at least 1 (or None for realistic sizes)")
        if size.trusts > 26 * 26:
            raise ValueError("at most 676 trusts (three-character trust codes)")
        self.out, self.size, self.seed, self.start = out, size, seed, start
        streams = np.random.default_rng(seed).spawn(8)
        (
            self.r_names,
            self.r_lines,
            self.r_skus,
            self.r_mess,
            self.r_usage,
            self.r_terms,
            self.r_clinical,
            self.r_trusts,
        ) = streams
        self.manifest: dict = {
            "generator": "procurement.demo",
            "seed": seed,
            "size": {
                "trusts": size.trusts,
                "suppliers": size.suppliers,
                "lines": size.lines,
                "months": size.months,
                "skus_per_line": size.skus_per_line,
            },
            "start_date": start.isoformat(),
            "region": REGION_NAME,
        }
        self.written: list[Path] = []

    # ------------------------------------------------------------------ run

    def run(self) -> RegionFiles:
        self.out.mkdir(parents=True, exist_ok=True)
        previous = self._previous_files()
        self._trusts()
        self._suppliers()
        self._brand_names()
        self._lines()
        self._skus()
        self._gtins()
        catalogues = self._catalogues()
        self._expected()
        usage = self._usage()
        self._contracts()
        self._tiers()
        self._ratings()
        self._approvals()
        self._readme()
        manifest = self.out / "manifest.json"
        self._manifest(manifest)
        for stale in previous:  # files of an earlier run into the same folder, not rewritten
            path = self.out / stale
            if path not in self.written and path.is_file():
                path.unlink()
        return RegionFiles(
            root=self.out,
            trusts=self.out / "trusts.csv",
            suppliers=self.out / "suppliers.csv",
            catalogues=catalogues,
            usage=usage,
            contracts=self.out / "contracts.csv",
            tiers=self.out / "tiers.csv",
            ratings=self.out / "ratings.csv",
            approvals=self.out / "approvals.csv",
            start_date=self.start,
            manifest=manifest,
        )

    def _previous_files(self) -> list[str]:
        path = self.out / "manifest.json"
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
            return [
                f for f in old.get("files", []) if isinstance(f, str) and ".." not in f and not Path(f).is_absolute()
            ]
        except (OSError, ValueError):
            return []

    def _csv(self, frame: pd.DataFrame, name: str, **kwargs) -> Path:
        path = self.out / name
        _write_csv(frame, path, **kwargs)
        self.written.append(path)
        return path

    # ------------------------------------------------------------------ reference data

    def _trusts(self) -> None:
        rng, n = self.r_names, self.size.trusts
        second = "XYWVTSQPNMLKJHGFEDCBAZUROI"
        self.trust_codes = [f"R{second[i // 26]}{chr(65 + i % 26)}" for i in range(n)]
        kinds = [_TRUST_KIND[k] for k in rng.permutation(len(_TRUST_KIND))]
        places = [a + b for a in _PLACE_A for b in _PLACE_B]
        order = rng.permutation(len(places))
        names = []
        for i in range(n):
            place = places[order[i % len(places)]]
            if i >= len(places):
                place = f"{place} {('Upper', 'Lower', 'Greater', 'Royal')[(i // len(places) - 1) % 4]}"
            names.append(f"{place} {kinds[i % len(kinds)]}")
        self.trust_names = names
        self._csv(pd.DataFrame({"code": self.trust_codes, "name": names, "region": REGION_NAME}), "trusts.csv")

    def _suppliers(self) -> None:
        rng, n = self.r_names, self.size.suppliers
        kinds = [_SUPPLIER_PATTERN[i % len(_SUPPLIER_PATTERN)] for i in range(n)]
        stems = [_COMPANY_STEMS[i] for i in rng.permutation(len(_COMPANY_STEMS))]
        names = []
        for i, kind in enumerate(kinds):
            stem = stems[i % len(stems)] + ("" if i < len(stems) else f" {i // len(stems) + 1}")
            suffixes = _COMPANY_SUFFIX[kind]
            names.append(f"{stem} {suffixes[int(rng.integers(len(suffixes)))]}")
        refs = rng.choice(100_000, size=n, replace=False)
        layouts = list(_LAYOUTS)
        self.sup = pd.DataFrame(
            {
                "code": [f"SUP-{_letters(i)}" for i in range(n)],
                "name": names,
                "gs1_prefix": [f"50{r:05d}" for r in refs],
                "kind": kinds,
                "weight": np.array([_SUPPLIER_WEIGHT[k] for k in kinds]) * rng.uniform(0.7, 1.3, n),
                "layout": [layouts[i % len(layouts)] for i in range(n)],
            }
        )
        self._csv(self.sup[["code", "name", "gs1_prefix"]], "suppliers.csv")

    def _brand_names(self) -> None:
        rng = self.r_names
        bases = sorted({a + b for a in _BRAND_A for b in _BRAND_B if a[-1] != b[0]})
        bases = [bases[i] for i in rng.permutation(len(bases))]
        self._brand_pool = iter(name for suffix in _BRAND_SUFFIX for base in bases if _brand_ok(name := base + suffix))
        self._brands: dict[tuple[int, str, int], tuple[str, str]] = {}
        self._used_abr: set[str] = set()

    def _brand(self, supplier: int, family: str, j: int) -> tuple[str, str]:
        key = (supplier, family, j)
        if key not in self._brands:
            rng = self.r_names
            name = next(self._brand_pool)
            if family == "knee" and " " not in name and rng.random() < 0.5:
                name += " Knee"
            if self.sup.at[supplier, "layout"] == "demo-c" and "e" in name and rng.random() < 0.5:
                name = name.replace("e", "é", 1)  # a Windows-1252 file must be decoded as such
            letters = "".join(c for c in name.upper().replace("É", "E") if "A" <= c <= "Z")
            candidates = [letters[:3], letters[0] + letters[2:4], letters[0] + letters[-2:]]
            abr = next((c for c in candidates if len(c) == 3 and c not in self._used_abr), None)
            while abr is None or abr in self._used_abr:
                abr = "".join(chr(65 + int(x)) for x in rng.integers(0, 26, 3))
            self._used_abr.add(abr)
            self._brands[key] = (name, abr)
        return self._brands[key]

    # ------------------------------------------------------------------ product lines

    def _lines(self) -> None:
        """Product lines: brands of suppliers in families of groups, exactly ``size.lines`` of them.

        A family's suppliers are chosen once (hip 4-6, knee 3-5, trauma 4-8 in a region of
        ten suppliers, more in bigger ones), so a knee brand spans femoral, tray, insert and
        patella; a supplier's second and later brands may lack a component (a
        cruciate-retaining-only knee, an acetabular system without ceramic liners).
        """
        rng, n = self.r_lines, self.size.suppliers
        kinds, weight = self.sup["kind"].tolist(), self.sup["weight"].to_numpy()
        ranges = {"hip": (4, 6), "knee": (3, 5), "trauma": (4, 8)}
        scale = max(1.0, n / 10)
        families: dict[str, list[int]] = {}
        for g_idx, group in enumerate(_GROUPS):
            families.setdefault(group.family, []).append(g_idx)
        units: list[tuple[int, str]] = []  # (supplier, family) pairs
        for fam, groups in families.items():
            category = _GROUPS[groups[0]].category
            avail = [i for i in range(n) if category in _SUPPLIER_CATEGORIES[kinds[i]]]
            if not avail:
                continue
            lo, hi = (round(v * scale) for v in ranges[category])
            k = min(len(avail), int(rng.integers(lo, hi + 1)))
            w = weight[avail]
            chosen = sorted(int(s) for s in rng.choice(avail, size=k, replace=False, p=w / w.sum()))
            units.extend((s, fam) for s in chosen)

        def brand_groups(fam: str, j: int) -> list[int]:
            groups = list(families[fam])
            for codes, prob in _DROPOUTS.get(fam, ()):
                idx = [g for g in groups if _GROUPS[g].code in codes]
                if j > 0 and idx and len(idx) < len(groups) and rng.random() < prob:
                    groups = [g for g in groups if g not in idx]
            return groups

        slots: list[list[int]] = []  # per line: [supplier, group, brand index]
        brands_of: dict[tuple[int, str], int] = {}
        for s, fam in units:
            brands_of[(s, fam)] = 1
            slots.extend([s, g, 0] for g in brand_groups(fam, 0))
        unit_w = np.array([weight[s] * _FAMILY_BRANDS.get(fam, 1.0) for s, fam in units])
        target = self.size.lines
        while len(slots) < target and units:
            s, fam = units[int(rng.choice(len(units), p=unit_w / unit_w.sum()))]
            j = brands_of[(s, fam)]
            brands_of[(s, fam)] = j + 1
            slots.extend([s, g, j] for g in brand_groups(fam, j))
        while len(slots) > target:  # drop lines at random, keeping every group while possible
            per_group = np.bincount([g for _, g, _ in slots], minlength=len(_GROUPS))
            spare = [i for i, (_, g, _) in enumerate(slots) if per_group[g] > 1] or list(range(len(slots)))
            del slots[int(spare[int(rng.integers(len(spare)))])]
        lines = []
        for s, g_idx, j in slots:
            name, abr = self._brand(s, _GROUPS[g_idx].family, j)
            lines.append(_Line(s, g_idx, name, abr))
        lines.sort(key=lambda ln: (ln.supplier, ln.brand, ln.group))
        self.lines = lines

    # ------------------------------------------------------------------ SKUs

    def _skus(self) -> None:
        rng, fixed = self.r_skus, self.size.skus_per_line
        cols: dict[str, list] = {
            k: []
            for k in (
                "line",
                "part",
                "supplier_code",
                "description",
                "component",
                "size",
                "pack",
                "weight",
                "pos",
                "base",
            )
        }
        for line_id, line in enumerate(self.lines):
            group = _GROUPS[line.group]
            parts = list(range(len(group.parts)))
            if group.pick and group.pick < len(parts):
                parts = sorted(int(p) for p in rng.choice(parts, size=group.pick, replace=False))
            pack = int(rng.choice(group.pack))
            entries = []  # (part index, code, desc, size, weight, pos, base)
            for p in parts:
                part = group.parts[p]
                base = float(rng.uniform(*part.price))
                dims = []
                for d_i, dim in enumerate(part.dims):
                    w = np.array(dim.weights) if dim.weights else _bell(len(dim.text))
                    idx = np.arange(len(dim.text))
                    if fixed is None and dim.trim and len(idx) >= 6:
                        lo, hi = (int(x) for x in rng.choice(3, size=2, p=[0.5, 0.3, 0.2]))
                        idx = idx[lo : len(idx) - hi]
                    dims.append((dim, idx, w, d_i == 0))
                for combo in itertools.product(*(d[1] for d in dims)):
                    values, wt, pos = {}, 1.0, 0.5
                    for (dim, _idx, w, first), i in zip(dims, combo, strict=True):
                        values[dim.key] = dim.text[i]
                        values[dim.key + "_c"] = dim.code[i]
                        wt *= w[i]
                        if first and len(dim.text) > 1:
                            pos = i / (len(dim.text) - 1)
                    entries.append(
                        (
                            p,
                            f"{line.abr}-{part.token}-" + part.code.format(**values),
                            part.desc.format(**values),
                            part.size.format(**values),
                            wt,
                            pos,
                            base,
                        )
                    )
            if fixed is not None:
                if fixed <= len(entries):
                    pick = np.floor(np.linspace(0, len(entries) - 1, fixed) + 0.5).astype(int)
                    entries = [entries[i] for i in pick]
                else:
                    extra = []
                    for k in range(fixed - len(entries)):
                        p, code, desc, sz, wt, pos, base = entries[k % len(entries)]
                        v = k // len(entries) + 2
                        extra.append((p, f"{code}-V{v}", f"{desc}, variant {v}", f"{sz} v{v}", wt, pos, base))
                    entries += extra
            for p, code, desc, sz, wt, pos, base in entries:
                cols["line"].append(line_id)
                cols["part"].append(p)
                cols["supplier_code"].append(code)
                cols["description"].append(desc)
                cols["component"].append(group.parts[p].component)
                cols["size"].append(sz)
                cols["pack"].append(pack)
                cols["weight"].append(wt)
                cols["pos"].append(pos)
                cols["base"].append(base)
        sku = pd.DataFrame(cols)
        n = len(sku)
        line_sup = np.array([ln.supplier for ln in self.lines])
        line_grp = np.array([ln.group for ln in self.lines])
        sku["supplier"] = line_sup[sku["line"]]
        sku["group_idx"] = line_grp[sku["line"]]
        sku["group"] = [_GROUPS[g].code for g in sku["group_idx"]]
        sku["category"] = [_GROUPS[g].category for g in sku["group_idx"]]
        sku["brand"] = [self.lines[i].brand for i in sku["line"]]
        noise = rng.uniform(-0.01, 0.01, n)
        sku["unit_price"] = np.round(sku["base"] * (1 + 0.06 * (sku["pos"] - 0.5)) * (1 + noise), 2)
        sku["valid"] = True
        sku["bad_kind"] = ""
        self.sku = sku
        for i, line_id in enumerate(sku["line"].to_numpy()):
            self.lines[line_id].skus.append(i)

    def _normalise_weights(self) -> None:
        """A line's valid SKUs share its units per case; its parts by their ``per``."""
        sku = self.sku
        per = pd.Series(
            [_GROUPS[g].parts[p].per for g, p in zip(sku["group_idx"], sku["part"], strict=True)], index=sku.index
        )
        upc = np.array([_GROUPS[g].units_per_case for g in sku["group_idx"]])
        w = sku["weight"].where(sku["valid"], 0.0)
        part_sum = w.groupby([sku["line"], sku["part"]]).transform("sum")
        present = part_sum > 0
        parts = pd.DataFrame({"line": sku["line"], "part": sku["part"], "per": per.where(present, 0.0)})
        line_total = parts.drop_duplicates(["line", "part"]).groupby("line")["per"].sum()
        share = per / sku["line"].map(line_total).where(lambda x: x > 0, 1.0)
        sku["w"] = np.where(present, w / part_sum.where(present, 1.0) * share * upc, 0.0)
        self.line_valid = (
            sku.groupby("line")["valid"].any().reindex(range(len(self.lines)), fill_value=False).to_numpy()
        )

    def _gtins(self) -> None:
        rng, sku = self.r_skus, self.sku
        reserve = max(3, self.size.trusts // 2) + 4
        gtin = np.empty(len(sku), dtype=object)
        self.spare_refs: dict[int, list[int]] = {}
        by_sup = sku.groupby("supplier").indices
        for s in range(len(self.sup)):
            idx = by_sup.get(s, np.array([], dtype=int))
            if len(idx) + reserve > 100_000:
                raise ValueError("more than 100,000 SKUs for one supplier: GS1 prefix exhausted")
            refs = rng.choice(100_000, size=len(idx) + reserve, replace=False)
            prefix = self.sup.at[s, "gs1_prefix"]
            packs = sku["pack"].to_numpy()[idx]
            for i, ref, pack in zip(idx, refs[: len(idx)], packs, strict=True):
                body = f"{prefix}{ref:05d}"
                if pack > 1:  # a box has its own GTIN-14 (indicator digit 1)
                    body = "1" + body
                gtin[i] = body + ean.calc_check_digit(body)
            self.spare_refs[s] = [int(r) for r in refs[len(idx) :]]
        sku["gtin"] = gtin
        sku["gtin14"] = [g.zfill(14) for g in gtin]

    def _spare_gtin(self, supplier: int) -> str:
        body = f"{self.sup.at[supplier, 'gs1_prefix']}{self.spare_refs[supplier].pop():05d}"
        return body + ean.calc_check_digit(body)

    # ------------------------------------------------------------------ catalogue files

    def _catalogues(self) -> list[CatalogueFile]:
        rng, sku = self.r_mess, self.sku
        files, entries = [], []
        row_of = np.zeros(len(sku), dtype=int)
        self._col = {
            c: sku[c].tolist()
            for c in ("supplier_code", "gtin", "description", "brand", "component", "size", "pack", "unit_price")
        }
        by_sup = sku.groupby("supplier").indices
        for s in range(len(self.sup)):
            idx = by_sup.get(s)
            if idx is None:
                continue
            rows = self._file_rows(s, len(files), idx, rng)
            layout = self.sup.at[s, "layout"]
            code = self.sup.at[s, "code"]
            path = self.out / "catalogues" / f"{code}{_LAYOUTS[layout]['suffix']}"
            path.parent.mkdir(parents=True, exist_ok=True)
            first_row = LAYOUT_HEADER_ROWS[layout] + 1
            for r, row in enumerate(rows):
                row["row"] = first_row + r
            self._write_catalogue(path, layout, s, rows)
            self.written.append(path)
            files.append(CatalogueFile(path, code, layout))
            bad_rows = [
                {
                    "row": row["row"],
                    "kind": row["kind"],
                    "expect": BAD_ROW_EXPECT[row["kind"]],
                    "supplier_code": row["code"].strip(),
                    "detail": row.get("detail", ""),
                }
                for row in rows
                if row["kind"]
            ]
            counts: dict[str, int] = {}
            for b in bad_rows:
                counts[b["kind"]] = counts.get(b["kind"], 0) + 1
            valid = int(sku.loc[idx, "valid"].sum())
            entries.append(
                {
                    "file": str(path.relative_to(self.out)),
                    "supplier": code,
                    "profile": layout,
                    "header_row": LAYOUT_HEADER_ROWS[layout],
                    "sheet": _LAYOUTS[layout].get("sheet"),
                    "data_rows": sum(1 for row in rows if row["kind"] != "blank_row"),
                    "skus": len(idx),
                    "skus_valid": valid,
                    "expected_accepted": valid,
                    "expected_rejected": sum(1 for b in bad_rows if b["expect"] in ("rejected", "dropped")),
                    "bad_counts": counts,
                    "bad_rows": bad_rows,
                }
            )
            for row in rows:
                if row["sku"] >= 0:
                    row_of[row["sku"]] = row["row"]
        sku["row"] = row_of
        self._normalise_weights()
        self.manifest["catalogues"] = entries
        return files

    def _file_rows(self, s: int, file_idx: int, idx: np.ndarray, rng) -> list[dict]:
        """Supplier ``s``'s rows in file order, with the deliberately bad ones marked by ``kind``."""
        sku = self.sku
        n = len(idx)
        line_of = sku["line"].to_numpy()[idx]
        line_size = pd.Series(line_of).map(pd.Series(line_of).value_counts()).to_numpy()
        kinds = ["invalid_gtin"] * max(1, round(0.005 * n))
        kinds.append("poa_price" if file_idx % 2 == 0 else "blank_price")
        kinds.append("discontinued")
        if file_idx % 3 == 0:
            kinds.append("conflicting_duplicate")
        kinds = kinds[: max(1, n // 10)] if n >= 4 else []
        # pick bad SKUs in distinct lines that keep at least two valid SKUs
        eligible = [int(i) for i, size in zip(idx, line_size, strict=True) if size >= 3]
        order = [eligible[i] for i in rng.permutation(len(eligible))]
        taken_lines: dict[int, int] = {}
        chosen: list[int] = []
        for i in order:
            if len(chosen) == len(kinds):
                break
            ln = int(line_of[np.searchsorted(idx, i)])
            if taken_lines.get(ln, 0) >= 1:
                continue
            taken_lines[ln] = 1
            chosen.append(i)
        kinds = kinds[: len(chosen)]
        bad_of = dict(zip(chosen, kinds, strict=True))
        for i, kind in bad_of.items():
            sku.at[i, "valid"] = False
            sku.at[i, "bad_kind"] = kind
        good = [int(i) for i in idx if int(i) not in bad_of]
        n_dup = min(len(good), 1 + file_idx % 2)
        n_ws = min(len(good) - n_dup, max(1, round(0.01 * n)))
        picks = [good[i] for i in rng.permutation(len(good))[: n_dup + n_ws]]
        dups, spaces = picks[:n_dup], set(picks[n_dup:])

        rows: list[dict] = []
        for i in idx:
            i = int(i)
            row = self._base_row(i)
            kind = bad_of.get(i, "")
            if kind == "invalid_gtin":
                good_check = int(row["gtin"][-1])
                wrong = (good_check + int(rng.integers(1, 10))) % 10
                row["gtin"] = row["gtin"][:-1] + str(wrong)
                row["detail"] = f"check digit {wrong}, should be {good_check}"
            elif kind == "poa_price":
                row["price"] = "POA"
                row["detail"] = "price on application"
            elif kind == "blank_price":
                row["price"] = None
                row["detail"] = "no price"
            elif kind == "discontinued":
                row["price"] = None
                row["status"] = "Discontinued"
                row["description"] += " - discontinued"
                row["detail"] = "discontinued, no price"
            elif i in spaces:
                if rng.random() < 0.5:
                    row["code"] = " " + row["code"] + "  "
                else:
                    row["description"] = " " + row["description"].replace(", ", ",  ", 1) + " "
                row["detail"] = "stray whitespace"
                kind = "whitespace"
            row["kind"] = kind
            rows.append(row)
        position = {r["sku"]: k for k, r in enumerate(rows)}

        def insert_after(original: int, new: dict) -> None:
            at = int(rng.integers(position[original] + 1, len(rows) + 1))
            rows.insert(at, new)
            for k in range(at, len(rows)):
                if rows[k]["sku"] >= 0:
                    position[rows[k]["sku"]] = k

        for i in dups:
            copy = dict(rows[position[i]])
            copy.update(kind="exact_duplicate", detail="identical repeat of an earlier row", sku=-1)
            insert_after(i, copy)
        for i, kind in bad_of.items():
            if kind == "conflicting_duplicate":
                copy = dict(rows[position[i]])
                copy["price"] = round(copy["price"] * (1 + float(rng.uniform(0.04, 0.12))), 2)
                copy.update(kind=kind, detail="same code, different price", sku=-1)
                rows[position[i]]["detail"] = "same code, different price"
                insert_after(i, copy)
        if file_idx % 3 == 1:
            component, description = _UNCLASSIFIED[(file_idx // 3) % len(_UNCLASSIFIED)]
            line = self.lines[int(line_of[0])]
            extra = {
                "sku": -1,
                "code": f"{line.abr}-SRV-{file_idx % 100:02d}",
                "gtin": self._spare_gtin(s),
                "description": description,
                "brand": line.brand,
                "component": component,
                "size": "",
                "pack": 1,
                "price": 150.0,
                "status": "Active",
                "kind": "unclassified",
                "detail": "not an implant: matches no equivalence group",
            }
            rows.insert(int(rng.integers(0, len(rows) + 1)), extra)
        if _LAYOUTS[self.sup.at[s, "layout"]]["suffix"] == ".csv":
            rows.append({"sku": -1, "code": "", "kind": "blank_row", "detail": "trailing blank row"})
        return rows

    def _base_row(self, i: int) -> dict:
        col = self._col
        return {
            "sku": i,
            "code": col["supplier_code"][i],
            "gtin": col["gtin"][i],
            "description": col["description"][i],
            "brand": col["brand"][i],
            "component": col["component"][i],
            "size": col["size"][i],
            "pack": int(col["pack"][i]),
            "price": float(col["unit_price"][i]),
            "status": "Active",
            "kind": "",
        }

    def _write_catalogue(self, path: Path, layout: str, s: int, rows: list[dict]) -> None:
        columns = _LAYOUTS[layout]["columns"]
        table = []
        for row in rows:
            if row["kind"] == "blank_row":
                table.append([""] * len(columns))
                continue
            price, pack = row["price"], row["pack"]
            if layout == "demo-a":
                price_cell = _money(price) if isinstance(price, float) else (price or "")
                table.append(
                    [
                        row["code"],
                        row["gtin"],
                        row["description"],
                        row["brand"],
                        row["component"],
                        row["size"],
                        str(pack),
                        price_cell,
                        row["status"],
                    ]
                )
            elif layout == "demo-b":
                price_cell = round(price * pack, 2) if isinstance(price, float) else price
                table.append(
                    [
                        row["code"],
                        row["gtin"],
                        row["description"],
                        row["brand"],
                        row["component"],
                        row["size"],
                        "EA" if pack == 1 else f"Box of {pack}",
                        price_cell,
                    ]
                )
            elif layout == "demo-c":
                price_cell = f"{price * (1 + VAT_RATE):.2f}" if isinstance(price, float) else (price or "")
                table.append(
                    [
                        row["code"],
                        row["gtin"],
                        row["description"],
                        row["brand"],
                        row["component"],
                        row["size"],
                        str(pack),
                        price_cell,
                    ]
                )
            else:
                table.append(
                    [
                        row["code"],
                        row["gtin"].zfill(14),
                        row["description"],
                        row["brand"],
                        row["component"],
                        row["size"],
                        "EA" if pack == 1 else f"Pack {pack}",
                        price,
                    ]
                )
        if layout == "demo-a":
            _write_csv(pd.DataFrame(table, columns=columns), path)
        elif layout == "demo-c":
            _write_csv(pd.DataFrame(table, columns=columns), path, sep=";", encoding="cp1252")
        else:
            self._write_xlsx(path, layout, s, columns, table)

    def _write_xlsx(self, path: Path, layout: str, s: int, columns: list[str], table: list[list]) -> None:
        from openpyxl import Workbook
        from openpyxl.styles import Font

        name = self.sup.at[s, "name"]
        wb = Workbook()
        wb.properties.creator = name
        wb.properties.created = datetime(self.start.year - 1, 3, 1)
        ws = wb.active
        width = len(columns)
        if layout == "demo-b":
            ws.title = "Price List"
            ws["A1"] = name
            ws["A1"].font = Font(bold=True, size=14)
            ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
            ws["A2"] = f"Price list effective {self.start.day} {self.start:%B %Y}"
            ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
            ws["A3"] = "All prices in GBP per pack, excluding VAT"
            ws["A4"] = f"Prepared for: {REGION_NAME}"
            money_col, gtin_text = 8, False
        else:
            notes = ws
            notes.title = "Notes"
            notes["A1"] = f"{name}: NHS price schedule"
            notes["A2"] = "Prices are per unit of measure (UOM), in GBP excluding VAT."
            notes["A3"] = f"Valid from {self.start:%d/%m/%Y} for 12 months. E&OE."
            ws = wb.create_sheet("NHS Pricing")
            ws["A1"] = f"{name} - NHS price schedule {self.start.year}/{(self.start.year + 1) % 100:02d}"
            ws["A1"].font = Font(bold=True, size=12)
            money_col, gtin_text = 8, True
        header_row = LAYOUT_HEADER_ROWS[layout]
        bold = Font(bold=True)
        for j, heading in enumerate(columns, start=1):
            cell = ws.cell(row=header_row, column=j, value=heading)
            cell.font = bold
        for r, values in enumerate(table, start=header_row + 1):
            for j, value in enumerate(values, start=1):
                if value is None:
                    continue
                cell = ws.cell(row=r, column=j, value=value)
                if j == money_col and isinstance(value, float):
                    cell.number_format = "£#,##0.00"
                elif j == 2 and gtin_text:
                    cell.number_format = "@"
        for j, w in enumerate((18, 18, 60, 16, 22, 18, 10, 16), start=1):
            ws.column_dimensions[chr(64 + j)].width = w
        ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
        buffer = io.BytesIO()
        wb.save(buffer)
        path.write_bytes(_stable_xlsx(buffer.getvalue(), wb.properties.created))

    def _expected(self) -> None:
        sku = self.sku
        out = pd.DataFrame(
            {
                "supplier": self.sup["code"].to_numpy()[sku["supplier"]],
                "supplier_code": sku["supplier_code"],
                "gtin14": sku["gtin14"],
                "group": sku["group"],
                "category": sku["category"],
                "brand": sku["brand"],
                "component": sku["component"],
                "description": sku["description"],
                "size": sku["size"],
                "pack_size": sku["pack"],
                "unit_price": sku["unit_price"].map(lambda x: f"{x:.2f}"),
                "status": np.where(sku["valid"], "ok", sku["bad_kind"]),
                "row": sku["row"].astype("Int64"),
            }
        )
        self._csv(out, "expected/catalogue_items.csv")

    # ------------------------------------------------------------------ usage

    def _trust_cases(self) -> dict[str, np.ndarray]:
        rng, n = self.r_trusts, self.size.trusts
        hips = rng.triangular(250, 380, 900, n)
        knees = np.clip(hips * rng.uniform(0.9, 1.3, n), 250, 1000)
        fractures = rng.uniform(80, 150, n)
        hemis = rng.uniform(150, 250, n)
        plates = rng.uniform(150, 400, n)
        cem_stem, shell, cer_liner, cer_head = (
            rng.uniform(a, b, n) for a, b in ((0.25, 0.6), (0.5, 0.8), (0.1, 0.3), (0.4, 0.7))
        )
        ps, patella = rng.uniform(0.2, 0.5, n), rng.uniform(0.15, 0.45, n)
        self.trust_mult = rng.uniform(0.88, 1.28, n)
        return {
            "HIP-STEM-UNC": hips * (1 - cem_stem),
            "HIP-STEM-CEM": hips * cem_stem,
            "HIP-SHELL-UNC": hips * shell,
            "HIP-CUP-CEM": hips * (1 - shell),
            "HIP-LINER-PE": hips * shell * (1 - cer_liner),
            "HIP-LINER-CER": hips * shell * cer_liner,
            "HIP-HEAD-CER": hips * cer_head,
            "HIP-HEAD-MET": hips * (1 - cer_head),
            "KNEE-FEM-PS": knees * ps,
            "KNEE-FEM-CR": knees * (1 - ps),
            "KNEE-TRAY": knees,
            "KNEE-INSERT-PS": knees * ps,
            "KNEE-INSERT-CR": knees * (1 - ps),
            "KNEE-PATELLA": knees * patella,
            "TRAUMA-SHS": 0.74 * fractures,
            "TRAUMA-NAIL-PF-SHORT": 0.13 * fractures,
            "TRAUMA-NAIL-PF-LONG": 0.13 * fractures,
            "TRAUMA-HEMI": hemis,
            "TRAUMA-PLATE-LOCK": plates,
            "TRAUMA-SCREW-CORT": 6 * plates + 3 * 0.74 * fractures + 2 * 0.26 * fractures,
        }

    def _choose_lines(self) -> pd.DataFrame:
        """Which product lines each trust uses in each group, and how many cases a year."""
        rng = self.r_usage
        cases = self._trust_cases()
        line_sup = np.array([ln.supplier for ln in self.lines])
        valid_lines = set(self.sku.loc[self.sku["valid"], "line"].tolist())
        by_group: dict[int, list[int]] = {}
        for i, ln in enumerate(self.lines):
            if i in valid_lines:
                by_group.setdefault(ln.group, []).append(i)
        weight = self.sup["weight"].to_numpy()
        active: dict[str, list[int]] = {
            c: sorted({int(line_sup[i]) for g, ls in by_group.items() if _GROUPS[g].category == c for i in ls})
            for c in CATEGORIES
        }
        records = []
        for t in range(self.size.trusts):
            incumbents = {}
            for cat, sups in active.items():
                if not sups:
                    continue
                k = min(len(sups), int(rng.integers(2, 4 if cat != "trauma" else 5)))
                w = weight[sups]
                incumbents[cat] = {int(x) for x in rng.choice(sups, size=k, replace=False, p=w / w.sum())}
            brands_used: dict[str, set[tuple[int, str]]] = {}
            for g_idx, group in enumerate(_GROUPS):
                cand = by_group.get(g_idx)
                if not cand or (group.code in _OPTIONAL_GROUPS and rng.random() < 0.1):
                    continue
                fam = brands_used.setdefault(group.family, set())
                inc = incumbents.get(group.category, set())
                w = np.array(
                    [
                        weight[line_sup[i]]
                        * (6.0 if line_sup[i] in inc else 0.3)
                        * (25.0 if (int(line_sup[i]), self.lines[i].brand) in fam else 1.0)
                        for i in cand
                    ]
                )
                k = min(len(cand), int(rng.choice([1, 2, 3], p=[0.45, 0.4, 0.15])))
                chosen = rng.choice(cand, size=k, replace=False, p=w / w.sum())
                shares = np.sort(rng.dirichlet([4.0, 1.6, 0.8][:k]))[::-1]
                for line_id, share in zip(chosen, shares, strict=True):
                    records.append((t, int(line_id), float(cases[group.code][t] * share)))
                    fam.add((int(line_sup[line_id]), self.lines[int(line_id)].brand))
        rec = pd.DataFrame(records, columns=["trust", "line", "cases"])
        n = len(rec)
        mult = np.clip(self.trust_mult[rec["trust"]] * np.exp(rng.normal(0, 0.05, n)), 0.85, 1.35)
        outlier = rng.random(n) < 0.01
        rec["mult"] = np.where(outlier, rng.uniform(2.2, 2.9, n), mult)
        rec["uplift"] = np.where(rng.random(n) < 0.25, rng.uniform(0.02, 0.04, n), 0.0)
        rec["uplift_from"] = rng.integers(3, max(4, self.size.months), n)
        rec["supplier"] = line_sup[rec["line"]]
        rec["category"] = [_GROUPS[self.lines[i].group].category for i in rec["line"]]
        return rec

    def _usage(self) -> list[UsageFile]:
        rng, sku, months = self.r_usage, self.sku, self.size.months
        rec = self._choose_lines()
        self.trust_lines = rec
        good = sku[sku["valid"] & (sku["w"] > 0)]
        cells = rec.reset_index(names="rec").merge(
            good[["line", "w", "pack", "unit_price"]].reset_index(names="sku"), on="line"
        )
        first = _add_months(self.start.replace(day=1), -months)
        periods = [_add_months(first, m) for m in range(months)]
        cal = np.array([p.month for p in periods])
        elective = np.where(np.isin(cal, [8, 12]), 0.85, 1.03)
        trauma = 1 + 0.12 * np.cos(2 * np.pi * (cal - 1) / 12)
        season = np.where((cells["category"] == "trauma").to_numpy()[:, None], trauma[None, :], elective[None, :])
        lam = (cells["cases"] * cells["w"]).to_numpy()[:, None] / 12.0 * season
        pack = cells["pack"].to_numpy()
        qty = rng.poisson(lam / pack[:, None]) * pack[:, None]
        ci, mi = np.nonzero(qty)
        price = cells["unit_price"].to_numpy()[ci] * cells["mult"].to_numpy()[ci]
        price *= 1 + cells["uplift"].to_numpy()[ci] * (mi >= cells["uplift_from"].to_numpy()[ci])
        long = pd.DataFrame(
            {
                "trust": cells["trust"].to_numpy()[ci],
                "sku": cells["sku"].to_numpy()[ci],
                "month": mi,
                "day": rng.integers(1, 29, len(ci)),
                "qty": qty[ci, mi],
                "price": np.round(price, 2),
                "unknown": False,
            }
        )
        self.usage_long = long
        # A handful of rows whose item is in no catalogue (old codes, an unlisted GTIN).
        n_unknown = max(3, self.size.trusts // 2)
        unknown = []
        codes = set(sku["supplier_code"])
        layouts = list(USAGE_LAYOUTS)
        for t in sorted(int(x) for x in rng.choice(self.size.trusts, size=n_unknown, replace=True)):
            mine = np.flatnonzero(long["trust"].to_numpy() == t)
            if not len(mine):
                continue
            src = long.iloc[int(rng.choice(mine))]
            i = int(src["sku"])
            layout = layouts[t % len(layouts)]
            if USAGE_LAYOUTS[layout][2].startswith("gtin"):
                value = self._spare_gtin(int(sku.at[i, "supplier"]))
            else:
                line = self.lines[int(sku.at[i, "line"])]
                token = sku.at[i, "supplier_code"].split("-")[1]
                value = f"{line.abr}-{token}-X{int(rng.integers(100, 1000))}"
                while value in codes:
                    value += "0"
            codes.add(value)
            unknown.append(
                {
                    "trust": t,
                    "sku": i,
                    "month": int(src["month"]),
                    "day": int(src["day"]),
                    "qty": int(src["qty"]),
                    "price": float(src["price"]),
                    "unknown": True,
                    "code": value,
                }
            )
        unk = pd.DataFrame(unknown)
        allrows = pd.concat([long.assign(code=""), unk], ignore_index=True) if len(unk) else long.assign(code="")
        sup_codes = self.sup["code"].to_numpy()
        allrows["supplier_code"] = sku["supplier_code"].to_numpy()[allrows["sku"]]
        allrows["supplier"] = sup_codes[sku["supplier"].to_numpy()[allrows["sku"]]]
        allrows["gtin"] = sku["gtin"].to_numpy()[allrows["sku"]]
        allrows["description"] = sku["description"].to_numpy()[allrows["sku"]]
        is_unk = allrows["unknown"].to_numpy()
        allrows.loc[is_unk, "supplier_code"] = allrows.loc[is_unk, "code"]
        allrows.loc[is_unk, "gtin"] = allrows.loc[is_unk, "code"]
        by_day = np.array([USAGE_LAYOUTS[layouts[t % len(layouts)]][1] == "uk" for t in range(self.size.trusts)])
        allrows["sort_day"] = np.where(by_day[allrows["trust"]], allrows["day"], 0)
        allrows = allrows.sort_values(["trust", "month", "sort_day", "supplier_code"], kind="stable")

        month_abbr = [calendar.month_abbr[p.month] for p in periods]
        files, entries = [], []
        starts = np.searchsorted(allrows["trust"].to_numpy(), np.arange(self.size.trusts + 1))
        for t, code in enumerate(self.trust_codes):
            part = allrows.iloc[starts[t] : starts[t + 1]]
            layout = layouts[t % len(layouts)]
            columns, style, ref, encoding = USAGE_LAYOUTS[layout]
            m, d = part["month"].to_numpy(), part["day"].to_numpy()
            if style == "iso":
                when = [periods[k].isoformat() for k in m]
            elif style == "uk":
                when = [f"{dd:02d}/{periods[k].month:02d}/{periods[k].year}" for k, dd in zip(m, d, strict=True)]
            elif style == "long":
                when = [f"1 {month_abbr[k]} {periods[k].year}" for k in m]
            else:
                when = [f"01-{month_abbr[k]}-{periods[k].year}" for k in m]
            qty = part["qty"].astype(int).to_numpy()
            price = part["price"].to_numpy()
            if layout == "gtin":
                data = [part["gtin"].to_numpy(), qty, [f"{x:.2f}" for x in price], when]
            elif layout == "orders":
                data = [
                    when,
                    part["supplier"].to_numpy(),
                    part["supplier_code"].to_numpy(),
                    part["description"].to_numpy(),
                    qty,
                    [_money(x) for x in price],
                ]
            elif layout == "barcode":
                data = [
                    when,
                    [g.zfill(14) for g in part["gtin"]],
                    part["description"].to_numpy(),
                    qty,
                    [f"{x:.2f}" for x in price],
                ]
            else:
                data = [when, part["supplier_code"].to_numpy(), qty, [f"{x:.2f}" for x in price]]
            frame = pd.DataFrame(dict(zip(columns, data, strict=True)))
            path = self._csv(frame, f"usage/{code}.csv", encoding=encoding)
            files.append(UsageFile(path, code))
            flagged = np.flatnonzero(part["unknown"].to_numpy())
            column = {"gtin": "gtin", "orders": "Product Code", "barcode": "Barcode", "catalogue": "Catalogue Number"}[
                layout
            ]
            entries.append(
                {
                    "file": str(path.relative_to(self.out)),
                    "trust": code,
                    "layout": layout,
                    "rows": len(part),
                    "unknown_items": [
                        {"row": int(k) + 2, "column": column, "code": str(frame.iloc[int(k)][column])} for k in flagged
                    ],
                }
            )
        self.manifest["usage"] = entries
        return files

    # ------------------------------------------------------------------ contracts, tiers

    def _contracts(self) -> None:
        rng = self.r_terms
        used = self.trust_lines[["trust", "supplier", "category"]].drop_duplicates()
        used = used.assign(cat_order=used["category"].map({c: i for i, c in enumerate(CATEGORIES)}))
        used = used.sort_values(["trust", "cat_order", "supplier"]).reset_index(drop=True)
        n = len(used)
        end_offset = rng.integers(-6, 31, n)
        years = rng.integers(2, 5, n)
        notice = rng.integers(3, 7, n)
        fee = np.round(rng.uniform(0, 60_000, n), -3) * (rng.random(n) > 0.2)
        ext = rng.choice([0, 6, 12], size=n, p=[0.3, 0.35, 0.35])
        uplift = np.where(ext > 0, rng.choice([0.0, 2.0, 2.5, 3.0, 4.0, 5.0], size=n), 0.0)
        month1 = self.start.replace(day=1)
        ends = [_add_months(month1, int(k)) - timedelta(days=1) for k in end_offset]
        starts = [_add_months(e + timedelta(days=1), -12 * int(y)) for e, y in zip(ends, years, strict=True)]
        fee = np.where(np.array(ends) < self.start, 0, fee)
        trust = [self.trust_codes[t] for t in used["trust"]]
        sup = self.sup["code"].to_numpy()[used["supplier"]]
        frame = pd.DataFrame(
            {
                "trust": trust,
                "supplier": sup,
                "category": used["category"],
                "reference": [
                    f"{t}/{c.upper()}/{s}/{st.year}"
                    for t, c, s, st in zip(trust, used["category"], sup, starts, strict=True)
                ],
                "start": [d.isoformat() for d in starts],
                "end": [d.isoformat() for d in ends],
                "notice_months": notice,
                "exit_fee": [f"{x:.0f}" for x in fee],
                "extension_months": ext,
                "extension_uplift_pct": [f"{x:g}" for x in uplift],
            }
        )
        self._csv(frame, "contracts.csv")
        self.manifest["contracts"] = len(frame)

    def _tiers(self) -> None:
        rng, sku, long = self.r_terms, self.sku, self.usage_long
        factor = 12.0 / self.size.months
        units = long["qty"].to_numpy() * factor
        spend = units * sku["unit_price"].to_numpy()[long["sku"]]
        grp = sku["group"].to_numpy()[long["sku"]]
        cat = sku["category"].to_numpy()[long["sku"]]
        volume = {}
        for basis, values in (("units", units), ("spend", spend)):
            for keys in (grp, cat):
                volume.update({(k, basis): v for k, v in pd.Series(values).groupby(keys).sum().items()})
        schedules = (
            ((0.10, 0.25, 0.50, 0.75), (3, 6, 10, 15)),
            ((0.15, 0.40, 0.70), (2, 5, 10)),
            ((0.10, 0.30, 0.60), (5, 8, 12)),
        )
        rows = []
        for s, code in enumerate(self.sup["code"]):
            if s > 0 and rng.random() > 0.85:
                continue
            mine = sku[sku["supplier"] == s]
            scopes = [c for c in CATEGORIES if c in set(mine["category"])] + [
                g.code for g in _GROUPS if g.code in set(mine["group"])
            ]
            if not scopes:
                continue
            made = set()
            for _ in range(int(rng.choice([1, 2], p=[0.6, 0.4]))):
                cats = [x for x in scopes if x in CATEGORIES]
                pool = cats if (cats and rng.random() < 0.6) else scopes
                scope = pool[int(rng.integers(len(pool)))]
                basis = "units" if rng.random() < 0.5 else "spend"
                if (scope, basis) in made or volume.get((scope, basis), 0) <= 0:
                    continue
                made.add((scope, basis))
                fracs, discounts = schedules[int(rng.integers(len(schedules)))]
                total = volume[(scope, basis)]
                previous = 0.0
                offer = f"{code}-{scope.upper()}-{'U' if basis == 'units' else 'S'}"
                for frac, disc in zip(fracs, discounts, strict=True):
                    threshold = max(_nice(frac * total), 1.0)
                    if basis == "units":
                        threshold = float(max(1, round(threshold)))
                    if threshold <= previous:
                        threshold = previous + (1 if basis == "units" else 1000)
                    previous = threshold
                    rows.append(
                        {
                            "supplier": code,
                            "offer": offer,
                            "scope": scope,
                            "basis": basis,
                            "threshold": f"{threshold:.0f}",
                            "discount_pct": disc,
                        }
                    )
        self._csv(
            pd.DataFrame(rows, columns=["supplier", "offer", "scope", "basis", "threshold", "discount_pct"]),
            "tiers.csv",
        )
        self.manifest["tiers"] = len(rows)

    # ------------------------------------------------------------------ clinical data

    def _brands_by_category(self) -> list[tuple[int, str, str]]:
        seen, out = set(), []
        for i, ln in enumerate(self.lines):
            key = (ln.supplier, ln.brand)
            if key not in seen and self.line_valid[i]:
                seen.add(key)
                out.append((ln.supplier, ln.brand, _GROUPS[ln.group].category))
        return out

    def _ratings(self) -> None:
        rng = self.r_clinical
        brands = [b for b in self._brands_by_category() if b[2] in ("hip", "knee")]
        n = len(brands)
        n_low = round(0.09 * n)
        n_mid = round(0.17 * n)
        tiers = ["low"] * n_low + ["mid"] * n_mid + ["good"] * (n - n_low - n_mid)
        tiers = [tiers[i] for i in rng.permutation(n)]
        rows, self.rating = [], {}
        low_seen = 0
        for (s, brand, _cat), tier in zip(brands, tiers, strict=True):
            if tier == "good":
                label = str(rng.choice(["10A", "10A*", "13A", "15A"], p=[0.4, 0.2, 0.25, 0.15]))
            elif tier == "mid":
                label = str(rng.choice(["3A", "5A", "7A"], p=[0.3, 0.35, 0.35]))
            else:
                low_seen += 1
                label = "Pre-entry" if low_seen % 2 == 1 else ""  # "" = unrated: no row
            self.rating[(s, brand)] = label
            if label:
                rows.append(
                    {"supplier": self.sup.at[s, "code"], "brand": brand, "group": "", "item_code": "", "rating": label}
                )
        self._csv(pd.DataFrame(rows, columns=["supplier", "brand", "group", "item_code", "rating"]), "ratings.csv")
        counts = {"10A_or_better": 0, "3A_to_7A": 0, "pre_entry": 0, "unrated": 0}
        for label in self.rating.values():
            key = (
                "unrated"
                if not label
                else "pre_entry"
                if label == "Pre-entry"
                else "10A_or_better"
                if int(label.rstrip("AB*")) >= 10
                else "3A_to_7A"
            )
            counts[key] += 1
        self.manifest["ratings"] = {"rows": len(rows), "brands": counts}

    def _approvals(self) -> None:
        rng = self.r_clinical
        start = self.start

        def person() -> str:
            title = _TITLES[int(rng.integers(len(_TITLES)))]
            return f"{title} {chr(65 + int(rng.integers(26)))}. {_SURNAMES[int(rng.integers(len(_SURNAMES)))]}"

        def when(lo: int = 20, hi: int = 365) -> date:
            return start - timedelta(days=int(rng.integers(lo, hi)))

        rows = []

        def add(trust, s, brand, group, decision, who, day, comment="", exception=False):
            rows.append(
                {
                    "trust": trust,
                    "supplier": self.sup.at[s, "code"],
                    "brand": brand,
                    "group": group,
                    "decision": decision,
                    "clinician": who,
                    "role": ROLE,
                    "date": day.isoformat(),
                    "comment": comment,
                    "odep_exception": "yes" if exception else "",
                }
            )

        panel = [person() for _ in range(3)]
        regional_ok = set()
        for s, brand, _cat in self._brands_by_category():
            r = rng.random()
            who = panel[int(rng.integers(len(panel)))]
            if r < 0.82:
                add(REGIONAL_PANEL, s, brand, "", "approve", who, when(150, 365))
                regional_ok.add((s, brand))
            elif r < 0.88:
                add(
                    REGIONAL_PANEL,
                    s,
                    brand,
                    "",
                    "conditional",
                    who,
                    when(150, 365),
                    _CONDITIONS[int(rng.integers(len(_CONDITIONS)))],
                )
                regional_ok.add((s, brand))
        recon_lines = [
            i for i, ln in enumerate(self.lines) if _GROUPS[ln.group].category in ("hip", "knee") and self.line_valid[i]
        ]

        def below(label: str) -> bool:
            return not label or label == "Pre-entry" or int(label.rstrip("AB*")) < 10

        # A real region's panel has approved, for every clinical group, at least two
        # lines that meet a 10A floor (or accepted an exception): without that the
        # default scenario would be infeasible everywhere. Trusts never reject these.
        guaranteed: set[int] = set()
        by_group: dict[int, list[int]] = {}
        for i, ln in enumerate(self.lines):
            if self.line_valid[i]:
                by_group.setdefault(ln.group, []).append(i)
        for g, members in sorted(by_group.items()):
            recon = _GROUPS[g].category in ("hip", "knee")
            good = [
                i
                for i in members
                if not recon or not below(self.rating.get((self.lines[i].supplier, self.lines[i].brand), ""))
            ]
            picks, suppliers = [], set()
            for i in good + [i for i in members if i not in good]:
                if len(picks) == 2:
                    break
                if self.lines[i].supplier not in suppliers:
                    picks.append(i)
                    suppliers.add(self.lines[i].supplier)
            for i in picks:
                ln = self.lines[i]
                guaranteed.add(i)
                exception = i not in good
                if (ln.supplier, ln.brand) not in regional_ok or exception:
                    add(
                        REGIONAL_PANEL,
                        ln.supplier,
                        ln.brand,
                        _GROUPS[g].code,
                        "approve",
                        panel[0],
                        when(150, 365),
                        "approved for the regional range"
                        if not exception
                        else "ODEP below 10A accepted regionally: no alternative in this group",
                        exception=exception,
                    )
                    regional_ok.add((ln.supplier, ln.brand))

        below_floor = [
            i for i in recon_lines if below(self.rating.get((self.lines[i].supplier, self.lines[i].brand), ""))
        ]
        used_by = self.trust_lines.groupby("trust")["line"].apply(list).to_dict()
        n_trusts = self.size.trusts
        counts = {"regional": len(rows), "trust": 0, "rejections": 0, "odep_exceptions": 0}
        for t, code in enumerate(self.trust_codes):
            staff = [person() for _ in range(3)]
            used = used_by.get(t, [])
            used_set = set(used)
            unapproved = [
                i for i in dict.fromkeys(used) if (self.lines[i].supplier, self.lines[i].brand) not in regional_ok
            ]
            for i in unapproved[:2]:
                ln = self.lines[i]
                add(
                    code,
                    ln.supplier,
                    ln.brand,
                    _GROUPS[ln.group].code,
                    "approve",
                    staff[int(rng.integers(3))],
                    when(),
                    "in current use; outcomes satisfactory on local audit",
                )
            not_used = [i for i in recon_lines if i not in used_set and i not in guaranteed]
            if not_used and (t < 2 or (n_trusts == 1) or rng.random() < 0.4):
                for _ in range(2 if n_trusts == 1 else 1):
                    ln = self.lines[not_used[int(rng.integers(len(not_used)))]]
                    add(
                        code,
                        ln.supplier,
                        ln.brand,
                        _GROUPS[ln.group].code,
                        "reject",
                        staff[int(rng.integers(3))],
                        when(),
                        _REJECT_REASONS[int(rng.integers(len(_REJECT_REASONS)))],
                    )
                    counts["rejections"] += 1
            if below_floor and (t == 0 or rng.random() < 0.35):
                pool = [i for i in below_floor if i in used_set] or below_floor
                ln = self.lines[pool[int(rng.integers(len(pool)))]]
                add(
                    code,
                    ln.supplier,
                    ln.brand,
                    _GROUPS[ln.group].code,
                    "approve",
                    staff[int(rng.integers(3))],
                    when(),
                    "ODEP below 10A accepted: good results in our registry-monitored cohort",
                    exception=True,
                )
                counts["odep_exceptions"] += 1
            if t == min(1, n_trusts - 1) and not_used:  # a decision revisited: the later one wins
                ln = self.lines[not_used[int(rng.integers(len(not_used)))]]
                first = when(120, 300)
                add(
                    code,
                    ln.supplier,
                    ln.brand,
                    _GROUPS[ln.group].code,
                    "reject",
                    staff[0],
                    first,
                    "no instrument sets on site",
                )
                add(
                    code,
                    ln.supplier,
                    ln.brand,
                    _GROUPS[ln.group].code,
                    "conditional",
                    staff[0],
                    first + timedelta(days=60),
                    "re-reviewed after the supplier agreed instrument set loans",
                )
                counts["rejections"] += 1
        counts["trust"] = len(rows) - counts["regional"]
        frame = pd.DataFrame(
            rows,
            columns=[
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
        )
        frame = frame.sort_values("date", kind="stable")
        self._csv(frame, "approvals.csv")
        self.manifest["approvals"] = counts

    # ------------------------------------------------------------------ README and manifest

    def _readme(self) -> None:
        s = self.size
        text = f"""Synthetic region: {REGION_NAME}
Generated by procurement.demo (seed {self.seed}; {s.trusts} trusts, {s.suppliers} suppliers,
{len(self.lines)} product lines, {len(self.sku)} SKUs; {s.months} months of usage up to
{self.start.day} {self.start:%B %Y}, the planned start of the regional agreement).
Every name, code, price and person is fictional.

trusts.csv          the acute trusts of the region (ODS-style code, name, region)
suppliers.csv       implant suppliers (code, name, GS1 company prefix)
catalogues/         one price list per supplier, as the supplier sends it, in four layouts:
                      *.csv with ',' (demo-a): unit prices as text such as £1,234.50
                      *.xlsx, sheet "Price List", header on row 6 (demo-b): prices per pack
                      *.csv with ';' in Windows-1252 (demo-c): prices include VAT at 20%
                      *.xlsx, sheet "NHS Pricing", header on row 3 (demo-d): GTIN-14 as text
                    The profiles are catalogues/profiles/demo-a.toml ... demo-d.toml.
                    Like real price lists they contain a few bad rows (wrong GTIN check
                    digits, POA or missing prices, discontinued items, duplicates, a
                    service charge that is not an implant): see manifest.json.
usage/<TRUST>.csv   what each trust bought, month by month, from its purchasing system;
                    layouts differ by trust (GTIN or product code, date styles). A few rows
                    carry item codes found in no catalogue (see manifest.json).
contracts.csv       each trust's current contract per supplier and category (dates,
                    notice, exit fee, extension terms)
tiers.csv           suppliers' regional volume/spend tier offers (all-units discounts)
ratings.csv         ODEP ratings per supplier and brand (hip and knee; unrated lines absent)
approvals.csv       clinical decisions: the regional panel (REGIONAL) and each trust
manifest.json       what was generated, counts, and every deliberately bad row and why
expected/           the answer key for tests (not a file a user would receive)

Import in this order: trusts, suppliers, catalogues, usage, contracts, tiers, ratings,
approvals (see docs/formats.md).
"""
        path = self.out / "README.txt"
        path.write_text(text, encoding="utf-8")
        self.written.append(path)

    def _manifest(self, path: Path) -> None:
        sku = self.sku
        self.manifest["counts"] = {
            "trusts": self.size.trusts,
            "suppliers": len(self.sup),
            "lines": len(self.lines),
            "skus": len(sku),
            "skus_valid": int(sku["valid"].sum()),
            "usage_rows": int(sum(u["rows"] for u in self.manifest["usage"])),
            "unknown_usage_items": int(sum(len(u["unknown_items"]) for u in self.manifest["usage"])),
            "bad_catalogue_rows": {
                kind: int(sum(c["bad_counts"].get(kind, 0) for c in self.manifest["catalogues"]))
                for kind in BAD_ROW_EXPECT
            },
        }
        prefix = sku["supplier_code"].str.split("-").str[:2].str.join("-")
        prefixes = prefix.groupby(sku["line"]).unique().map(sorted)
        valid = sku.groupby("line")["valid"].sum()
        self.manifest["lines"] = [
            {
                "supplier": self.sup.at[ln.supplier, "code"],
                "group": _GROUPS[ln.group].code,
                "brand": ln.brand,
                "prefixes": [str(x) for x in prefixes.get(i, [])],
                "skus": len(ln.skus),
                "skus_valid": int(valid.get(i, 0)),
            }
            for i, ln in enumerate(self.lines)
        ]
        self.written.append(path)
        self.manifest["files"] = sorted(str(p.relative_to(self.out)) for p in self.written)
        path.write_text(json.dumps(self.manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
