"""Check some of the paper's claims from Python and read the verdicts.

    python examples/verify.py [--small]

``memlab verify`` on the command line runs every claim (``--quick``: about two minutes); here a few fast
ones are run and their records inspected. ``--small`` runs two claims instead of five.
"""

import sys

import memlab


def main(small: bool = False) -> None:
    ids = (
        ["lemma-D.1", "eq-14-mstar"] if small else ["lemma-D.1", "lemma-D.2", "thm-C.1-eq17", "prop-C.4", "eq-14-mstar"]
    )
    run = memlab.verify(ids, budget="quick", seed=0)  # memlab.verify() alone checks every claim
    for record in run.records:
        result = record.result
        print(f"{record.claim.id:14s} {record.claim.paper_ref:22s} {result.verdict:12s} {result.summary}")
        if result.counterexample is not None:
            print(f"{'':14s} counterexample: {result.counterexample}")


if __name__ == "__main__":
    main(small="--small" in sys.argv)
