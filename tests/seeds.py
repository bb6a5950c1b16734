"""Fresh random seeds for tests that check a kernel against its reference on new inputs every run.

Each seed is printed (pytest shows a failing test's output) and most tests also put it in their failure
message; ``MEMLAB_TEST_SEED=<seed>`` replays a failure (every call then returns that seed).
"""

import os

import numpy as np


def fresh_seed() -> int:
    """A new random seed in [0, 2^31), or ``$MEMLAB_TEST_SEED`` to replay a failure."""
    replay = os.environ.get("MEMLAB_TEST_SEED", "").strip()
    seed = int(replay) if replay else int(np.random.SeedSequence().entropy % 2**31)
    print(f"fresh seed {seed} (replay with MEMLAB_TEST_SEED={seed})")
    return seed
