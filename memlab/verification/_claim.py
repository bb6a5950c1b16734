"""What a claim is and what its check returns (the report's schema, one row per claim).

A :class:`Claim` is a statement of the paper with a check. A check is a function
``check(budget, *, rng) -> CheckResult``: it gets a :class:`Budget` (``quick`` or ``full``) and
its own ``numpy.random.Generator`` (seeded from the run's seed and the claim id, so the same
seed gives the same numbers whether one claim or all of them run). A check that declares a
``seed`` keyword also gets the run's seed (for an experiment shared by several claims, e.g. the
Monte Carlo runs behind Theorems 3.1 and 3.2).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "VERDICTS",
    "KINDS",
    "BUDGETS",
    "Budget",
    "Claim",
    "CheckResult",
    "quantity",
]

#: A check's verdict: the statement held on everything tried, was contradicted, or could not be decided.
VERDICTS = ("holds", "fails", "inconclusive")
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
    - ``summary``: one short line "measured vs expected" for the printed table.
    """

    verdict: str
    measured: dict
    expected: dict
    tolerance: dict
    settings: dict
    counterexample: dict | None = None
    details: dict = field(default_factory=dict)
    summary: str = ""

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
