"""What a region is: how big to generate it (``RegionSize``, ``SIZES``) and where its files are."""

from dataclasses import dataclass
from datetime import date
from pathlib import Path


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
    switching_costs: Path | None = None  # switching-costs.csv: systems' and lines' one-off costs
