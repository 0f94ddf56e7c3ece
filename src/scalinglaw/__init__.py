"""scalinglaw: fit, evaluate and reproduce scaling laws of language models.

Import everything from this namespace; other module paths may move.
"""

from __future__ import annotations

__version__ = "0.1.0"

from scalinglaw.exceptions import ConvergenceWarning, DataError, LawError, ScalingLawError, SourceError

__all__ = [
    "ConvergenceWarning",
    "DataError",
    "LawError",
    "ScalingLawError",
    "SourceError",
    "__version__",
]
