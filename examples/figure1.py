"""Figure 1 from Python: Monte Carlo excess losses of x_pmem,M (every M) and x_* against Theorems 3.1/3.2.

    python examples/figure1.py [OUT_DIR] [--small]

Three lines do it: settings (a preset, here the paper's), compute, plot/save. ``--small`` uses a tiny
setting (seconds); the default is the paper's (d = 50, K = 12, N = 200, 100 draws).
"""

import dataclasses
import sys

import memlab


def main(out_dir: str = "figures/examples/figure1", small: bool = False) -> None:
    settings = memlab.preset(1, "paper")
    if small:
        settings = dataclasses.replace(settings, n=40, d=10, k=4, draws=8)
    result = memlab.compute_figure1(settings)
    fig = memlab.plot_figure1(result)  # a matplotlib Figure (in a notebook, just display it)
    print(f"plotted {len(fig.axes)} panel(s)")
    memlab.save_figure1(result, out_dir)  # PNG + PDF + CSV + JSON, written as one set
    excess = result.losses.excess_gen[0], result.losses.excess_gen_se[0]
    print(f"excess(x_*) = {excess[0]:.4f} ± {excess[1]:.4f} (Theorem 3.1: {result.approx_gen[0]:.4f})")
    m = result.n // 2
    print(
        f"excess(x_pmem,M={m}) = {result.losses.excess_pmem[0, m - 1]:.3f} "
        f"± {result.losses.excess_pmem_se[0, m - 1]:.3f}"
        f" (Theorem 3.2: between {result.approx_c1[m - 1]:.3f} and {result.approx_c2[m - 1]:.3f})"
    )
    print(f"wrote {out_dir}")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--small"]
    main(*args[:1], small="--small" in sys.argv)
