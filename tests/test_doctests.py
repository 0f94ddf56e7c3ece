"""Every docstring example of the installed package runs and prints what it says.

The examples are run from the installed package (not the source tree), like the rest of the suite, so a
file left out of the wheel fails here too.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import scalinglaw

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(scalinglaw.__path__, prefix="scalinglaw.")
    if m.name != "scalinglaw.__main__"
)


@pytest.mark.parametrize("name", ["scalinglaw", *MODULES])
def test_examples(name, sources_root, monkeypatch):
    monkeypatch.setenv("SCALINGLAW_SOURCES", str(sources_root))
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_the_examples_are_found():
    """Guard against a runner that silently finds nothing: the tour and the module examples are there."""
    finder = doctest.DocTestFinder()
    counts = {
        name: sum(len(t.examples) for t in finder.find(importlib.import_module(name))) for name in MODULES
    }
    assert sum(len(t.examples) for t in finder.find(scalinglaw)) >= 4
    assert sum(1 for n in counts.values() if n) >= 5, counts
