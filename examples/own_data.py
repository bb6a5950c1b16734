"""Bring your own data: a training set and the mixture it came from, in an .npz, through the engine and Figure 1.

    python examples/own_data.py [OUT_DIR] [--small]

The file holds ``x_train`` (N x d), ``means`` (K x d) and optionally ``sigma2``; ``memlab figure 1 --data
FILE.npz`` reads the same file from the command line. Here we write one (an anisotropic stand-in for
real data) and run the Monte Carlo engine on it directly, then as Figure 1.
"""

import dataclasses
import sys
from pathlib import Path

import jax
import numpy as np

import memlab


def main(out_dir: str = "figures/examples/own-data", small: bool = False) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    k, d, n, draws = (3, 8, 30, 4) if small else (6, 40, 150, 50)
    means = rng.standard_normal((k, d)) * 2.0
    x_train = means[rng.integers(0, k, n)] + 0.7 * rng.standard_normal((n, d))
    np.savez(out / "mine.npz", x_train=x_train, means=means, sigma2=np.array(0.49))

    data = memlab.load_gmm_dataset(out / "mine.npz")  # validated: shapes, finiteness, N >= 2
    alphas, sigmas, psis = memlab.schedule_coefficients(memlab.timestep_grid()[[8, 16, 24]])
    losses = memlab.mc_excess_losses(
        data.x_train, data.means, data.sigma2, alphas=alphas, sigmas=sigmas, draws=draws, key=jax.random.key(0)
    )
    for t_i, psi in enumerate(psis):
        print(
            f"psi = {psi:8.3f}: excess(x_*) = {losses.excess_gen[t_i]:.4f} ± {losses.excess_gen_se[t_i]:.4f}, "
            f"Theorem 3.1 (isotropic) says {memlab.excess_gen_approx(psi, d=d, sigma2=data.sigma2):.4f}"
        )

    settings = dataclasses.replace(memlab.preset(1, "paper"), data=out / "mine.npz", draws=draws)
    memlab.save_figure1(memlab.compute_figure1(settings), out / "figure1")
    print(f"wrote {out / 'figure1'}")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--small"]
    main(*args[:1], small="--small" in sys.argv)
