"""The source registry: every upstream file the collection reads, pinned by commit and sha256.

A file is identified by its repository (``owner/name``) and its path in that repository. It is read either
from a local mirror laid out as ``<root>/<owner>/<name>/<path>`` (the root comes from the ``sources``
argument, else the ``SCALINGLAW_SOURCES`` environment variable) or, without a mirror, downloaded from the
pinned upstream commit with :mod:`pooch`, which checks the sha256 before the file is moved into the cache
(``SCALINGLAW_CACHE``, else the platform's user cache directory). Either way the bytes are hash-checked:
a file that does not match the registry is refused with :class:`~scalinglaw.exceptions.SourceError`.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import urllib.parse
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from scalinglaw.exceptions import SourceError

__all__ = [
    "CACHE_ENV",
    "SOURCES_ENV",
    "SourceFile",
    "cache_dir",
    "fetch",
    "registry",
    "source_label",
    "sources_root",
]

logger = logging.getLogger("scalinglaw")

#: Environment variable naming a local mirror of the upstream files (``<root>/<owner>/<repo>/<path>``).
SOURCES_ENV = "SCALINGLAW_SOURCES"
#: Environment variable overriding the cache directory (downloads and the Parquet table).
CACHE_ENV = "SCALINGLAW_CACHE"
#: Where a pinned file lives upstream; ``{path}`` is URL-quoted.
UPSTREAM_URL = "https://github.com/{repo}/raw/{commit}/{path}"


@dataclass(frozen=True)
class SourceFile:
    """One pinned upstream file.

    Attributes
    ----------
    repo : str
        ``owner/name`` of the GitHub repository.
    commit : str
        Full 40-hex commit the file is pinned at.
    path : str
        Path inside the repository.
    size : int
        Size in bytes.
    sha256 : str
        Hex sha256 of the exact bytes.
    license : str
        License of the repository as recorded in the manifest.
    """

    repo: str
    commit: str
    path: str
    size: int
    sha256: str
    license: str

    @property
    def label(self) -> str:
        """Provenance label ``owner/repo@<7-char commit>:path`` used in the table's ``source`` column."""
        return f"{self.repo}@{self.commit[:7]}:{self.path}"

    @property
    def url(self) -> str:
        """Download URL of the pinned bytes."""
        return UPSTREAM_URL.format(repo=self.repo, commit=self.commit, path=urllib.parse.quote(self.path))


@lru_cache(maxsize=1)
def registry() -> dict[tuple[str, str], SourceFile]:
    """Return the registry shipped with the package, keyed by ``(repo, path)``."""
    text = resources.files("scalinglaw.data").joinpath("registry.tsv").read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    out: dict[tuple[str, str], SourceFile] = {}
    for lineno, row in enumerate(csv.DictReader(lines, delimiter="\t"), start=2):
        try:
            entry = SourceFile(
                row["repo"], row["commit"], row["path"], int(row["bytes"]), row["sha256"], row["license"]
            )
        except (KeyError, TypeError, ValueError) as exc:  # pragma: no cover - the file is generated
            raise SourceError(f"registry.tsv line {lineno} is malformed: {row!r}") from exc
        out[(entry.repo, entry.path)] = entry
    return out


def source_label(repo: str, path: str) -> str:
    """Provenance label of a registered file (see :attr:`SourceFile.label`)."""
    return _entry(repo, path).label


def sources_root(sources: str | os.PathLike[str] | None = None) -> Path | None:
    """The local mirror root: ``sources`` if given, else ``$SCALINGLAW_SOURCES``, else ``None`` (download)."""
    root = sources if sources is not None else os.environ.get(SOURCES_ENV) or None
    return None if root is None else Path(root).expanduser()


def cache_dir() -> Path:
    """The cache directory: ``$SCALINGLAW_CACHE``, else ``platformdirs.user_cache_dir("scalinglaw")``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("scalinglaw"))


def _entry(repo: str, path: str) -> SourceFile:
    try:
        return registry()[(repo, path)]
    except KeyError:
        raise SourceError(
            f"{repo}:{path} is not in the source registry; regenerate it with scripts/make_registry.py "
            "if the upstream set changed on purpose"
        ) from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# Hashes already verified in this process, keyed by (path, size, mtime): a mirror is checked once per run.
_VERIFIED: dict[tuple[str, int, int], str] = {}


def _verify(entry: SourceFile, path: Path) -> None:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    got = _VERIFIED.get(key)
    if got is None:
        got = _sha256(path) if stat.st_size == entry.size else f"<size {stat.st_size}, expected {entry.size}>"
        if got == entry.sha256:
            _VERIFIED[key] = got
    if got != entry.sha256:
        raise SourceError(
            f"{path} does not match the pinned upstream file {entry.label}: sha256 expected {entry.sha256}, "
            f"got {got}. Refusing to use it. Restore the exact file from "
            f"https://github.com/{entry.repo}/tree/{entry.commit} or point {SOURCES_ENV} at a correct mirror."
        )


def fetch(repo: str, path: str, *, sources: str | os.PathLike[str] | None = None) -> Path:
    """Return a local, hash-checked copy of a registered upstream file.

    Parameters
    ----------
    repo, path : str
        The file's repository (``owner/name``) and path in it, as in the registry.
    sources : path-like, optional
        Root of a local mirror laid out as ``<root>/<owner>/<name>/<path>``. Defaults to
        ``$SCALINGLAW_SOURCES``; without either the file is downloaded from the pinned commit and cached.

    Returns
    -------
    pathlib.Path
        Path of the verified file (in the mirror or in the download cache).

    Raises
    ------
    SourceError
        The file is not registered, missing from the mirror, cannot be downloaded, or its sha256 differs.
    """
    entry = _entry(repo, path)
    root = sources_root(sources)
    if root is not None:
        local = root / repo / path
        if not local.is_file():
            raise SourceError(
                f"{entry.label} is missing from the source mirror {root} (looked for {local}). "
                f"Fix the mirror, or unset {SOURCES_ENV} to download the pinned file."
            )
        _verify(entry, local)
        return local
    return _download(entry)


def _download(entry: SourceFile) -> Path:
    import pooch

    target = cache_dir() / "sources" / entry.repo / entry.commit / entry.path
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("downloading %s", entry.label)
    try:
        # pooch downloads into a temporary file and moves it into place only after the hash matched,
        # so a failed or corrupted download never leaves a file behind.
        fname = pooch.retrieve(
            url=entry.url,
            known_hash=f"sha256:{entry.sha256}",
            fname=target.name,
            path=target.parent,
            progressbar=False,
        )
    except ValueError as exc:  # pooch's hash mismatch
        raise SourceError(
            f"download of {entry.label} from {entry.url} does not match the pinned sha256 {entry.sha256}; "
            f"the file was deleted and not used ({exc})"
        ) from exc
    except Exception as exc:  # network errors come as requests/urllib exceptions
        raise SourceError(
            f"cannot download {entry.label} from {entry.url}: {exc}. Check the network, or point "
            f"{SOURCES_ENV} at a local mirror laid out as <owner>/<repo>/<path>."
        ) from exc
    return Path(fname)
