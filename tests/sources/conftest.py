"""Fixtures for the source tests (helpers live in ``tests/sources/helpers.py``)."""

import pytest

from tests.fixtures_hf import hub_cache  # noqa: F401  (a fixture, used by test_hub)

from .helpers import Payloads


@pytest.fixture
def payloads(tmp_path) -> Payloads:
    """Malicious pickles whose unpickling would create ``tmp_path / "PWNED"``."""
    return Payloads(tmp_path / "PWNED")
