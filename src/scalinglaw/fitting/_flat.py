"""Many fits' points in one set of flat arrays, so that every solver step runs on all fits at once.

Points are sorted by (fit, x1, x2). A *segment* is the run of points of one fit that share one value of
x1 (one model size): the x1 term of a separable law is evaluated once per segment, not once per point,
which is most of the saving when a family has a handful of sizes and thousands of checkpoints.
For least squares, the rows of a fit that share both inputs are one point (:func:`flatten`). Losses
are centred per fit (the constant E absorbs the mean) and so are logs (``l1 = ln x1 - ref1``,
``l2 = ln x2 - ref2``, refs = weighted mean logs), so the bases (x / e^ref)^-exponent are O(1): the
solver's internal coefficients are c1 = A e^(-alpha ref1) and c2 = B e^(-beta ref2), which removes most
of the A-alpha and B-beta correlation that makes the raw form ill-conditioned.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
from scipy import sparse

from scalinglaw.fitting._data import Batch, Problem


@dataclass(frozen=True)
class Shared:
    """The distinct rows many fits draw from (one table fitted on many subsets), for the screening grid.

    A basis evaluated once per row, times :attr:`weights` (segments x rows: weight x multiplicity), gives
    every fit's per-segment sums in one sparse product instead of one pass per fit.
    """

    l2: np.ndarray  #: (U,) ln x2 - ref
    ref: float  #: centre of ``l2``
    weights: sparse.csr_matrix  #: (S, U)
    losses: sparse.csr_matrix  #: (S, U) weight times loss (not centred), summed over the rows a point merges


@dataclass(frozen=True)
class Flat:
    """Points of K fits, concatenated.

    Shapes: T points, S segments, K fits. ``seg_start`` / ``fit_start`` index the first point of each
    segment / fit; ``fit_seg`` indexes each fit's first segment.
    """

    l2: np.ndarray  #: (T,) centred ln x2
    y: np.ndarray  #: (T,) loss minus its weighted mean over the fit (keeps sums of squares small and exact)
    w: np.ndarray  #: (T,) weight in the objective
    seg_start: np.ndarray  #: (S,)
    seg_l1: np.ndarray  #: (S,) centred ln x1 of each segment
    seg_fit: np.ndarray  #: (S,)
    fit_start: np.ndarray  #: (K,)
    fit_seg: np.ndarray  #: (K,)
    ref1: np.ndarray  #: (K,)
    ref2: np.ndarray  #: (K,)
    ymean: np.ndarray  #: (K,) weighted mean loss, subtracted from ``y``
    seg_yy: np.ndarray  #: (S,) weighted sum of squares of the centred losses of the segment's rows
    merged: bool = False  #: points merge the rows that share both inputs (:func:`flatten`)
    shared: Shared | None = field(default=None, compare=False)  #: rows shared by the fits, if any

    @property
    def n_fits(self) -> int:
        return len(self.ref1)

    def per_point(self, values: np.ndarray) -> np.ndarray:
        """Per-fit values (..., K) repeated for each of the fit's points (..., T).

        Points are grouped by fit, so this is a repeat, far cheaper than indexing.
        """
        return np.repeat(values, self.n_points, axis=-1)

    @cached_property
    def n_points(self) -> np.ndarray:
        """(K,) points of each fit (kept: the polish loops ask for it at every step)."""
        return np.diff(np.append(self.fit_start, len(self.y)))

    @property
    def loss(self) -> np.ndarray:
        """(T,) the loss itself: ``y`` plus its fit's mean."""
        return self.y + self.per_point(self.ymean)

    def seg_to_point(self, values: np.ndarray) -> np.ndarray:
        """Per-segment values (..., S) repeated for each of the segment's points (..., T)."""
        return np.repeat(values, np.diff(np.append(self.seg_start, len(self.y))), axis=-1)

    @property
    def point_l1(self) -> np.ndarray:
        """(T,) centred ln x1 of each point."""
        return self.seg_to_point(self.seg_l1)

    def seg_sum(self, values: np.ndarray) -> np.ndarray:
        """Sum per segment along the last axis: (..., T) -> (..., S)."""
        return np.add.reduceat(values, self.seg_start, axis=-1)

    def fit_sum_of_segments(self, values: np.ndarray) -> np.ndarray:
        """Sum per fit of per-segment values: (..., S) -> (..., K)."""
        return np.add.reduceat(values, self.fit_seg, axis=-1)

    def fit_sum(self, values: np.ndarray) -> np.ndarray:
        """Sum per fit of per-point values: (..., T) -> (..., K)."""
        return np.add.reduceat(values, self.fit_start, axis=-1)

    def segment_matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """(K, S_max) segment indices of each fit, padded, and the mask of real entries."""
        counts = np.diff(np.append(self.fit_seg, len(self.seg_start)))
        width = int(counts.max())
        offsets = np.arange(width)
        mask = offsets[None, :] < counts[:, None]
        index = np.where(mask, self.fit_seg[:, None] + offsets[None, :], 0)
        return index, mask

    def segments_of(self, fits: np.ndarray) -> np.ndarray:
        """Indices of the segments of the fits listed, in that order."""
        return _ranges(self.fit_seg[fits], np.append(self.fit_seg[1:], len(self.seg_start))[fits])

    def points_of(self, fits: np.ndarray) -> np.ndarray:
        """Indices of the points of the fits listed, in that order."""
        return _ranges(self.fit_start[fits], np.append(self.fit_start[1:], len(self.y))[fits])

    def restrict(self, jobs: np.ndarray) -> Flat:
        """The fits listed (each once, in order), with their part of the shared-table view; this very
        object when that is all of them."""
        if len(jobs) == self.n_fits:
            return self
        out = self.take(jobs)
        if self.shared is None:
            return out
        segments = self.segments_of(np.asarray(jobs, dtype=np.int64))
        sh = self.shared
        return replace(out, shared=replace(sh, weights=sh.weights[segments], losses=sh.losses[segments]))

    def take(self, fits: np.ndarray) -> Flat:
        """The same points for the fits listed (repeats allowed): one copy per entry.

        The copy has no shared-table view: only the screen uses it (through :meth:`restrict`), and
        slicing it is most of the cost of a copy for the polish.
        """
        fits = np.asarray(fits, dtype=np.int64)
        seg_idx, pt_idx = self.segments_of(fits), self.points_of(fits)
        n_seg = np.append(self.fit_seg[1:], len(self.seg_start))[fits] - self.fit_seg[fits]
        n_pts = self.n_points[fits]
        fit_start = np.concatenate([[0], np.cumsum(n_pts)[:-1]])
        seg_fit = np.repeat(np.arange(len(fits)), n_seg)
        offset_in_fit = self.seg_start[seg_idx] - self.fit_start[self.seg_fit[seg_idx]]
        return Flat(
            l2=self.l2[pt_idx],
            y=self.y[pt_idx],
            w=self.w[pt_idx],
            seg_start=fit_start[seg_fit] + offset_in_fit,
            seg_l1=self.seg_l1[seg_idx],
            seg_fit=seg_fit,
            seg_yy=self.seg_yy[seg_idx],
            merged=self.merged,
            fit_start=fit_start,
            fit_seg=np.concatenate([[0], np.cumsum(n_seg)[:-1]]),
            ref1=self.ref1[fits],
            ref2=self.ref2[fits],
            ymean=self.ymean[fits],
        )

    def with_weights(self, w: np.ndarray) -> Flat:
        """The same points with other objective weights (drops the shared-table view); points must be
        rows (not merged, whose sums of squares are the rows')."""
        assert not self.merged, "reweighting merged points"
        return replace(self, w=w, seg_yy=self.seg_sum(w * self.y * self.y), shared=None)


def lowest_of_each(owners: np.ndarray, f: np.ndarray, n: int) -> np.ndarray:
    """(n,) the index of each owner's job with the lowest finite ``f`` (ties: the first), -1 for an owner
    without one; ``owners``: the owner (0 to n - 1) of each job."""
    order = np.lexsort((np.arange(len(f)), f, owners))  # by owner, then f (inf and NaN last), then index
    first = order[np.diff(owners[order], prepend=-1) != 0]
    first = first[np.isfinite(f[first])]
    best = np.full(n, -1)
    best[owners[first]] = first
    return best


def headed_bounds(
    theta: np.ndarray, before: np.ndarray, lo: np.ndarray, hi: np.ndarray, min_move: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bounds variables head for: (job, variable, bound) for every job and variable (a column of
    ``theta``, (J, m)) that has moved ``min_move`` or more since ``before`` towards a finite bound of
    ``lo`` / ``hi`` ((m,), or (J, m) per job) and is not on it yet; variable by variable, jobs in order."""
    moved = theta - before
    bound = np.where(moved > 0, hi, lo)
    headed = (np.abs(moved) >= min_move) & np.isfinite(bound) & (theta != bound)
    k, job = np.nonzero(headed.T)
    return job, k, bound[job, k]


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenation of arange(start, end) for each pair, without a Python loop."""
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return offsets + np.arange(total)


def flatten(batch: Batch, x1: str, x2: str, merge: bool = False) -> Flat:
    """The :class:`Flat` of a batch's points (every fit must have one), with x1 / x2 its inputs of those
    names; with the :class:`Shared` view when the fits draw on the same rows.

    With ``merge`` (least squares), a fit's rows with the same (x1, x2) are one point: its weight is
    theirs summed and its loss their weighted mean. Since sum w (y - f)^2 = W (ybar - f)^2 + sum w (y -
    ybar)^2, only the sum of squares keeps the rows apart, and it is taken over the rows
    (:attr:`Flat.seg_yy`). Repeated inputs (seeds of one configuration, curves digitised at a plot's
    resolution) then cost the solver nothing.
    """
    table, fit, row, w = batch.table, batch.fit, batch.row, batch.weight
    la, lb = np.log(table.inputs[x1]), np.log(table.inputs[x2])
    fit_start = batch.fit_start
    pla, plb, py = la[row], lb[row], table.loss[row]
    tot, ref1, ref2, ymean = np.add.reduceat(np.stack([w, w * pla, w * plb, w * py]), fit_start, axis=1)
    ref1 /= tot
    ref2 /= tot
    ymean /= tot
    y = py - np.repeat(ymean, batch.n_points)  # (points are grouped by fit)
    new_size = batch.first_of_value(x1)
    seg_yy = np.add.reduceat(w * y * y, np.flatnonzero(new_size))
    wl = w * py  # (the shared view's losses: not centred)
    merged = merge and _repeats(table, x1, x2)
    if merged:
        first = new_size | batch.first_of_value(x2)
        point, group = np.flatnonzero(first), np.cumsum(first) - 1
        w, wy, wl = (np.bincount(group, weights=v) for v in (w, w * y, wl))  # (faster than reduceat here)
        y = wy / w
        fit, row, plb, new_size = fit[point], row[point], plb[point], new_size[point]
        fit_start = np.searchsorted(point, fit_start)
    seg_start = np.flatnonzero(new_size)
    seg_fit = fit[seg_start]
    shared = None
    if batch.shared:
        ref = float(lb.mean())
        pointers = np.append(seg_start, len(w))
        shape = (len(seg_start), len(lb))
        shared = Shared(
            l2=lb - ref,
            ref=ref,
            weights=sparse.csr_matrix((w, row, pointers), shape=shape),
            losses=sparse.csr_matrix((wl, row, pointers), shape=shape),
        )
    return Flat(
        l2=plb - np.repeat(ref2, np.diff(np.append(fit_start, len(w)))),
        y=y,
        w=w,
        seg_start=seg_start,
        seg_l1=la[row[seg_start]] - ref1[seg_fit],
        seg_fit=seg_fit,
        fit_start=fit_start,
        fit_seg=np.searchsorted(seg_start, fit_start),
        ref1=ref1,
        ref2=ref2,
        ymean=ymean,
        seg_yy=seg_yy,
        merged=merged,
        shared=shared,
    )


def _repeats(table: Problem, x1: str, x2: str) -> bool:
    """Whether two rows of the table share both inputs (rows are sorted by them, so neighbours do)."""
    a, b = table.inputs[x1], table.inputs[x2]
    return bool(np.any((a[1:] == a[:-1]) & (b[1:] == b[:-1])))
