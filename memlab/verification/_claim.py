"""What a claim is and what its check returns (the report's schema, one row per claim).

A :class:`Claim` is a statement of the paper with a check. A check is a function
``check(budget, *, rng, statement_scale=1.0) -> CheckResult``: it gets a :class:`Budget` (``quick``
or ``full``) and its own ``numpy.random.Generator`` (seeded from the run's seed and the claim id, so
the same seed gives the same numbers whether one claim or all of them run). A check that declares a
``seed`` keyword also gets the run's seed (for an experiment shared by several claims, e.g. the
Monte Carlo runs behind Theorems 3.1 and 3.2).

Every check compares two sides (:attr:`CheckResult.sides`): the statement as a user of the package
gets it and a measurement that does not share its code path. ``statement_scale`` multiplies the
statement (the closed form, the constant, the bound) before the comparison: at 1 it is the check
as reported; a perturbed statement must come out ``fails`` (the negative controls of the tests).
The check also returns a :class:`Rescore` — the same decision rule, re-run on the same measurement
with any scale (and, for Monte Carlo decisions, on resampled measurements) — from which the runner
measures the check's power (:mod:`memlab.verification._power`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BUDGETS",
    "KINDS",
    "VERDICTS",
    "Budget",
    "CheckResult",
    "Claim",
    "Perturbation",
    "Rescore",
    "quantity",
]

#: A check's verdict: the statement held on everything tried, was contradicted, could not be decided, or the
#: check could not produce a verdict at all ("error": it crashed, or its measurement failed its own cross-check).
VERDICTS = ("holds", "fails", "inconclusive", "error")
#: How a claim is checked: exact identity, asymptotic statement, probability bound, deterministic inequality.
KINDS = ("identity", "asymptotic", "bound", "deterministic inequality")
#: Budgets: ``quick`` (whole suite <= 2 min on a 2-core CPU) and ``full`` (<= 20 min).
BUDGETS = ("quick", "full")


@dataclass(frozen=True)
class Budget:
    """How much work a check may do: ``quick`` or ``full``."""

    name: str = "quick"

    def __post_init__(self) -> None:
        if self.name not in BUDGETS:
            raise ValueError(f"budget must be one of {BUDGETS}, got {self.name!r}")

    @property
    def full(self) -> bool:
        return self.name == "full"

    def pick(self, quick: Any, full: Any) -> Any:
        """The ``quick`` or the ``full`` value of a setting."""
        return full if self.full else quick


def quantity(value: Any, *, se: Any = None, what: str = "", **extra: Any) -> dict:
    """A measured or expected number (or array) with its standard error and a description."""
    out: dict[str, Any] = {"value": value, "se": se, "what": what}
    out.update(extra)
    return out


@dataclass(frozen=True)
class Perturbation:
    """A way the statement can be wrong: multiplied by ``1 + sign · r`` (r > 0).

    ``label`` names it for the report (e.g. "bound × (1 − r)"); ``primary`` perturbations make up the
    headline detectable error (the largest of theirs); the others are reported beside it (e.g. the
    loose lower constant of Theorem 3.2).
    """

    label: str
    sign: int
    primary: bool = True

    def scale(self, r: float) -> float:
        return 1.0 + self.sign * float(r)


@dataclass(frozen=True)
class Rescore:
    """The check's decision rule, re-runnable with the statement multiplied by any ``scale``.

    ``fails(scale, rng)`` is True when the rule says "fails" for the statement times ``scale``: with
    ``rng=None`` on the measurement as it was made, with a generator on a resampled measurement
    (``stochastic`` checks only: a bootstrap of the Monte Carlo data, described by ``method``).
    ``perturbations`` are the directions in which an error of the statement is detectable.
    ``detection_rate(scale, seeds)``, optional, is the fraction of the replicates seeded by ``seeds``
    on which ``fails`` is True — the same numbers as calling ``fails(scale, default_rng(seed))`` for
    each seed, computed at once (stochastic checks whose decision vectorizes over replicates).
    """

    fails: Callable[[float, Any], bool]
    perturbations: tuple[Perturbation, ...]
    stochastic: bool = False
    method: str = ""
    notes: tuple[str, ...] = ()
    detection_rate: Callable[[float, Any], float] | None = None


@dataclass
class CheckResult:
    """The outcome of one check (fields as in the JSON report).

    - ``verdict``: one of :data:`VERDICTS`;
    - ``measured``: the measured quantity (``{"value", "se", "what", ...}``, see :func:`quantity`);
    - ``expected``: the expected value or the bound (same shape);
    - ``tolerance``: ``{"value", "why"}`` — what counts as agreement, and why that much;
    - ``settings``: the parameter settings tried (``{"tried": count, ...}``);
    - ``counterexample``: the smallest counterexample found (``None`` unless the verdict is ``fails``);
    - ``details``: everything else (per-setting tables, notes, readings, the false-alarm rate, ...);
    - ``summary``: one short line "measured vs expected" for the printed table;
    - ``sides``: ``{"statement": ..., "measurement": ...}`` — the two independent sides compared;
    - ``power``: filled by the runner from ``rescore`` (see :mod:`memlab.verification._power`);
    - ``rescore``: the decision rule re-runnable with a perturbed statement (not part of the report).
    """

    verdict: str
    measured: dict
    expected: dict
    tolerance: dict
    settings: dict
    counterexample: dict | None = None
    details: dict = field(default_factory=dict)
    summary: str = ""
    sides: dict = field(default_factory=dict)
    power: dict | None = None
    rescore: Rescore | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


CheckFunction = Callable[..., CheckResult]


@dataclass(frozen=True)
class Claim:
    """A claim of the paper: ``id`` (used by ``--only``), ``paper_ref``, ``statement``, ``kind`` and its check."""

    id: str
    paper_ref: str
    statement: str
    kind: str
    check: CheckFunction
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.id}: kind must be one of {KINDS}, got {self.kind!r}")

    def describe(self) -> Mapping[str, str]:
        return {"id": self.id, "paper_ref": self.paper_ref, "statement": self.statement, "kind": self.kind}
