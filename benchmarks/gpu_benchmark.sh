#!/usr/bin/env bash
# Issue 13's GPU check as one command, on a machine with an NVIDIA GPU and JAX with CUDA installed (memlab itself
# is used from this checkout, no install needed):
#
#     bash benchmarks/gpu_benchmark.sh [OUT_DIR]        # default OUT_DIR: $OUT, else ./gpu_results
#
# 1. Figure 1 full grid: fresh processes (first use / cold / warm compilation cache) and steady state of the
#    XLA engine (the one GPUs run), the per-M baseline and a plain matmul (bench_figure1.py);
# 2. training steps at M = 50/200/400, now against the pre-issue-13 step, and float32 against float64 at
#    M = 200 (bench_training.py);
# 3. one paper-preset Figure 2 model: M = 200, 50,000 full-batch epochs x 26 timesteps x 100 draws, DDIM samples
#    and the memorization ratio (bench_figure2_model.py).
#
# Each part has its own time limit (at most 590 s in all, under a 10-minute command limit; a part that times out
# can be rerun alone: PARTS="3"; EPOCHS=20 makes part 3 a smoke test). Results:
# OUT_DIR/{figure1,training,figure2_model}.txt and .json, nvidia-smi.txt. Paste the tables into BENCHMARKS.md.
set -uo pipefail
out=${1:-${OUT:-gpu_results}}
mkdir -p "$out" && out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 MEMLAB_PROGRESS=0
py=${PYTHON:-python3}
parts=${PARTS:-1 2 3}
status=0
nvidia-smi > "$out/nvidia-smi.txt" 2>&1 || true
"$py" -c "import jax; print('jax', jax.__version__, jax.devices())" 2>&1 | tee "$out/devices.txt"
for part in $parts; do
  case $part in
    1) timeout 150 "$py" benchmarks/bench_figure1.py --per-m-pairs 24 --repeats 3 --engines xla 2>&1 \
         | tee "$out/figure1.txt" ;;
    2) timeout 240 "$py" benchmarks/bench_training.py --m 50,200,400 --steps 10 --accuracy --accuracy-m 200 \
         --json "$out/training.json" 2>&1 | tee "$out/training.txt" ;;
    3) timeout 200 "$py" benchmarks/bench_figure2_model.py --m 200 --epochs "${EPOCHS:-50000}" \
         --json "$out/figure2_model.json" 2>&1 \
         | tee "$out/figure2_model.txt" ;;
  esac
  code=${PIPESTATUS[0]}
  if [ "$code" -ne 0 ]; then echo "part $part exited with $code" | tee -a "$out/failures.txt"; status=1; fi
done
exit $status
