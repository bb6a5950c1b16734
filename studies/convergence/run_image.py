"""Convergence study, part 2 (issue 15): the simple image model (Figure 5) with more training and other templates.

At N = 20 images (K = 4 templates, c = 3 colours, 15 x 15 templates as the paper), a few M near N, two
template sources (scikit-learn's bundled digits, and Fashion-MNIST's test images from the Debian package
``dataset-fashion-mnist``: ``/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz``) and two recipes,
through Figure 5's cached sweep (``memlab.paper_figs._image_runs.train_and_evaluate``):

- ``cpu``: Figure 5's CPU preset (500 epochs, 1 draw, lr 0.1 -> 1e-4, Adam b2 0.9);
- ``paper-optimizer``: App. H.1's optimizer and schedule (lr 0 -> 1e-3 -> 1e-6, 10 % warm-up, b2 0.999) for
  ``--epochs`` full-batch epochs (default 6,000: 12x the CPU recipe) with 1 noise draw (the paper's 100 draws
  and 100,000 epochs cost ~0.5 s x 100,000 per model here: weeks for a sweep).

Every model checkpoints (``MEMLAB_CHECKPOINT_SECONDS``) and resumes; finished models come from the cache.

    nice -n 19 .venv/bin/python studies/convergence/run_image.py [--epochs 6000] [--stop-at UNIX_TIME]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from memlab import _sweep
from memlab._jaxcfg import enable_compilation_cache
from memlab.paper_figs import _image_runs as runs
from memlab.paper_figs._presets import IMAGE_MODEL_CACHE, RECIPES
from memlab.paper_figs._recipes import recipe_fields
from memlab.paper_figs._settings import ImageDataSettings

FASHION = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
SOURCES = {"digits": "digits", "fashion": FASHION}
N, K, CHANNELS, SIDE, SEED = 20, 4, 3, 15, 0
M_VALUES = (14, 17, 19, 20)
EVALUATION = {"eval_draws": 20, "n_eval": 50, "t_index": 16}


def data_config(source: str) -> dict:
    data = ImageDataSettings(
        templates=SOURCES[source],
        side=SIDE,
        k=K,
        n=N,
        n_test=N,
        channels=CHANNELS,
        color_mean=(0.0,),
        color_var=1.0,
        seed=SEED,
    )
    return runs.dataset_config(data)


def training(recipe: str, epochs: int) -> dict:
    """Run-config training fields (as Figure 5 builds them): Figure 5's cpu recipe, or App. H.1's optimizer
    (the image-paper recipe) with ``epochs`` epochs and 1 draw."""
    chosen = RECIPES["image-cpu"] if recipe == "cpu" else replace(RECIPES["image-paper"], epochs=epochs, draws=1)
    return {**recipe_fields(chosen), "dtype": chosen.dtype}


def model_config(source: str, recipe: str, m: int, epochs: int) -> dict:
    return {**data_config(source), **training(recipe, epochs), **EVALUATION, "m": int(m)}


def baseline_config(source: str) -> dict:
    return {**data_config(source), **EVALUATION, "ms": list(M_VALUES)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache-dir", type=Path, default=IMAGE_MODEL_CACHE)
    parser.add_argument("--epochs", type=int, default=6000, help="epochs of the paper-optimizer models")
    parser.add_argument("--stop-at", type=float, default=None, help="Unix time after which no new model starts")
    parser.add_argument("--log", type=Path, default=Path("studies/convergence/run_image.log.jsonl"))
    args = parser.parse_args(argv)
    enable_compilation_cache()

    def note(**fields):
        fields["time"] = time.time()
        fields["process_cpu_seconds"] = time.process_time()
        with open(args.log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(fields) + "\n")
        print(json.dumps(fields), flush=True)

    sources = [s for s in SOURCES if s == "digits" or Path(SOURCES[s]).is_file()]
    if len(sources) < len(SOURCES):
        note(stage="sources", missing=[SOURCES[s] for s in SOURCES if s not in sources])
    options = _sweep.SweepOptions(args.cache_dir)
    # The CPU recipe at every M (cheap), then the paper-optimizer models, the most informative first
    # (M = N - 1, just below N), then the baselines (the exact denoiser's chance level), then the rest.
    for source in sources:
        cpu = _sweep.run_sweep(
            runs.train_and_evaluate,
            [model_config(source, "cpu", m, args.epochs) for m in M_VALUES],
            options=options,
            desc=f"{source} cpu",
        )
        note(stage="cpu", source=source, ratios=[r["ratio"] for r in cpu.results])
    queue = [("model", source, 19) for source in sources] + [("baselines", source, None) for source in sources]
    queue += [("model", source, m) for m in (17, 14, 20) for source in sources]
    for kind, source, m in queue:
        if args.stop_at is not None and time.time() > args.stop_at:
            note(stage="paper-optimizer", stopped="--stop-at reached")
            return 0
        started = time.time()
        if kind == "baselines":
            outcome = _sweep.run_sweep(
                runs.evaluate_baselines, [baseline_config(source)], options=options, desc=f"{source} baselines"
            )
            note(stage="baselines", source=source, exact_ratio=outcome.results[0]["exact_ratio"])
            continue
        config = model_config(source, "paper-optimizer", m, args.epochs)
        record = _sweep.run_sweep(runs.train_and_evaluate, [config], options=options, desc=f"{source} M={m}").records[0]
        note(
            stage="paper-optimizer",
            source=source,
            m=m,
            ratio=record["result"]["ratio"],
            color_var=record["result"]["learned_color_var"],
            seconds=time.time() - started,
        )
    note(stage="done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
