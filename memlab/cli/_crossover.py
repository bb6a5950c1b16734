"""``memlab crossover``: the crossover model size M* for a user's setting (eq. 14 solved for M).

M* = N (1 - E_t[lambda/(psi_t sigma_*^2 + 1)] / (C E_t[lambda])), from ``sympy.solve`` of eq. 14;
evaluated in float64 by :func:`memlab.numerics.crossover` and exactly by
:func:`memlab.theory.crossover_exact` (the exact value is printed beside the float one). JAX is
never imported by this command.
"""

from __future__ import annotations

import argparse
import json

import sympy as sp

from memlab import numerics, theory
from memlab._errors import InvalidInputError
from memlab._io import to_jsonable
from memlab._readers import read_number_column
from memlab.cli._common import finite_float, positive_float, positive_int

_WEIGHTINGS = ("x0", "eps", "v", "score", "elbo")
_SCHEDULES = ("vp", "ve", "linear")
_DEFAULT_STEPS = 25
#: The exact (SymPy) M*/N is computed for grids up to this L (beyond, exact sums get slow and huge).
EXACT_MAX_STEPS = 100
#: ... and printed in JSON only up to this many characters.
EXACT_MAX_CHARS = 2000

_EPILOG = """\
M* does not depend on d or K at this order; d scales the approximate losses, K is only echoed.
Weightings (relative to the x0-MSE): x0: 1, eps: psi_t, v: (alpha^2+sigma^2)^2/sigma^2 (= psi_t+1 for vp),
score: alpha^2/sigma^4, elbo: -psi_t'/2. --weights FILE gives one non-negative number per grid
timestep t_0..t_L (t_l = 0.999 - 0.998 l/L), as a JSON list or one number per line (CSV/TXT).
example: memlab crossover --n 200 --d 50 --k 12 --weighting eps --json"""


def register(sub, parser_class=None) -> None:
    parser = sub.add_parser(
        "crossover",
        help="evaluate the crossover model size M* (eq. 14)",
        description="Evaluate the crossover model size M* at which the partially memorizing denoiser's "
        "approximate weighted training loss drops below the generalizing denoiser's (eq. 14).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--n", type=positive_int, required=True, help="number of training points N")
    parser.add_argument("--d", type=positive_int, required=True, help="data dimension d (scales the losses)")
    parser.add_argument("--k", type=positive_int, required=True, help="number of mixture components K (echoed)")
    parser.add_argument("--sigma2", type=positive_float, default=1.0, help="target variance sigma_*^2 (default 1)")
    parser.add_argument(
        "--c",
        type=positive_float,
        default=2.0,
        help="Theorem 3.2 coefficient C (theorem: 1 <= C <= 2; default 2 as in Figure 1)",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--weighting", choices=_WEIGHTINGS, default=None, help="loss weighting lambda(t) (default x0)")
    group.add_argument(
        "--weights",
        metavar="FILE",
        default=None,
        help="user weighting: L+1 non-negative numbers on the grid (JSON list or CSV/TXT column)",
    )
    parser.add_argument("--schedule", choices=_SCHEDULES, default="vp", help="noise schedule (default vp)")
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=None,
        help=f"L of the discrete grid, L+1 timesteps (default {_DEFAULT_STEPS})",
    )
    parser.add_argument("--continuous", action="store_true", help="average over t uniform on [t-min, t-max]")
    parser.add_argument("--t-min", type=finite_float, default=None, help="with --continuous (default 0.001)")
    parser.add_argument("--t-max", type=finite_float, default=None, help="with --continuous (default 0.999)")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")
    parser.set_defaults(func=run)


def _setting(args) -> dict:
    if not args.continuous:
        if args.t_min is not None or args.t_max is not None:
            raise InvalidInputError("--t-min/--t-max need --continuous (the discrete grid spans [0.001, 0.999])")
    elif args.steps is not None:
        raise InvalidInputError("--steps sets the discrete grid; it cannot be combined with --continuous")
    if args.weights is not None and args.continuous:
        raise InvalidInputError("--weights gives values on the discrete grid; it cannot be combined with --continuous")
    steps = args.steps if args.steps is not None else _DEFAULT_STEPS
    t_min = args.t_min if args.t_min is not None else 0.001
    t_max = args.t_max if args.t_max is not None else 0.999
    weights = read_number_column(args.weights, "weights file") if args.weights is not None else None
    return dict(
        c=args.c,
        sigma2=args.sigma2,
        weighting=args.weighting or "x0",
        schedule=args.schedule,
        steps=steps,
        continuous=args.continuous,
        t_min=t_min,
        t_max=t_max,
        weights=weights,
    )


def _table_ms(n: int, m_star: float) -> list[float]:
    """M* and a few integer M around it, within [0, N]."""
    step = max(1, round(n / 20))
    centre = min(max(round(m_star), 0), n)
    ms = {float(centre + k * step) for k in (-2, -1, 1, 2)} | {float(centre)}
    ms = {m for m in ms if 0 <= m <= n}
    if 0 <= m_star <= n:
        ms.add(float(m_star))
    return sorted(ms)


def run(args) -> int:
    setting = _setting(args)
    result = numerics.crossover(args.n, d=args.d, **setting)
    exact_text = _exact_text(setting)
    formula = sp.Eq(sp.Symbol("M*"), sp.Mul(theory.N, theory.m_star_over_n(), evaluate=False), evaluate=False)
    formula_latex = "M^{*} = " + theory.to_latex(sp.Mul(theory.N, theory.m_star_over_n(), evaluate=False))
    rows = []
    for m in _table_ms(args.n, float(result.m_star)):
        pmem = float(result.excess_loss_pmem(m))
        gen = result.excess_loss_generalizing()
        rows.append(
            {
                "m": m,
                "m_over_n": m / args.n,
                "excess_loss_generalizing": gen,
                "excess_loss_pmem": pmem,
                "loss_gap": pmem - gen,
            }
        )
    if args.json:
        payload = {
            "m_star": result.m_star,
            "m_star_over_n": result.m_star_over_n,
            "m_star_clipped": result.m_star_clipped,
            "m_star_over_n_exact": exact_text,
            "n": args.n,
            "d": args.d,
            "k": args.k,
            "c": args.c,
            "sigma2": args.sigma2,
            "weighting": result.weighting,
            "weights_file": args.weights,
            "weights": result.weights,
            "schedule": result.schedule,
            "steps": result.steps,
            "continuous": result.continuous,
            "t_min": result.t_min,
            "t_max": result.t_max,
            "mean_weight": result.mean_weight,
            "mean_weight_generalizing": result.mean_weight_generalizing,
            "quad_relerr": result.quad_relerr,
            "excess_loss_generalizing": result.excess_loss_generalizing(),
            "losses": rows,
            "formula": str(theory.m_star()),
            "formula_latex": formula_latex,
        }
        print(json.dumps(to_jsonable(payload)))
        return 0
    _print_human(args, result, exact_text, sp.pretty(formula, use_unicode=True), rows)
    return 0


def _exact_text(setting: dict) -> str | None:
    """The exact M*/N as text, or None (grid finer than EXACT_MAX_STEPS, quadrature needed, or too long)."""
    if not setting["continuous"] and setting["steps"] > EXACT_MAX_STEPS:
        return None
    exact = theory.crossover_exact(**setting)
    if not exact.exact:
        return None
    try:
        text = str(exact.m_star_over_n)
    except ValueError:  # an integer beyond Python's str() digit limit
        return None
    return text if len(text) <= EXACT_MAX_CHARS else None


def _print_human(args, result, exact_text, formula_pretty, rows) -> None:
    if result.continuous:
        where = f"t uniform on [{result.t_min:g}, {result.t_max:g}]"
    else:
        where = f"discrete grid L={result.steps} ({result.steps + 1} timesteps from 0.999 down to 0.001)"
    weighting = f"user weights from {args.weights}" if result.weighting == "user" else result.weighting
    print("Crossover model size (eq. 14 solved for M with SymPy)")
    print()
    print(formula_pretty)
    print()
    print(
        f"setting: N={args.n}, d={args.d}, K={args.k}, sigma_*^2={args.sigma2:g}, C={args.c:g}, "
        f"weighting {weighting}, schedule {result.schedule}, {where}"
    )
    print(f"E_t[lambda]                   = {result.mean_weight:.10g}")
    print(f"E_t[lambda/(psi sigma_*^2+1)] = {result.mean_weight_generalizing:.10g}")
    print(
        f"M*   = {result.m_star:.6f}"
        + (
            ""
            if result.m_star > 0
            else f"  (<= 0: x_pmem,M has the lower approximate loss at every M; clipped: {result.m_star_clipped:g})"
        )
    )
    line = f"M*/N = {result.m_star_over_n:.10f}"
    if exact_text is not None and len(exact_text) <= 80:
        line += f"  (exact: {exact_text})"
    elif exact_text is not None:
        line += "  (exact value: see --json, m_star_over_n_exact)"
    print(line)
    print("(M* is independent of d and K at this order.)")
    print()
    print("Approximate weighted excess training losses over x_mem, E_t[lambda (L_t(.) - L_t(x_mem))]:")
    header = f"{'M':>12} {'M/N':>8} {'x_* (Thm 3.1)':>16} {'x_pmem,M (Thm 3.2)':>19} {'pmem - x_*':>14}  lower"
    print(header)
    for row in rows:
        gap = row["loss_gap"]
        scale = max(abs(row["excess_loss_pmem"]), abs(row["excess_loss_generalizing"]))
        lower = "equal" if abs(gap) <= 1e-9 * scale else ("x_pmem,M" if gap < 0 else "x_*")
        tag = " <- M*" if row["m"] == result.m_star else ""
        print(
            f"{row['m']:>12.4f} {row['m_over_n']:>8.4f} {row['excess_loss_generalizing']:>16.8g} "
            f"{row['excess_loss_pmem']:>19.8g} {gap:>14.6g}  {lower}{tag}"
        )
