"""The crossover model size M* (eq. 14 solved for M) for your own settings.

    python examples/crossover.py

M* = N (1 - E_t[lambda/(psi_t sigma_*^2 + 1)] / (C E_t[lambda])): below M* the generalizing denoiser has
the lower approximate training loss, above it the partially memorizing one.
"""

import memlab


def main() -> None:
    print(memlab.m_star())  # the closed form, as SymPy derives it
    for weighting in ("x0", "eps", "v"):
        for c in (1.0, 2.0):
            result = memlab.crossover(200, c=c, sigma2=1.0, weighting=weighting)
            print(
                f"N=200, weighting {weighting:3s}, C={c:g}: M* = {result.m_star:9.4f}  "
                f"(M*/N = {result.m_star_over_n:.6f})"
            )
    # vectorised over N, continuous time average, another schedule
    result = memlab.crossover([50, 100, 200], weighting="x0", schedule="linear", continuous=True)
    print("linear schedule, continuous t:", result.m_star)
    exact = memlab.crossover_exact(weighting="x0", steps=25)
    print("exact M*/N on the L=25 grid (C=2):", exact.m_star_over_n)


if __name__ == "__main__":
    main()
