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

``run_demo`` (``procure demo``) generates a region and runs the whole job on it.

The package, one module a job: ``data`` (the constant tables, read from ``data/*.toml``),
``region`` (sizes and the files' paths), ``generator`` (the pass that runs the jobs below),
``reference`` (trusts, suppliers, brands), ``products`` (product lines, SKUs, GTINs),
``supplier_files`` and ``mess`` (price lists and their deliberately bad rows), ``usage``,
``terms`` (contracts, tier offers), ``clinical`` (ratings, approvals), ``manifest``,
``state`` (what the jobs share, declared for the type checker), ``helpers`` and ``run``
(the ``procure demo`` job).
"""

from procurement.demo.data import (
    BAD_ROW_EXPECT,
    CATEGORIES,
    LAYOUT_HEADER_ROWS,
    REGION_NAME,
    REGIONAL_PANEL,
    ROLE,
    USAGE_LAYOUTS,
    VAT_RATE,
)
from procurement.demo.generator import generate_region
from procurement.demo.region import SIZES, CatalogueFile, RegionFiles, RegionSize, UsageFile

__all__ = [
    "BAD_ROW_EXPECT",
    "CATEGORIES",
    "LAYOUT_HEADER_ROWS",
    "REGIONAL_PANEL",
    "REGION_NAME",
    "ROLE",
    "SIZES",
    "USAGE_LAYOUTS",
    "VAT_RATE",
    "CatalogueFile",
    "RegionFiles",
    "RegionSize",
    "UsageFile",
    "generate_region",
    "run_demo",
]


def __getattr__(name: str):
    """``run_demo`` on first use: it needs the database and importers, the generator does not."""
    if name == "run_demo":
        from procurement.demo.run import run_demo

        return run_demo
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
