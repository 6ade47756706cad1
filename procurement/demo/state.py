"""The state the generator's jobs share, declared once so each job module type-checks alone.

The jobs are mixins of ``procurement.demo.generator._Generator``: each reads what the
constructor or an earlier job set on ``self``. This base names every such attribute with
its type (set by ``_Generator.__init__``: ``out`` to ``written``; by a job: the rest, in run
order) and the methods one job calls on another; it holds no values and changes no
behaviour. ``Line`` (a product line) lives here too, so the base needs no job module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from procurement.demo.helpers import write_csv
from procurement.demo.region import RegionSize


@dataclass
class Line:
    """A product line: one brand of one supplier in one equivalence group, and its SKUs (rows of ``sku``)."""

    supplier: int
    group: int
    brand: str
    abr: str
    skus: list[int] = field(default_factory=list)


class GeneratorState:
    # set by _Generator.__init__
    out: Path
    size: RegionSize
    seed: int
    start: date
    r_names: np.random.Generator
    r_lines: np.random.Generator
    r_skus: np.random.Generator
    r_mess: np.random.Generator
    r_usage: np.random.Generator
    r_terms: np.random.Generator
    r_clinical: np.random.Generator
    r_trusts: np.random.Generator
    manifest: dict[str, Any]
    written: list[Path]
    # reference: trusts and suppliers (one row per supplier, indexed 0..n-1)
    trust_codes: list[str]
    sup: pd.DataFrame
    # products: product lines, SKUs (one row per SKU, ``line`` indexes ``lines``)
    lines: list[Line]
    sku: pd.DataFrame
    line_valid: np.ndarray
    # usage: the (trust, line) pairs each trust buys, and every usage row
    trust_lines: pd.DataFrame
    usage_long: pd.DataFrame

    if TYPE_CHECKING:  # defined by the job mixins named; declared here for the type checker

        def _brand(self, supplier: int, family: str, j: int) -> tuple[str, str]: ...  # reference

        def _spare_gtin(self, supplier: int) -> str: ...  # products

        def _normalise_weights(self) -> None: ...  # products

        def _base_row(self, i: int) -> dict: ...  # supplier_files

        def _file_rows(self, s: int, file_idx: int, idx: np.ndarray, rng) -> list[dict]: ...  # mess

    def _csv(self, frame: pd.DataFrame, name: str, **kwargs) -> Path:
        """Write ``frame`` as ``out/name`` (see ``write_csv``) and record the file as written."""
        path = self.out / name
        write_csv(frame, path, **kwargs)
        self.written.append(path)
        return path
