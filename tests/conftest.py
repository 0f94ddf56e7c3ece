"""Shared fixtures. The upstream files are read from ``$SCALINGLAW_SOURCES`` (``.ci/run`` points it at the
local mirror ``../shared/sources``); tests that need them skip with a clear reason when it is unset."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI explores the same (varied) examples on every run; locally each run explores new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def _mirror() -> Path | None:
    root = os.environ.get("SCALINGLAW_SOURCES")
    if root and Path(root).is_dir():
        return Path(root)
    guess = Path(__file__).resolve().parents[1].parent / "shared" / "sources"
    return guess if guess.is_dir() else None


@pytest.fixture(scope="session")
def sources_root() -> Path:
    """Root of the local mirror of the upstream files."""
    root = _mirror()
    if root is None:
        pytest.skip("no source mirror: set SCALINGLAW_SOURCES to a local <owner>/<repo>/<path> mirror")
    return root


@pytest.fixture(scope="session")
def dataset(sources_root: Path):
    """The whole long table, built (or loaded from the cache) once per session."""
    import scalinglaw as sl

    return sl.load_dataset(sources=sources_root)


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated, empty cache directory (``SCALINGLAW_CACHE``) with the in-process memo cleared."""
    from scalinglaw.data import table

    cache = tmp_path / "cache"
    monkeypatch.setenv("SCALINGLAW_CACHE", str(cache))
    monkeypatch.setattr(table, "_MEMORY", {})
    return cache
