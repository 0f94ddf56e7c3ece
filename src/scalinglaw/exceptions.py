"""The package's exceptions and warnings.

Catch :class:`ScalingLawError` to handle every error the package raises on purpose.
:class:`DataError` and :class:`LawError` also derive from :class:`ValueError`, so plain
``except ValueError`` keeps working. Numerical trouble is not an error: it warns with
:class:`ConvergenceWarning` and comes back as a result with a failed status.
"""

from __future__ import annotations

__all__ = ["ConvergenceWarning", "DataError", "LawError", "ScalingLawError", "SourceError"]


class ScalingLawError(Exception):
    """Base class of every error raised on purpose by :mod:`scalinglaw`."""


class DataError(ScalingLawError, ValueError):
    """Input data that breaks a rule: a missing column, a bad value, a malformed file."""


class LawError(ScalingLawError, ValueError):
    """A law misused: an unknown law or parameter, inconsistent bounds or fixed values."""


class SourceError(ScalingLawError):
    """An upstream file that cannot be found, downloaded or trusted (e.g. a hash mismatch)."""


class ConvergenceWarning(UserWarning):
    """A fit ended without meeting its convergence criterion; its result is marked as failed."""
