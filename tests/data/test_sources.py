"""The source registry: mirror lookups, hash checks, and downloads through a local HTTP server."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

from scalinglaw import SourceError
from scalinglaw.data import sources

REPO, PATH = "IBM/ColPret", "raw_data/redPajama/2.4B.csv"


def test_registry_matches_manifest(sources_root):
    """Every registry entry is the manifest's (the registry is generated from it)."""
    import csv

    with (sources_root / "MANIFEST.tsv").open(newline="") as fh:
        manifest = {(r["repo"], r["path"]): r for r in csv.DictReader(fh, delimiter="\t")}
    reg = sources.registry()
    assert set(reg) == set(manifest)
    for key, entry in reg.items():
        assert entry.sha256 == manifest[key]["sha256"]
        assert entry.commit == manifest[key]["commit"]
        assert len(entry.commit) == 40


def test_label_and_url():
    entry = sources.registry()[("IBM/ColPret", "aggregated_eval/LLMs - 0-shot.csv")]
    assert entry.label == "IBM/ColPret@16f23bb:aggregated_eval/LLMs - 0-shot.csv"
    assert entry.url.endswith(
        "/IBM/ColPret/raw/16f23bbe054277ddc4afd07a972dd7cfbe3f48c3/aggregated_eval/LLMs%20-%200-shot.csv"
    )


def test_fetch_from_mirror(sources_root):
    path = sources.fetch(REPO, PATH, sources=sources_root)
    assert path == sources_root / REPO / PATH


def test_fetch_reads_env(sources_root, monkeypatch):
    monkeypatch.setenv(sources.SOURCES_ENV, str(sources_root))
    assert sources.fetch(REPO, PATH) == sources_root / REPO / PATH


def test_unregistered_file():
    with pytest.raises(SourceError, match="not in the source registry"):
        sources.fetch(REPO, "raw_data/nope.csv", sources="/nonexistent")


def test_missing_from_mirror(tmp_path):
    with pytest.raises(SourceError, match="missing from the source mirror"):
        sources.fetch(REPO, PATH, sources=tmp_path)


def test_mirror_hash_mismatch_is_refused(tmp_path, sources_root):
    doctored = tmp_path / REPO / PATH
    doctored.parent.mkdir(parents=True)
    original = (sources_root / REPO / PATH).read_bytes()
    doctored.write_bytes(original.replace(b"2.39", b"2.49", 1))  # same size, different bytes
    with pytest.raises(SourceError, match=r"does not match the pinned upstream file.*Refusing"):
        sources.fetch(REPO, PATH, sources=tmp_path)


def test_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv(sources.CACHE_ENV, str(tmp_path))
    assert sources.cache_dir() == tmp_path
    monkeypatch.delenv(sources.CACHE_ENV)
    assert "scalinglaw" in str(sources.cache_dir())


@pytest.fixture
def http_root(tmp_path, monkeypatch):
    """A local HTTP server on 127.0.0.1 serving ``<root>/<owner>/<repo>/<path>``; no internet needed."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(sources, "UPSTREAM_URL", f"http://127.0.0.1:{server.server_port}/{{repo}}/{{path}}")
    monkeypatch.delenv(sources.SOURCES_ENV, raising=False)
    monkeypatch.setenv(sources.CACHE_ENV, str(tmp_path / "cache"))
    yield root
    server.shutdown()
    server.server_close()


def _serve(root: Path, data: bytes) -> None:
    target = root / REPO / PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def test_download_is_hash_checked_and_cached(http_root, sources_root, tmp_path):
    _serve(http_root, (sources_root / REPO / PATH).read_bytes())
    path = sources.fetch(REPO, PATH)
    assert path.is_file() and path.is_relative_to(tmp_path / "cache")
    assert path.read_bytes() == (sources_root / REPO / PATH).read_bytes()
    (http_root / REPO / PATH).unlink()  # the second fetch is served from the cache
    assert sources.fetch(REPO, PATH) == path


def test_download_hash_mismatch_keeps_nothing(http_root, tmp_path):
    _serve(http_root, b"tampered,1\n")
    with pytest.raises(SourceError, match="does not match the pinned sha256"):
        sources.fetch(REPO, PATH)
    cached = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert cached == []


def test_download_failure_is_a_source_error(http_root, tmp_path):
    with pytest.raises(SourceError, match="cannot download"):
        sources.fetch(REPO, PATH)  # nothing served: HTTP 404
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []
