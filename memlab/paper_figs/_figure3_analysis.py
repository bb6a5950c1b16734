"""Figure 3's analysis: from measured M_pt per (N, d, K) tuple to the loss-weighting regression and its tests.

Input: one :class:`TupleOutcome` per tuple (the sweep's model sizes, memorization ratios, M_pt with its
bootstrap interval from :func:`memlab.numerics.phase_transition`, and optionally the Monte Carlo gap
matrix of the tuple's data set). Output: a :class:`Figure3Analysis` holding, for every *method*, the
predicted M_pt of every tuple and the relative errors on the training and held-out tuples:

- ``fitted_approx``: lambda fitted (App. H.3, eq. 30) to the training tuples on the Section 3
  approximate losses (Theorems 3.1/3.2);
- ``fitted_exact``: the same fit on the exact (Monte Carlo) losses of each tuple's data set;
- ``x0_approx``, ``eps_approx``, ``x0_exact``, ``eps_exact``: fixed weightings (lambda = 1 and
  lambda = psi_t, the training weighting), no fitting — the hypothesis tested, not fitted.

Each method reports three predictions per tuple: ``m_hat`` (the softmax-relaxed M of App. H.3, what the
fit optimises), ``m_nearest`` (the hard nearest M to the crossover, eq. 15) and ``crossover`` (the
continuous zero of the integrated gap; for the approximations exactly M* of eq. 14). Tuples whose
sweep never reached ratio 1/2 have no M_pt: they are predicted but excluded from fits and errors.
This module is NumPy/SciPy only (no JAX).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from memlab._errors import InvalidInputError
from memlab.numerics import (
    ErrorSummary,
    LossGaps,
    RegressionConfig,
    WeightingFit,
    approx_loss_gaps,
    crossover,
    fit_weighting,
    grid_weighting,
    predict_m_pt,
    relative_errors,
    split_tuples,
)
from memlab.paper_figs._settings import AnalysisSettings

__all__ = [
    "FIXED_WEIGHTINGS",
    "Figure3Analysis",
    "MethodResult",
    "TupleOutcome",
    "analyze",
    "csv_table",
    "regression_config",
]

FIXED_WEIGHTINGS = ("x0", "eps")


@dataclass(frozen=True, eq=False)
class TupleOutcome:
    """The sweep's outcome for one (N, d, K) tuple.

    m_values: model sizes trained (sorted); ratios: their memorization ratios; m_pt: first M with ratio
    >= 1/2 (None: not reached); m_pt_ci: its bootstrap interval (None bounds: beyond the sweep);
    m_start, m_end: the transition (> 1/10, > 9/10); exact: the tuple's Monte Carlo gaps (or None).
    """

    n: int
    d: int
    k: int
    m_values: tuple[int, ...]
    ratios: tuple[float, ...]
    m_pt: int | None
    m_pt_ci: tuple[int | None, int | None]
    m_start: int | None = None
    m_end: int | None = None
    exact: LossGaps | None = None


def regression_config(settings: AnalysisSettings) -> RegressionConfig:
    """The fit's configuration (App. H.3) from the analysis settings."""
    return RegressionConfig(
        tau=settings.tau,
        beta=settings.beta,
        random_starts=settings.random_starts,
        seed=settings.fit_seed,
        schedule=settings.schedule,
    )


@dataclass(frozen=True, eq=False)
class MethodResult:
    """One prediction method over all tuples (arrays ``(P,)`` in tuple order)."""

    name: str
    losses: str  # "approx" or "exact"
    weights: np.ndarray  # (T,) mean 1
    m_hat: np.ndarray
    m_nearest: np.ndarray
    crossover: np.ndarray
    errors: dict[str, ErrorSummary | None]  # "train"/"test" (relaxed m_hat), "train_nearest"/"test_nearest"
    m_star_over_n: float | None  # the approximations' M*/N (d-, K-, N-independent); None for exact losses
    fit: WeightingFit | None = None


@dataclass(frozen=True, eq=False)
class Figure3Analysis:
    tuples: tuple[TupleOutcome, ...]
    split: tuple[str, ...]  # per tuple: "train", "test" or "excluded"
    methods: dict[str, MethodResult]
    settings: AnalysisSettings
    sigma2: float = 1.0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def targets(self) -> np.ndarray:
        return np.array([np.nan if t.m_pt is None else float(t.m_pt) for t in self.tuples])


def _indices(split: Sequence[str], which: str) -> np.ndarray:
    return np.array([i for i, s in enumerate(split) if s == which], dtype=np.int64)


def _errors(pred: np.ndarray, targets: np.ndarray, idx: np.ndarray) -> ErrorSummary | None:
    if idx.size == 0 or np.any(np.isnan(pred[idx])):
        return None
    return relative_errors(pred[idx], targets[idx])


def _method(
    name: str,
    losses: str,
    gaps: list[LossGaps],
    weights: np.ndarray,
    targets: np.ndarray,
    split: Sequence[str],
    settings: AnalysisSettings,
    sigma2: float,
    *,
    fit: WeightingFit | None = None,
) -> MethodResult:
    pred = predict_m_pt(gaps, weights, tau=settings.tau)
    train, test = _indices(split, "train"), _indices(split, "test")
    errors = {
        "train": _errors(pred.relaxed, targets, train),
        "test": _errors(pred.relaxed, targets, test),
        "train_nearest": _errors(pred.hard, targets, train),
        "test_nearest": _errors(pred.hard, targets, test),
    }
    m_star = None
    if losses == "approx":
        m_star = float(
            crossover(
                1.0, c=settings.c, sigma2=sigma2, schedule=settings.schedule, steps=settings.steps, weights=weights
            ).m_star_over_n
        )
    return MethodResult(
        name=name,
        losses=losses,
        weights=np.asarray(weights, dtype=np.float64) / np.mean(weights),
        m_hat=pred.relaxed,
        m_nearest=pred.hard,
        crossover=pred.crossover,
        errors=errors,
        m_star_over_n=m_star,
        fit=fit,
    )


def analyze(
    tuples: Sequence[TupleOutcome], settings: AnalysisSettings = AnalysisSettings(), *, sigma2: float = 1.0
) -> Figure3Analysis:
    """Split the tuples with an M_pt into train/test, fit lambda on each loss kind, predict with every method.

    sigma2: the data's sigma_*^2 (in the approximate losses of Theorems 3.1/3.2).
    """
    tuples = tuple(tuples)
    if not tuples:
        raise InvalidInputError("no tuples to analyse")
    notes = []
    usable = [i for i, t in enumerate(tuples) if t.m_pt is not None]
    split = ["excluded"] * len(tuples)
    if not usable:
        raise InvalidInputError(
            "no tuple reached memorization ratio 1/2 within its sweep: nothing to fit "
            "(train longer or extend the grid of M)"
        )
    if len(usable) < len(tuples):
        notes.append(
            f"{len(tuples) - len(usable)} tuple(s) never reached ratio 1/2 within the sweep: excluded from "
            "the fits and errors (predictions still listed)"
        )
    test_fraction = settings.test_fraction if len(usable) >= 2 else 0.0
    if test_fraction != settings.test_fraction:
        notes.append("only one tuple has an M_pt: no held-out split")
    train_idx, test_idx = split_tuples(len(usable), test_fraction=test_fraction, seed=settings.split_seed)
    for j in train_idx:
        split[usable[j]] = "train"
    for j in test_idx:
        split[usable[j]] = "test"
    targets = np.array([np.nan if t.m_pt is None else float(t.m_pt) for t in tuples])
    train = _indices(split, "train")
    config = regression_config(settings)

    gap_sets: dict[str, list[LossGaps]] = {
        "approx": [
            approx_loss_gaps(
                t.n,
                d=t.d,
                k=t.k,
                sigma2=sigma2,
                c=settings.c,
                schedule=settings.schedule,
                steps=settings.steps,
                normalize=settings.normalize,
            )
            for t in tuples
        ]
    }
    if all(t.exact is not None for t in tuples):
        gap_sets["exact"] = [t.exact for t in tuples if t.exact is not None]
    else:
        notes.append("exact (Monte Carlo) losses missing for some tuples: exact-loss methods skipped")

    methods: dict[str, MethodResult] = {}
    for losses, gaps in gap_sets.items():
        fit = fit_weighting([gaps[i] for i in train], targets[train], config=config)
        methods[f"fitted_{losses}"] = _method(
            f"fitted_{losses}", losses, gaps, fit.weights, targets, split, settings, sigma2, fit=fit
        )
        for name in FIXED_WEIGHTINGS:
            weights = grid_weighting(name, schedule=settings.schedule, steps=settings.steps)
            methods[f"{name}_{losses}"] = _method(
                f"{name}_{losses}", losses, gaps, weights, targets, split, settings, sigma2
            )
    return Figure3Analysis(
        tuples=tuples, split=tuple(split), methods=methods, settings=settings, sigma2=sigma2, notes=tuple(notes)
    )


def csv_table(analysis: Figure3Analysis) -> tuple[list[str], list[list[Any]]]:
    """One row per tuple: measured M_pt with its interval, then every method's three predictions."""
    header = [
        "n",
        "d",
        "k",
        "split",
        "m_pt",
        "m_pt_ci_low",
        "m_pt_ci_high",
        "m_pt_over_n",
        "m_start",
        "m_end",
        "models_trained",
    ]
    for name in analysis.methods:
        header += [f"{name}_m_hat", f"{name}_m_nearest", f"{name}_crossover"]
    rows = []
    for i, (t, s) in enumerate(zip(analysis.tuples, analysis.split)):
        row = [
            t.n,
            t.d,
            t.k,
            s,
            t.m_pt,
            t.m_pt_ci[0],
            t.m_pt_ci[1],
            None if t.m_pt is None else t.m_pt / t.n,
            t.m_start,
            t.m_end,
            len(t.m_values),
        ]
        for method in analysis.methods.values():
            row += [_cell(method.m_hat[i]), _cell(method.m_nearest[i]), _cell(method.crossover[i])]
        rows.append(row)
    return header, rows


def _cell(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None
