"""The guide: fit your own runs the way the paper recommends, predict with honest uncertainty, decide.

>>> import scalinglaw as sl
>>> est = sl.estimate(sl.simulate.family(seed=0), target_params=1.28e10, draws=20)
>>> est.mode, round(float(est.predict(1.28e10, 2.56e11)), 2)
('free', 2.1)

Modules: :mod:`~scalinglaw.guide.inputs` (reading runs), :mod:`~scalinglaw.guide.defaults` (every default
and why), :mod:`~scalinglaw.guide.estimate` (the main entry), :mod:`~scalinglaw.guide.uncertainty`,
:mod:`~scalinglaw.guide.borrow`, :mod:`~scalinglaw.guide.decide` (compare, allocate),
:mod:`~scalinglaw.guide.calibration` and :mod:`~scalinglaw.guide.report`.
"""

from __future__ import annotations

from scalinglaw.guide.borrow import Prior, collection_prior, paper_prior
from scalinglaw.guide.decide import Allocation, Comparison, allocate, compare
from scalinglaw.guide.estimate import Diagnostic, Estimate, estimate
from scalinglaw.guide.inputs import UserRuns, read_runs

__all__ = [
    "Allocation",
    "Comparison",
    "Diagnostic",
    "Estimate",
    "Prior",
    "UserRuns",
    "allocate",
    "collection_prior",
    "compare",
    "estimate",
    "paper_prior",
    "read_runs",
]
