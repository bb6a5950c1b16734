"""Convergence study, part 1 (issue 15): does the CPU preset move M_pt? Trains the models; ``analyze.py`` reports.

For each Figure 3 CPU tuple chosen here, the same data sets and seeds are trained with two recipes through
the phase-transition experiment's cached sweep (``memlab.paper_figs._phase_transition.train_and_evaluate``,
configs from ``run_config``, so the runs are shared with ``memlab figure 3``):

- ``cpu`` (1,000 epochs, 1 draw, lr 5e-2, Adam b2 0.9): every integer M in [CPU_M_LOW, CPU_M_HIGH] (seconds each);
- ``paper-small`` (App. H.1: 50,000 epochs, 100 draws, lr 0 -> 1e-3 -> 1e-6, b2 0.999, eps weighting):
  an adaptive bracket search for M_pt, round-robin over the tuples so every tuple gets its first model
  before any gets its next. It starts at the tuple's CPU M_pt and walks one M down (the model memorized on
  average) or up (it did not) until M_pt is bracketed by adjacent sizes; then, while time remains, it adds
  the neighbours that locate the transition's start and end.

Every model checkpoints every few minutes of work (``MEMLAB_CHECKPOINT_SECONDS``, default 300) into its
sweep folder, so killing this script loses at most that much; re-running it resumes (finished models come
from the cache). ``--stop-at`` (a Unix time) stops starting new paper models after that time.

    nice -n 19 .venv/bin/python studies/convergence/run_gmm.py [--cache-dir figures/cache/phase-transition]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from memlab import _sweep, numerics
from memlab._jaxcfg import enable_compilation_cache
from memlab.paper_figs._figure3_sweep import tuple_experiment
from memlab.paper_figs._phase_transition import run_config, train_and_evaluate
from memlab.paper_figs._presets import PHASE_TRANSITION_CACHE, preset
from memlab.paper_figs._settings import Figure3Settings

TUPLES = ((20, 20, 2), (20, 20, 4), (20, 30, 4))
SEED = 0
CPU_M_LOW, CPU_M_HIGH = 8, 24
MAX_PAPER_MODELS_PER_TUPLE = 7


def settings(name: str) -> Figure3Settings:
    """Figure 3's preset ``name`` ("cpu" or "paper-small"), seed SEED."""
    return replace(preset(3, name), seed=SEED)


def config(name: str, n: int, d: int, k: int, m: int) -> dict:
    """The sweep config of one model: the same as ``memlab figure 3 --preset NAME`` trains for this tuple and M."""
    return run_config(tuple_experiment(settings(name), n, d, k, [m]), m=m, seed=SEED)


def run_one(name: str, tup, m: int, cache_dir: Path) -> dict:
    return _sweep.run_sweep(
        train_and_evaluate, [config(name, *tup, m)], options=_sweep.SweepOptions(cache_dir), desc=f"{name} {tup} M={m}"
    ).records[0]


def cached_ratio(name: str, tup, m: int, cache_dir: Path) -> float | None:
    record = _sweep.load_result(cache_dir, config(name, *tup, m), train_and_evaluate)
    return None if record is None else float(record["result"]["memorization_ratio"])


def cpu_transition(tup, cache_dir: Path):
    ms = list(range(CPU_M_LOW, CPU_M_HIGH + 1))
    flags = [
        _sweep.load_result(cache_dir, config("cpu", *tup, m), train_and_evaluate)["result"]["memorized_flags"]
        for m in ms
    ]
    return numerics.phase_transition(ms, flags, seed=SEED)


def next_paper_m(tup, tried: dict[int, float], cpu_m_pt: int, n: int) -> int | None:
    """The next size to train at paper settings for this tuple, or None when its search is done."""
    if not tried:
        return cpu_m_pt
    ms = sorted(tried)
    memorizing = [m for m in ms if tried[m] >= 0.5]
    generalizing = [m for m in ms if tried[m] < 0.5]
    if not memorizing:  # walk up until some M memorizes on average
        return max(ms) + 1 if max(ms) < n + 4 else None
    lowest_mem = min(memorizing)
    if lowest_mem - 1 not in tried:  # bracket M_pt from below
        return lowest_mem - 1 if lowest_mem - 1 >= 1 else None
    # M_pt is bracketed. Locate the start (first ratio > 1/10) and the end (first ratio > 9/10).
    below = [m for m in generalizing if m < lowest_mem]
    if below and tried[min(below)] > 0.1 and min(below) - 1 >= 1:
        return min(below) - 1
    above = [m for m in ms if m >= lowest_mem]
    if tried[max(above)] <= 0.9:
        return max(above) + 1
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache-dir", type=Path, default=PHASE_TRANSITION_CACHE)
    parser.add_argument("--stop-at", type=float, default=None, help="Unix time after which no new paper model starts")
    parser.add_argument("--log", type=Path, default=Path("studies/convergence/run_gmm.log.jsonl"))
    args = parser.parse_args(argv)
    enable_compilation_cache()
    log = args.log

    def note(**fields):
        fields["time"] = time.time()
        fields["process_cpu_seconds"] = time.process_time()
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(fields) + "\n")
        print(json.dumps(fields), flush=True)

    # 1. CPU preset: every integer M in [CPU_M_LOW, CPU_M_HIGH] (cheap).
    cpu_configs = [config("cpu", *tup, m) for tup in TUPLES for m in range(CPU_M_LOW, CPU_M_HIGH + 1)]
    outcome = _sweep.run_sweep(
        train_and_evaluate, cpu_configs, options=_sweep.SweepOptions(args.cache_dir), desc="cpu preset"
    )
    note(stage="cpu", executed=outcome.executed, cached=outcome.cached)
    cpu_m_pt = {tup: cpu_transition(tup, args.cache_dir).m_pt for tup in TUPLES}
    note(stage="cpu-transitions", m_pt={str(t): v for t, v in cpu_m_pt.items()})

    # 2. paper-small: adaptive bracket search, round-robin over tuples.
    tried = {tup: {} for tup in TUPLES}
    for tup in TUPLES:  # pick up what an earlier (killed) invocation finished
        for m in range(1, tup[0] + 6):
            ratio = cached_ratio("paper-small", tup, m, args.cache_dir)
            if ratio is not None:
                tried[tup][m] = ratio
    active = list(TUPLES)
    while active:
        for tup in list(active):
            m = next_paper_m(tup, tried[tup], cpu_m_pt[tup], tup[0])
            if m is None or len(tried[tup]) >= MAX_PAPER_MODELS_PER_TUPLE:
                active.remove(tup)
                continue
            if args.stop_at is not None and time.time() > args.stop_at:
                note(stage="paper", stopped="--stop-at reached", tried={str(t): v for t, v in tried.items()})
                return 0
            started = time.time()
            record = run_one("paper-small", tup, m, args.cache_dir)
            tried[tup][m] = float(record["result"]["memorization_ratio"])
            note(
                stage="paper",
                tuple=tup,
                m=m,
                ratio=tried[tup][m],
                seconds=time.time() - started,
                learned_variance=record["result"]["learned_variance"],
            )
    note(stage="done", tried={str(t): v for t, v in tried.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
