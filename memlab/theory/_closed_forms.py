"""Theorem 3.1, Theorem 3.2, eq. 14 and the crossover M* (Section 3), derived with SymPy.

Nothing here is typed in as a final formula: each closed form is obtained from the step of its
derivation that the paper's proofs rest on, and the final forms are what SymPy simplifies to.

- Theorem 3.1 (:func:`excess_generalizing`): at high SNR the memorizing denoiser returns the
  training point itself (its loss is ~0), and the generalizing denoiser returns the posterior
  mean of the correct mixture component (the softmax is ~one-hot), so the excess loss is the
  posterior mean-squared error of ``x0 ~ N(mu, sigma_*^2 I_d)`` observed as
  ``x = alpha_t x0 + sigma_t z``. SymPy computes the MSE of the affine estimator
  ``k x + (1 - k alpha_t) mu`` (Gaussian moments), minimises it over ``k`` (recovering eq. 11's
  coefficient ``alpha_t sigma_*^2 / (alpha_t^2 sigma_*^2 + sigma_t^2)``), multiplies by ``d``:
  ``d sigma_*^2 sigma_t^2 / (alpha_t^2 sigma_*^2 + sigma_t^2)``, and with ``alpha_t^2 = psi_t sigma_t^2``
  simplifies it to ``d sigma_*^2 / (psi_t sigma_*^2 + 1)``.
- Theorem 3.2 (:func:`excess_pmem`): the M training points kept by x_pmem,M are reproduced
  exactly (excess 0); each of the N - M others is mapped to another training point of its
  cluster, at squared distance ``C d sigma_*^2`` (C in [1, 2]: 2 for an independent draw of the same
  component, 1 for the conditional mean). Averaging over the N points:
  ``C d sigma_*^2 (N - M) / N = C (1 - M/N) d sigma_*^2``.
- eq. 14 (:func:`eq14_integrand`, :func:`eq14_time_averaged`): ``lambda_t`` times the difference;
  the time average is taken by linearity of ``E_t`` (t-independent factors pulled out).
- M* (:func:`m_star`): ``sympy.solve(eq14_time_averaged() = 0, M)``.

Symbols (all module constants): ``D`` (d), ``SIGMA2`` (sigma_*^2), ``PSI`` (psi_t), ``C``, ``M``,
``N``, ``LAMBDA`` (lambda_t), and for the derivation ``ALPHA`` (alpha_t), ``SIGMA`` (sigma_t).
Time averages appear as ``E_t(expr)`` (:class:`E_t`); ``MEAN_WEIGHT = E_t(lambda_t)`` and
``MEAN_WEIGHT_GENERALIZING = E_t(lambda_t / (psi_t sigma_*^2 + 1))`` are the two that M* needs.
"""

from __future__ import annotations

import functools

import sympy as sp
from sympy.printing.pretty.stringpict import prettyForm

__all__ = [
    "ALPHA",
    "LAMBDA",
    "MEAN_WEIGHT",
    "MEAN_WEIGHT_GENERALIZING",
    "MEAN_WEIGHT_GENERALIZING_SYMBOL",
    "MEAN_WEIGHT_SYMBOL",
    "PSI",
    "SIGMA",
    "SIGMA2",
    "C",
    "D",
    "E_t",
    "M",
    "N",
    "derive_posterior_gain",
    "eq14_integrand",
    "eq14_time_averaged",
    "excess_generalizing",
    "excess_generalizing_alpha_sigma",
    "excess_pmem",
    "generalizing_factor",
    "m_star",
    "m_star_in_means",
    "m_star_over_n",
    "time_average_linear",
    "to_latex",
]

D = sp.Symbol("d", positive=True)
#: sigma_*^2, the target's per-coordinate variance (printed as sigma_*^2 in LaTeX via to_latex).
SIGMA2 = sp.Symbol("σ*²", positive=True)
PSI = sp.Symbol("psi_t", nonnegative=True)
C = sp.Symbol("C", positive=True)
#: M is only real: M* may come out <= 0 (a positive assumption would make solve drop it).
M = sp.Symbol("M", real=True)
N = sp.Symbol("N", positive=True)
LAMBDA = sp.Symbol("lambda_t", nonnegative=True)
ALPHA = sp.Symbol("alpha_t", positive=True)
SIGMA = sp.Symbol("sigma_t", positive=True)

#: Plain symbols standing for the two time averages (for lambdify / numeric substitution).
MEAN_WEIGHT_SYMBOL = sp.Symbol("Lambda_0", positive=True)
MEAN_WEIGHT_GENERALIZING_SYMBOL = sp.Symbol("Lambda_1", positive=True)

_LATEX_NAMES = {SIGMA2: r"\sigma_*^2"}


class E_t(sp.Function):  # the printed name "E_t" (the time average) is the class name
    """Unevaluated time average ``E_t[expr]`` over t (uniform on the grid or on [t_min, t_max])."""

    nargs = 1

    def _latex(self, printer):
        return rf"\mathbb{{E}}_t\left[{printer._print(self.args[0])}\right]"

    def _sympystr(self, printer):
        return f"E_t[{printer._print(self.args[0])}]"

    def _pretty(self, printer):
        inner = printer._print(self.args[0])
        inner = prettyForm(*inner.parens("[", "]"))
        return prettyForm(*inner.left("Eₜ"))


def to_latex(expr) -> str:
    """LaTeX of an expression with the project's symbol names (sigma_*^2, E_t[...])."""
    return sp.latex(expr, symbol_names=_LATEX_NAMES)


def _gaussian_expectation(poly_expr, normals: tuple[sp.Symbol, ...]) -> sp.Expr:
    """E[poly] for independent standard normal symbols (moments: E g^(2j) = (2j-1)!!, odd -> 0)."""
    poly = sp.Poly(sp.expand(poly_expr), *normals)
    total = sp.Integer(0)
    for powers, coeff in poly.terms():
        moment = sp.Integer(1)
        for p in powers:
            moment *= 0 if p % 2 else sp.factorial2(p - 1)
        total += coeff * moment
    return sp.expand(total)


@functools.lru_cache(maxsize=1)
def _posterior_derivation() -> tuple[sp.Expr, sp.Expr]:
    g, z = sp.symbols("g z", real=True)  # x0 = mu + sigma_* g, x = alpha x0 + sigma z
    k = sp.Symbol("k", real=True)
    sigma_star = sp.sqrt(SIGMA2)
    # estimator k x + (1 - k alpha) mu minus x0, with mu cancelling:
    error = k * (ALPHA * sigma_star * g + SIGMA * z) - sigma_star * g
    mse = _gaussian_expectation(error**2, (g, z))
    # The MSE is quadratic in k, so its stationarity condition is linear: a k + b = 0 (solved directly;
    # sp.solve would also get there, after importing sympy.physics and simplifying, ~0.5 s).
    stationarity = sp.Poly(sp.diff(mse, k), k)
    if stationarity.degree() != 1:  # pragma: no cover - a quadratic's derivative is linear
        raise RuntimeError(f"expected a linear stationarity condition in k, got {stationarity}")
    slope, offset = stationarity.all_coeffs()
    gain = -offset / slope
    # Everything here is a rational function of alpha_t, sigma_t, sigma_*^2: sp.factor gives the canonical
    # reduced form (as sp.simplify did, in a fraction of its time: memlab.theory is imported by every command).
    return sp.factor(gain), sp.factor(mse.subs(k, gain))


def derive_posterior_gain() -> sp.Expr:
    """The MSE-optimal gain on x of the affine estimator: ``alpha_t sigma_*^2 / (alpha_t^2 sigma_*^2 + sigma_t^2)``."""
    return _posterior_derivation()[0]


def excess_generalizing_alpha_sigma() -> sp.Expr:
    """Theorem 3.1 as derived: ``d sigma_*^2 sigma_t^2 / (alpha_t^2 sigma_*^2 + sigma_t^2)``."""
    return sp.factor(D * _posterior_derivation()[1])


@functools.lru_cache(maxsize=1)
def excess_generalizing() -> sp.Expr:
    """Theorem 3.1 in psi form: substitute ``alpha_t = sqrt(psi_t) sigma_t`` and simplify.

    The result is ``d sigma_*^2/(psi_t sigma_*^2 + 1)``.
    """
    return sp.factor(excess_generalizing_alpha_sigma().subs(ALPHA, sp.sqrt(PSI) * SIGMA))


def generalizing_factor() -> sp.Expr:
    """``1 / (psi_t sigma_*^2 + 1)``: Theorem 3.1's excess divided by ``d sigma_*^2``."""
    return sp.factor(excess_generalizing() / (D * SIGMA2))


@functools.lru_cache(maxsize=1)
def excess_pmem() -> sp.Expr:
    """Theorem 3.2: (N - M)/N of the points, each at squared distance ``C d sigma_*^2``: ``C (1 - M/N) d sigma_*^2``."""
    kept, missed = M / N, (N - M) / N
    return sp.together(kept * 0 + missed * C * D * SIGMA2)


def eq14_integrand() -> sp.Expr:
    """eq. 14 inside E_t: ``lambda_t (C (1 - M/N) d sigma_*^2 - d sigma_*^2/(psi_t sigma_*^2 + 1))``."""
    return LAMBDA * (excess_pmem() - excess_generalizing())


def time_average_linear(expr, time_dependent=(LAMBDA, PSI)) -> sp.Expr:
    """Apply ``E_t`` by linearity: every additive term's t-independent factor is pulled out of ``E_t``."""
    total = sp.Integer(0)
    for term in sp.Add.make_args(sp.expand(expr)):
        coefficient, dependent = term.as_independent(*time_dependent, as_Add=False)
        total += coefficient * (E_t(dependent) if dependent != 1 else 1)
    return sp.collect(total, [E_t(LAMBDA)])


MEAN_WEIGHT = E_t(LAMBDA)
MEAN_WEIGHT_GENERALIZING = E_t(LAMBDA * generalizing_factor())


@functools.lru_cache(maxsize=1)
def eq14_time_averaged() -> sp.Expr:
    """eq. 14: ``C (1 - M/N) d sigma_*^2 E_t[lambda_t] - d sigma_*^2 E_t[lambda_t/(psi_t sigma_*^2 + 1)]``."""
    return time_average_linear(eq14_integrand())


@functools.lru_cache(maxsize=1)
def m_star() -> sp.Expr:
    """M*: the root in M of eq. 14 (``eq14_time_averaged()``, linear in M).

    ``N (1 - E_t[lambda/(psi sigma^2+1)] / (C E_t[lambda]))``.
    """
    # eq. 14 is linear in M: a M + b = 0, solved directly (sp.solve and sp.simplify give the same root
    # after importing sympy.physics, ~0.4 s, which every `memlab crossover` would pay).
    gap = sp.expand(eq14_time_averaged())
    slope, offset = gap.coeff(M, 1), gap.coeff(M, 0)
    if slope == 0 or sp.expand(gap - slope * M - offset) != 0:  # pragma: no cover - eq. 14 is linear in M
        raise RuntimeError(f"expected eq. 14 to be linear in M, got {gap}")
    return sp.expand(-offset / slope)


@functools.lru_cache(maxsize=1)
def m_star_over_n() -> sp.Expr:
    """M*/N, free of N, d and K."""
    return sp.expand(m_star() / N)


@functools.lru_cache(maxsize=1)
def m_star_in_means() -> sp.Expr:
    """M* with the two time averages replaced by the plain symbols ``Lambda_0, Lambda_1`` (for numerics)."""
    return m_star().subs({MEAN_WEIGHT: MEAN_WEIGHT_SYMBOL, MEAN_WEIGHT_GENERALIZING: MEAN_WEIGHT_GENERALIZING_SYMBOL})
