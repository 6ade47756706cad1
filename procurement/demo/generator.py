"""The generator: one seeded pass that writes a whole region, job by job.

``_Generator`` holds the state the jobs share (the size, the random streams, the
supplier, line and SKU tables, the manifest being built, the files written) and runs the
jobs in order. Each job lives in its own module as a mixin class (``reference``,
``products``, ``supplier_files`` with ``mess``, ``usage``, ``terms``, ``clinical``,
``manifest``) whose docstring states what it reads and sets.

Each kind of data (names, lines, SKUs, mess, usage, terms, clinical data, trust sizes)
is drawn from its own random stream (``np.random.default_rng(seed).spawn(8)``), so a
change in one job's draws does not shift another's.
"""

import json
from datetime import date
from pathlib import Path

import numpy as np

from procurement.demo.clinical import ClinicalData
from procurement.demo.data import REGION_NAME
from procurement.demo.manifest import Manifest
from procurement.demo.mess import CatalogueMess
from procurement.demo.products import ProductLines
from procurement.demo.reference import ReferenceData
from procurement.demo.region import RegionFiles, RegionSize
from procurement.demo.supplier_files import SupplierFiles
from procurement.demo.switching import SwitchingCosts
from procurement.demo.terms import CommercialTerms
from procurement.demo.usage import Usage


def generate_region(
    out_dir: Path,
    *,
    size: RegionSize = RegionSize(),  # noqa: B008 (frozen dataclass: immutable default)
    seed: int = 2026,
    start_date: date = date(2027, 4, 1),
) -> RegionFiles:
    """Write a synthetic region into ``out_dir`` and return where each file is."""
    return _Generator(Path(out_dir), size, seed, start_date).run()


class _Generator(
    ReferenceData,
    ProductLines,
    SupplierFiles,
    CatalogueMess,
    Usage,
    CommercialTerms,
    ClinicalData,
    Manifest,
    SwitchingCosts,
):
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
        self.manifest = {
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
        self.written = []

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
        self._switching_costs()
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
            switching_costs=self.out / "switching-costs.csv",
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
