#!/usr/bin/env bash
# Issue 15, item 5: Figure 2's `paper` preset (N = 200, d = 50, K = 12; App. H.1: 50,000 full-batch Adam epochs,
# 100 noise draws, lr 0 -> 1e-3 -> 1e-6, b2 0.999) for the models nearest the CPU preset's transition
# (M_pt = 170 there, bracket (150, 170]), on one GPU. Prepared for the device machine (an H200 whose image
# has JAX with CUDA, optax, SciPy, SymPy, matplotlib, tqdm, scikit-learn; nothing to install):
#
#   device run, from the repository root:  bash studies/convergence/gpu_figure2_paper.sh
#
# The models are cached and checkpointed (every MEMLAB_CHECKPOINT_SECONDS = 60 s of work) under
# a work folder; the script stops itself before the device's 10-minute command limit and packs the cache
# and the figure folder into $OUT/figure2_paper_cache.tar.gz (the device returns at most 8 files). To
# continue in a later call, copy that file to figures/gpu/figure2_paper_cache.tar.gz here (figures/ is
# git-ignored), name `figures/gpu` in the run's `carry`, and run the same command: finished models come
# from the cache, an unfinished one resumes from its checkpoint. When every model is done, $OUT also
# holds figure2.json and figure2.png (the full figure folder is in the tarball).
#
# Environment: M_VALUES (default 150,160,170,180,190), SEEDS (default 0), BUDGET_S (seconds of training
# before packing up, default 500).
set -uo pipefail
OUT=${OUT:-figures/gpu/out}
M_VALUES=${M_VALUES:-150,160,170,180,190}
SEEDS=${SEEDS:-0}
BUDGET_S=${BUDGET_S:-500}
CACHE_TGZ=figures/gpu/figure2_paper_cache.tar.gz
WORK=/tmp/memlab-figure2-paper
mkdir -p "$OUT" "$WORK"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 MEMLAB_PROGRESS=0 MEMLAB_CHECKPOINT_SECONDS=60
export MEMLAB_JAX_CACHE=$WORK/jax-cache
PY=${PYTHON:-python3}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$OUT/machine.txt"
$PY -c "import jax, optax, numpy; print('jax', jax.__version__, jax.devices())" 2>&1 | tee -a "$OUT/machine.txt"
if [ -f "$CACHE_TGZ" ]; then
  tar -xzf "$CACHE_TGZ" -C "$WORK" && echo "resumed the cache from $CACHE_TGZ"
fi

started=$(date +%s)
timeout --signal=KILL "$BUDGET_S" $PY -m memlab figure 2 --preset paper --m-values "$M_VALUES" --refine 0 \
  --seeds "$SEEDS" --out "$WORK/figure2" --cache-dir "$WORK/cache" 2>&1 | tee "$OUT/figure2.log"
status=${PIPESTATUS[0]}
echo "figure 2 exit status $status after $(( $(date +%s) - started )) s (137: stopped at BUDGET_S; rerun to resume)" \
  | tee -a "$OUT/figure2.log"

# What finished, what is checkpointed where (one line per model), then pack the cache for the next call.
$PY - "$WORK/cache" <<'EOF' 2>&1 | tee "$OUT/progress.txt"
import json, pathlib, sys
for run in sorted(pathlib.Path(sys.argv[1]).glob("*/config.json")):
    config = json.loads(run.read_text())["config"]
    result = run.with_name("result.json")
    checkpoint = run.with_name("checkpoint.npz")
    if result.is_file():
        r = json.loads(result.read_text())
        print(f"M={config.get('m')}: done, ratio {r['result'].get('memorization_ratio')}, "
              f"variance {r['result'].get('learned_variance')}, {r['seconds']:.0f} s")
    elif checkpoint.is_file():
        import numpy as np
        with np.load(checkpoint) as z:
            print(f"M={config.get('m')}: checkpoint at epoch {int(z['epoch'])} of {int(z['epochs'])}")
    else:
        print(f"M={config.get('m')}: started, no checkpoint yet")
EOF
for f in figure2.json figure2.png; do [ -f "$WORK/figure2/$f" ] && cp "$WORK/figure2/$f" "$OUT/"; done
tar -czf "$OUT/figure2_paper_cache.tar.gz" -C "$WORK" cache $( [ -d "$WORK/figure2" ] && echo figure2 )
ls -la "$OUT"
