"""What a fit minimises.

``"lsq"``
    sum_i w_i (L_hat_i - L_i)^2: squared error of the loss in nats, summed (not averaged) over points;
    the paper's objective (Choshen et al. 2024, §2), with w_i = 1 unless a ``weight`` column is given.
``"huber_log"``
    sum_i w_i H_delta(ln L_hat_i - ln L_i) with H_delta(r) = r^2 / 2 for |r| <= delta and
    delta (|r| - delta / 2) beyond, delta = 1e-3: the Huber loss of log-loss residuals, summed; the
    recipe of Hoffmann et al. (2022, App. D.2) and Besiroglu et al. (2024).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scalinglaw.exceptions import LawError

__all__ = ["HUBER_DELTA", "OBJECTIVES", "Objective", "get_objective"]

#: Huber threshold on log residuals (Hoffmann et al. 2022; Besiroglu et al. 2024).
HUBER_DELTA = 1e-3


@dataclass(frozen=True)
class Objective:
    """A per-point loss of a residual, summed with weights over points."""

    name: str
    log_space: bool  #: residuals are ln L_hat - ln L (else L_hat - L)
    delta: float | None  #: Huber threshold; None for squared error

    def scale(self, x: np.ndarray) -> np.ndarray:
        """Losses (or predictions) on the scale residuals are taken on: ln x, or x itself."""
        if not self.log_space:
            return x
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(x)

    def residual(self, pred: np.ndarray, loss: np.ndarray) -> np.ndarray:
        """Residual of each point (same shape as ``pred``)."""
        with np.errstate(invalid="ignore"):  # (inf - inf where both are out of the log's domain)
            return self.scale(pred) - self.scale(loss)

    def rho(self, r: np.ndarray) -> np.ndarray:
        """Per-point loss of residuals ``r``."""
        if self.delta is None:
            return r * r
        a = np.abs(r)
        return np.where(a <= self.delta, 0.5 * r * r, self.delta * (a - 0.5 * self.delta))

    def psi(self, r: np.ndarray) -> np.ndarray:
        """First derivative of :meth:`rho`."""
        return 2.0 * r if self.delta is None else np.clip(r, -self.delta, self.delta)

    def psi_prime(self, r: np.ndarray) -> np.ndarray:
        """Second derivative of :meth:`rho` (0 where Huber is linear)."""
        if self.delta is None:
            return np.full_like(r, 2.0)
        return (np.abs(r) <= self.delta).astype(float)

    def psi_over_r(self, r: np.ndarray) -> np.ndarray:
        """:meth:`psi` / r: the curvature of the parabola through 0 that touches :meth:`rho` at ``r``
        from above (for Huber; the weights of iteratively reweighted least squares)."""
        if self.delta is None:
            return np.full_like(r, 2.0)
        return self.delta / np.maximum(np.abs(r), self.delta)

    def value(self, pred: np.ndarray, loss: np.ndarray, weight: np.ndarray) -> float:
        """The objective: weighted sum of :meth:`rho` over points (inf if a prediction is invalid)."""
        r = self.residual(pred, loss)
        if not np.all(np.isfinite(r)):
            return float("inf")
        return float(np.dot(weight, self.rho(r)))


OBJECTIVES = {
    "lsq": Objective("lsq", log_space=False, delta=None),
    "huber_log": Objective("huber_log", log_space=True, delta=HUBER_DELTA),
}


def get_objective(name: str | Objective) -> Objective:
    """The objective called ``name``."""
    if isinstance(name, Objective):
        return name
    try:
        return OBJECTIVES[name]
    except (KeyError, TypeError):
        raise LawError(f"unknown objective {name!r}; choose one of {', '.join(OBJECTIVES)}") from None
