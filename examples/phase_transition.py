"""A small phase-transition sweep from Python: trained GMM denoisers switch from generalizing to memorizing.

    python examples/phase_transition.py [OUT_DIR] [--small]

Starts from the ``cpu`` preset of Figure 2 and shrinks it (``--small``: N = 20, a handful of model sizes,
150 epochs; under a minute on 2 cores). Runs are cached under OUT_DIR/cache: a second run only re-plots.
"""

import dataclasses
import sys
from pathlib import Path

import memlab


def main(out_dir: str = "figures/examples/phase-transition", small: bool = False) -> None:
    settings = memlab.preset(2, "cpu")
    if small:
        recipe = dataclasses.replace(settings.recipe, epochs=150, n_eval=20, eval_draws=4)
        settings = dataclasses.replace(settings, n=20, d=10, k=3, m_values=(4, 16, 24), recipe=recipe)
    sweep = memlab.SweepOptions(cache_dir=Path(out_dir) / "cache")  # executor="pool" runs models in parallel
    result = memlab.compute_figure2(settings, sweep=sweep)
    seed = result.seeds[0]
    for m, run in zip(seed.m_values, seed.runs):
        print(
            f"M = {m:3d}: memorization ratio {run['memorization_ratio']:.2f} "
            f"[{run['memorization_ci_low']:.2f}, {run['memorization_ci_high']:.2f}], "
            f"learned variance {run['learned_variance']:.3g}"
        )
    print(
        f"M_pt = {seed.transition.m_pt} (first M memorizing on average); "
        f"M* (eq. 14, C = 2, lambda = 1) = {result.m_star['x0']:.1f}"
    )
    memlab.save_figure2(result, out_dir)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--small"]
    main(*args[:1], small="--small" in sys.argv)
