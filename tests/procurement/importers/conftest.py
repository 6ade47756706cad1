"""Fixtures of the importer tests."""

import pytest


@pytest.fixture
def profile(files) -> str:
    """The catalogue mapping profile of the test catalogues, as a path."""
    return str(files.profile())
