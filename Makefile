# Two commands are the whole setup: `make figure1` and `make test`.
# Every target bootstraps a local .venv on first use (and again only when pyproject.toml changes).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.memlab-installed

.PHONY: setup test test-slow test-all lint figure1 verify report bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[test]"
	@# Build the engine's native CPU kernel now (a C++ compiler, ~10 s) rather than in the first run; without a
	@# compiler the engine uses its XLA path, so this step never fails the set-up.
	@$(BIN)/python -c "from memlab.gpu_kernels import build_native_kernel; print(build_native_kernel())" || true
	@touch $(STAMP)

setup: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m "slow or not slow"

lint: $(STAMP)
	$(BIN)/ruff check memlab tests examples benchmarks studies
	$(BIN)/ruff format --check memlab tests examples benchmarks studies
	$(BIN)/mypy

figure1: $(STAMP)
	$(BIN)/memlab figure 1

verify: $(STAMP)
	$(BIN)/memlab verify --quick --json figures/verify/verify.json

# One HTML page from what figure1/verify/figure N wrote (computes nothing; `make report COMPUTE=quick` first
# runs verify --quick, Figure 1 and Figure 4).
report: $(STAMP)
	$(BIN)/memlab report$(if $(COMPUTE), --compute $(COMPUTE))

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_figure1.py

clean:
	rm -rf $(VENV) .hypothesis .pytest_cache
