"""Symbolic proofs of the App. H.4 identities for the low-rank image model (Section 4.2).

Setting: a template ``x in R^D``, ``A = I_c ⊗ x`` (shape ``cD x c``), so ``A^T A = ||x||^2 I_c``, and
the component covariance ``Sigma = sigma_c^2 A A^T``. With ``s = ||x||^2`` the claims are

- inverse:  ``(alpha^2 sigma_c^2 A A^T + sigma_t^2 I)^{-1}
  = (1/sigma_t^2) (I - [alpha^2 sigma_c^2 / (sigma_t^2 + alpha^2 sigma_c^2 s)] A A^T)``;
- log-det:  ``log det(alpha^2 sigma_c^2 A A^T + sigma_t^2 I)
  = c D log sigma_t^2 + c log(1 + alpha^2 sigma_c^2 s / sigma_t^2)``.

Each prover does two genuinely symbolic checks and reports both in a :class:`SymbolicProof`:

1. *Explicit, for the given sizes* ``(c, D)``: ``x`` has symbolic entries ``x_1..x_D``; the matrices
   are built entry by entry. Inverse: every entry of ``Mat @ claimed_inverse - I`` is reduced by
   ``sympy.cancel`` (a normal form for rational functions, so 0 means identically 0). Log-det:
   ``det(Mat)`` (Berkowitz, exact polynomial) minus ``exp(claimed log-det)`` cancels to 0; the log
   of two equal positive quantities agree (Mat is symmetric positive definite).
2. *Size-free*: with ``P = A A^T`` and ``A^T A = s I_c`` (mixed-product rule:
   ``(I_c ⊗ x)^T (I_c ⊗ x) = I_c ⊗ x^T x``), ``P^2 = s P``, so matrices ``a I + b P`` form a
   commutative algebra with ``(a1 I + b1 P)(a2 I + b2 P) = a1 a2 I + (a1 b2 + a2 b1 + s b1 b2) P``.
   The inverse claim is checked as an identity in that algebra for symbolic ``alpha, sigma_c,
   sigma_t, s``. For the log-det: ``P^2 = s P`` forces the eigenvalues of P into ``{0, s}`` and
   ``tr P = tr A^T A = c s`` makes ``s`` an eigenvalue of multiplicity ``c``, so
   ``det = (sigma_t^2)^{cD - c} (sigma_t^2 + alpha^2 sigma_c^2 s)^c``; its log is compared with the
   claim for *symbolic* positive integers ``c, D``.

A wrong claim (pass ``coefficient=`` or ``claimed_logdet=``) makes the prover return a failed proof
with the offending residual, so the provers can fail.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp

from memlab._errors import InvalidInputError

__all__ = [
    "SymbolicProof",
    "prove_woodbury_inverse",
    "prove_woodbury_logdet",
    "woodbury_coefficient",
    "woodbury_logdet",
]

ALPHA = sp.Symbol("alpha", positive=True)
SIGMA_C = sp.Symbol("sigma_c", positive=True)
SIGMA_T = sp.Symbol("sigma_t", positive=True)
NORM2 = sp.Symbol("s", positive=True)  # ||x||^2
_C = sp.Symbol("c", positive=True, integer=True)
_D = sp.Symbol("D", positive=True, integer=True)

_MAX_EXPLICIT_SIZE = 12  # cD above this makes the symbolic determinant slow


@dataclass(frozen=True)
class SymbolicProof:
    """Outcome of a symbolic proof. ``bool(proof)`` is ``holds``.

    ``sizes``: the ``(c, D)`` checked entry by entry; ``general``: whether the size-free algebraic
    argument also held; ``residual``: a nonzero leftover (as a string) when a check failed.
    """

    claim: str
    holds: bool
    sizes: tuple[tuple[int, int], ...]
    explicit: bool
    general: bool
    method: str
    residual: str = ""
    seconds: float = 0.0

    def __bool__(self) -> bool:
        return self.holds


def woodbury_coefficient(alpha, sigma_c, sigma_t, norm2):
    """App. H.4's coefficient ``alpha^2 sigma_c^2 / (sigma_t^2 + alpha^2 sigma_c^2 ||x||^2)``."""
    return alpha**2 * sigma_c**2 / (sigma_t**2 + alpha**2 * sigma_c**2 * norm2)


def woodbury_logdet(c, D, alpha, sigma_c, sigma_t, norm2):
    """App. H.4's ``c D log sigma_t^2 + c log(1 + alpha^2 sigma_c^2 ||x||^2 / sigma_t^2)``."""
    return c * D * sp.log(sigma_t**2) + c * sp.log(1 + alpha**2 * sigma_c**2 * norm2 / sigma_t**2)


def _check_sizes(c, D) -> tuple[int, int]:
    if int(c) != c or int(D) != D or c < 1 or D < 1:
        raise InvalidInputError(f"c and D must be positive integers, got c={c}, D={D}")
    if c * D > _MAX_EXPLICIT_SIZE:
        raise InvalidInputError(f"explicit symbolic check limited to c*D <= {_MAX_EXPLICIT_SIZE}, got {c * D}")
    return int(c), int(D)


def _template_matrix(c: int, D: int) -> tuple[sp.Matrix, sp.Expr]:
    xs = sp.symbols(f"x_1:{D + 1}", real=True)
    x = sp.Matrix(D, 1, xs)
    A = sp.kronecker_product(sp.eye(c), x)  # (c D) x c
    return A, sum(xi**2 for xi in xs)


def _is_zero(expr) -> bool:
    return sp.cancel(sp.together(expr)) == 0


def _algebra_mul(u, v):
    """Product in the algebra span{I, P} with P^2 = s P; elements are pairs (a, b) = a I + b P."""
    (a1, b1), (a2, b2) = u, v
    return (a1 * a2, a1 * b2 + a2 * b1 + NORM2 * b1 * b2)


def prove_woodbury_inverse(c: int = 3, D: int = 2, *, coefficient: Callable | None = None) -> SymbolicProof:
    """Prove the App. H.4 inverse for ``A = I_c ⊗ x``, x in R^D symbolic, and size-free in span{I, A A^T}.

    ``coefficient(alpha, sigma_c, sigma_t, norm2)`` is the claimed scalar in front of ``A A^T``
    (default: :func:`woodbury_coefficient`, App. H.4's). Runs in well under a second for c*D <= 6.
    """
    start = time.perf_counter()
    c, D = _check_sizes(c, D)
    coefficient = coefficient or woodbury_coefficient
    A, norm2 = _template_matrix(c, D)
    gram_ok = all(_is_zero(e) for e in (A.T * A - norm2 * sp.eye(c)))
    P = A * A.T
    size = c * D
    mat = ALPHA**2 * SIGMA_C**2 * P + SIGMA_T**2 * sp.eye(size)
    k = coefficient(ALPHA, SIGMA_C, SIGMA_T, norm2)
    claimed = (sp.eye(size) - k * P) / SIGMA_T**2
    leftover = (mat * claimed - sp.eye(size)).applyfunc(lambda e: sp.cancel(sp.together(e)))
    explicit = gram_ok and all(e == 0 for e in leftover)
    # Size-free: (alpha^2 sigma_c^2 P + sigma_t^2 I) * (1/sigma_t^2)(I - k P) == I in span{I, P}.
    k_general = coefficient(ALPHA, SIGMA_C, SIGMA_T, NORM2)
    a, b = _algebra_mul((SIGMA_T**2, ALPHA**2 * SIGMA_C**2), (1 / SIGMA_T**2, -k_general / SIGMA_T**2))
    general = _is_zero(a - 1) and _is_zero(b)
    residual = ""
    if not explicit:
        nonzero = [e for e in leftover if e != 0]
        residual = f"Mat @ claimed - I has nonzero entry {nonzero[0]}" if nonzero else "A^T A != ||x||^2 I"
    elif not general:
        residual = f"in span{{I, P}}: Mat @ claimed - I = ({sp.cancel(a - 1)}) I + ({sp.cancel(b)}) P"
    return SymbolicProof(
        claim=(
            "(a^2 s_c^2 A A^T + s_t^2 I)^-1 = (1/s_t^2)(I - [a^2 s_c^2/(s_t^2 + a^2 s_c^2 |x|^2)] A A^T), A = I_c (x) x"
        ),
        holds=explicit and general,
        sizes=((c, D),),
        explicit=explicit,
        general=general,
        method="entrywise sympy.cancel of Mat @ claimed - I with symbolic x; identity in span{I, P}, P^2 = |x|^2 P",
        residual=residual,
        seconds=time.perf_counter() - start,
    )


def prove_woodbury_logdet(c: int = 3, D: int = 2, *, claimed_logdet: Callable | None = None) -> SymbolicProof:
    """Prove the App. H.4 log-det explicitly for ``(c, D)`` (symbolic x) and for symbolic sizes ``c, D``.

    ``claimed_logdet(c, D, alpha, sigma_c, sigma_t, norm2)`` is the claimed log-determinant
    (default: :func:`woodbury_logdet`, App. H.4's).
    """
    start = time.perf_counter()
    c, D = _check_sizes(c, D)
    claimed_logdet = claimed_logdet or woodbury_logdet
    A, norm2 = _template_matrix(c, D)
    size = c * D
    P = A * A.T
    # the facts the size-free argument uses, checked for these sizes: P^2 = s P and tr P = c s
    structure_ok = all(_is_zero(e) for e in (P * P - norm2 * P)) and _is_zero(P.trace() - c * norm2)
    mat = ALPHA**2 * SIGMA_C**2 * P + SIGMA_T**2 * sp.eye(size)
    det = mat.det(method="berkowitz")
    claimed_det = sp.powsimp(sp.expand_log(sp.exp(claimed_logdet(c, D, ALPHA, SIGMA_C, SIGMA_T, norm2)), force=True))
    explicit_residual = sp.cancel(sp.together(sp.expand(det) - claimed_det))
    explicit = structure_ok and explicit_residual == 0
    # Size-free: eigenvalues sigma_t^2 + alpha^2 sigma_c^2 s (multiplicity c) and sigma_t^2 (cD - c).
    eig_logdet = (_C * _D - _C) * sp.log(SIGMA_T**2) + _C * sp.log(SIGMA_T**2 + ALPHA**2 * SIGMA_C**2 * NORM2)
    general_residual = sp.simplify(
        sp.expand_log(eig_logdet - claimed_logdet(_C, _D, ALPHA, SIGMA_C, SIGMA_T, NORM2), force=True)
    )
    general = general_residual == 0
    residual = ""
    if not structure_ok:
        residual = "A A^T does not satisfy P^2 = |x|^2 P and tr P = c |x|^2"
    elif not explicit:
        residual = f"det(Mat) - exp(claimed) = {explicit_residual}"
    elif not general:
        residual = f"eigenvalue log-det - claimed = {general_residual}"
    return SymbolicProof(
        claim="log det(a^2 s_c^2 A A^T + s_t^2 I) = c D log s_t^2 + c log(1 + a^2 s_c^2 |x|^2 / s_t^2), A = I_c (x) x",
        holds=explicit and general,
        sizes=((c, D),),
        explicit=explicit,
        general=general,
        method="exact Berkowitz determinant with symbolic x vs exp(claim); eigenvalues of P (P^2 = |x|^2 P, "
        "tr P = c |x|^2) for symbolic c, D",
        residual=residual,
        seconds=time.perf_counter() - start,
    )
