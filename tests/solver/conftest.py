"""Fixtures for the solver tests: a small hand-made region, fresh for every test."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest
from solver_testdata import make_problem, small_frames

from solver.problem import ProblemData


@pytest.fixture
def frames() -> dict[str, pd.DataFrame]:
    """The small region's input tables (fresh copies: tests may edit them)."""
    return small_frames()


@pytest.fixture
def small_problem() -> Callable[..., ProblemData]:
    """Factory: ``small_problem(frames=None, **settings)`` -> validated ProblemData.

    Two trusts (RXA, RXB), hip (two groups) and knee (one group), three suppliers,
    a units-basis and a spend-basis offer, contracts with an exit fee and an uplift.
    """

    def make(frames: dict[str, pd.DataFrame] | None = None, **settings: object) -> ProblemData:
        return make_problem(small_frames() if frames is None else frames, **settings)

    return make
