"""Fixtures of the guide's tests."""

from __future__ import annotations

import math

import pytest

from scalinglaw.guide import Prior, paper_prior
from scalinglaw.guide.borrow import PAPER_LINE


@pytest.fixture
def prior():
    """The paper's own borrowable values: no collection needed, so unit tests stay fast and offline."""
    return paper_prior()


@pytest.fixture
def spread_prior():
    """Five made-up lending families spread like the collection's: ln A 4.5-12, alpha off the paper's
    line by up to 0.05 (the collection's families scatter 0.04 around it)."""
    c0, c1 = PAPER_LINE
    offsets = (0.05, -0.04, 0.0, 0.03, -0.05)
    pairs = tuple(
        (math.exp(a), c0 + c1 * a + o) for a, o in zip((4.5, 6.3, 8.8, 10.5, 12.1), offsets, strict=True)
    )
    base = paper_prior()
    return Prior(
        PAPER_LINE, base.pair, base.data_pair, pairs, tuple(f"f{i}" for i in range(5)), source="test"
    )
