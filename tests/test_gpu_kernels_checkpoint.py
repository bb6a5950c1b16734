"""Pausing and resuming training: a run resumed from any block boundary, from a file, or after a real SIGKILL of
the process ends bit-identically to an uninterrupted run; mismatched or malformed states are refused."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from memlab import _sweep, gpu_kernels, numerics
from memlab._errors import InvalidInputError
from memlab.gpu_kernels import _checkpoint
from memlab.paper_figs._phase_transition import run_config, train_and_evaluate
from memlab.paper_figs._settings import PhaseTransitionSettings, TrainingRecipe

APPLY = gpu_kernels.gmm_apply
# 17 epochs in blocks of 4 (5 blocks of length 4, the last one 1 step): boundaries 4, 8, 12, 16, 17.
CONFIG = gpu_kernels.TrainConfig(epochs=17, draws=3, chunk_size=5, peak_lr=2e-2, warmup_fraction=0.2, block_epochs=4)


def _record(params):
    return {"log_variance": params["log_variance"], "first_mean": params["means"][..., 0, :]}


def _runs(seeds=(0, 1), m=5, d=4):
    """Two runs (different data, initial means and noise keys) of the same shapes."""
    data, params = [], []
    for seed in seeds:
        ds = numerics.make_gmm_dataset(d=d, k=3, n=9, seed=seed)
        data.append(ds.x_train)
        params.append(gpu_kernels.gmm_params(np.random.default_rng(seed + 10).standard_normal((m, d)), 0.5))
    stacked = jax.tree_util.tree_map(lambda *leaves: np.stack(leaves), *params)
    keys = jax.random.split(jax.random.key(3), len(seeds))
    return stacked, np.stack(data), keys


def _assert_same_result(got, want):
    for name in want.params:
        np.testing.assert_array_equal(np.asarray(got.params[name]), np.asarray(want.params[name]))
    np.testing.assert_array_equal(got.loss_history, want.loss_history)
    np.testing.assert_array_equal(got.history_epochs, want.history_epochs)
    np.testing.assert_array_equal(got.final_loss, want.final_loss)
    np.testing.assert_array_equal(got.record_epochs, want.record_epochs)
    assert sorted(got.records) == sorted(want.records)
    for name in want.records:
        np.testing.assert_array_equal(got.records[name], want.records[name])


def test_resume_from_every_block_boundary_is_bit_identical(tmp_path):
    params, x_train, keys = _runs()
    states = []
    reference = gpu_kernels.train_runs(
        APPLY, params, x_train, config=CONFIG, keys=keys, show_progress=False, record=_record, on_block=states.append
    )
    assert [s.epoch for s in states] == [4, 8, 12, 16, 17]
    assert states[-1].finished and not states[0].finished
    np.testing.assert_array_equal(reference.record_epochs, [0, 4, 8, 12, 16, 17])
    assert reference.records["log_variance"].shape == (6, 2) and reference.records["first_mean"].shape == (6, 2, 4)
    # the records are the parameters at those epochs: the last one is the final parameters
    np.testing.assert_array_equal(reference.records["log_variance"][-1], np.asarray(reference.params["log_variance"]))
    assert not np.array_equal(reference.records["log_variance"][0], reference.records["log_variance"][-1])
    for state in states:
        path = tmp_path / f"state{state.epoch}.npz"
        gpu_kernels.save_train_state(path, state)
        loaded = gpu_kernels.load_train_state(path)
        assert loaded.epoch == state.epoch and loaded.fingerprint == state.fingerprint
        resumed = gpu_kernels.train_runs(
            APPLY, params, x_train, config=CONFIG, keys=keys, show_progress=False, record=_record, initial_state=loaded
        )
        _assert_same_result(resumed, reference)
        # the state's loss prefix is the uninterrupted run's
        np.testing.assert_array_equal(
            state.losses[:, reference.history_epochs[reference.history_epochs < state.epoch]],
            reference.loss_history[:, reference.history_epochs < state.epoch],
        )


def test_single_run_wrapper_resumes_and_records_without_run_axis(tmp_path):
    ds = numerics.make_gmm_dataset(d=4, k=3, n=9, seed=2)
    params = gpu_kernels.gmm_params(np.random.default_rng(5).standard_normal((5, 4)), 0.5)
    key = jax.random.key(9)
    states = []
    reference = gpu_kernels.train(
        APPLY, params, ds.x_train, config=CONFIG, key=key, show_progress=False, record=_record, on_block=states.append
    )
    assert reference.records["log_variance"].shape == (6,) and reference.records["first_mean"].shape == (6, 4)
    resumed = gpu_kernels.train(
        APPLY, params, ds.x_train, config=CONFIG, key=key, show_progress=False, record=_record, initial_state=states[1]
    )
    _assert_same_result(resumed, reference)


def test_resume_refuses_a_different_run():
    params, x_train, keys = _runs()
    states = []
    gpu_kernels.train_runs(
        APPLY, params, x_train, config=CONFIG, keys=keys, show_progress=False, on_block=states.append
    )
    state = states[1]
    other_keys = jax.random.split(jax.random.key(4), 2)
    other_params = jax.tree_util.tree_map(lambda leaf: leaf * 1.01, params)
    other_config = gpu_kernels.TrainConfig(**{**CONFIG.__dict__, "peak_lr": 3e-2})
    for kwargs in (
        dict(keys=other_keys),
        dict(params=other_params),
        dict(x_train=x_train + 1e-3),
        dict(config=other_config),
    ):
        call = {**dict(params=params, x_train=x_train, config=CONFIG, keys=keys), **kwargs}
        with pytest.raises(InvalidInputError, match="different training run"):
            gpu_kernels.train_runs(
                APPLY, call.pop("params"), call.pop("x_train"), show_progress=False, initial_state=state, **call
            )


def test_periodic_checkpoint_interval_and_environment(tmp_path, monkeypatch):
    params, x_train, keys = _runs()
    every_block = gpu_kernels.PeriodicCheckpoint(tmp_path / "a.npz", every_seconds=0)
    rarely = gpu_kernels.PeriodicCheckpoint(tmp_path / "b.npz", every_seconds=1e9)
    gpu_kernels.train_runs(
        APPLY,
        params,
        x_train,
        config=CONFIG,
        keys=keys,
        show_progress=False,
        on_block=lambda s: (every_block(s), rarely(s)),
    )
    assert every_block.saves == 5
    assert rarely.saves == 1  # only the finished state
    assert gpu_kernels.load_train_state(tmp_path / "b.npz").finished
    monkeypatch.setenv(gpu_kernels.CHECKPOINT_SECONDS_ENV, "12.5")
    assert gpu_kernels.checkpoint_seconds() == 12.5
    assert gpu_kernels.resumable(tmp_path / "none.npz")["on_block"].every_seconds == 12.5
    assert gpu_kernels.resumable(tmp_path / "none.npz")["initial_state"] is None
    assert gpu_kernels.resumable(tmp_path / "b.npz")["initial_state"].finished
    for bad in ("-1", "soon", "nan"):
        monkeypatch.setenv(gpu_kernels.CHECKPOINT_SECONDS_ENV, bad)
        with pytest.raises(InvalidInputError, match=gpu_kernels.CHECKPOINT_SECONDS_ENV):
            gpu_kernels.checkpoint_seconds()
    monkeypatch.delenv(gpu_kernels.CHECKPOINT_SECONDS_ENV)
    assert gpu_kernels.checkpoint_seconds() == gpu_kernels.DEFAULT_CHECKPOINT_SECONDS


def test_malformed_checkpoint_files_are_refused(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not an npz")
    with pytest.raises(InvalidInputError):
        gpu_kernels.load_train_state(tmp_path / "junk.npz")
    np.savez(tmp_path / "partial.npz", format=1, epoch=3)
    with pytest.raises(InvalidInputError, match="lacks"):
        gpu_kernels.load_train_state(tmp_path / "partial.npz")
    with pytest.raises(InvalidInputError, match="not found"):
        gpu_kernels.load_train_state(tmp_path / "missing.npz")


# ---- a real kill: the sweep run function in a child process, SIGKILLed after its first checkpoint ----------

# 1,200 epochs = 3 blocks of 400 (the run function's default block length is 500).
_SETTINGS = PhaseTransitionSettings(
    preset="test",
    n=8,
    d=3,
    k=2,
    m_values=(6,),
    recipe=TrainingRecipe(
        epochs=1200, draws=2, peak_lr=5e-2, final_lr=1e-6, warmup_fraction=0.1, adam_b2=0.9, n_eval=8, eval_draws=3
    ),
)

# The child: the test's JAX settings, then the sweep's run of one config with a checkpoint after every
# block; each checkpoint is announced on stdout and followed by a pause, so the parent can kill it between
# two blocks.
_CHILD = textwrap.dedent("""
    import json, sys, time
    import jax
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_num_cpu_devices", 2)
    from memlab import _sweep
    from memlab.gpu_kernels import _checkpoint
    from memlab.paper_figs._phase_transition import train_and_evaluate

    original = _checkpoint.PeriodicCheckpoint.__call__

    def announced(self, state):
        original(self, state)
        print("checkpoint", state.epoch, flush=True)
        time.sleep(30)

    _checkpoint.PeriodicCheckpoint.__call__ = announced
    config, cache = json.loads(sys.argv[1])
    _sweep.execute_run(train_and_evaluate, config, cache)
""")


def _model_arrays(cache, config):
    from memlab._io import load_npz

    return load_npz(_sweep.run_dir(cache, config, train_and_evaluate) / "model.npz")


def test_sigkilled_sweep_run_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMLAB_JAX_CACHE", "0")
    monkeypatch.setenv(gpu_kernels.CHECKPOINT_SECONDS_ENV, "0")  # checkpoint after every block
    config = run_config(_SETTINGS, m=6, seed=0)
    killed_cache, clean_cache = tmp_path / "killed", tmp_path / "clean"
    env = {**os.environ, "MEMLAB_PROGRESS": "0"}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, json.dumps([config, str(killed_cache)])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = child.stdout.readline()
        assert line.startswith("checkpoint"), child.stderr.read()
        killed_at = int(line.split()[1])
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    assert killed_at == 400
    run_dir = _sweep.run_dir(killed_cache, config, train_and_evaluate)
    assert (run_dir / _sweep.CHECKPOINT_FILE).is_file() and not (run_dir / "result.json").exists()
    assert gpu_kernels.load_train_state(run_dir / _sweep.CHECKPOINT_FILE).epoch == 400

    # Resume in this process and watch which blocks it trains: only the two that were left.
    epochs_trained = []
    original = _checkpoint.PeriodicCheckpoint.__call__

    def watched(self, state):
        epochs_trained.append(state.epoch)
        original(self, state)

    monkeypatch.setattr(_checkpoint.PeriodicCheckpoint, "__call__", watched)
    outcome = _sweep.run_sweep(train_and_evaluate, [config], options=_sweep.SweepOptions(killed_cache))
    assert outcome.executed == 1 and epochs_trained == [800, 1200]
    assert not (run_dir / _sweep.CHECKPOINT_FILE).exists()  # removed once the result is written
    epochs_trained.clear()
    clean = _sweep.run_sweep(train_and_evaluate, [config], options=_sweep.SweepOptions(clean_cache))
    assert epochs_trained == [400, 800, 1200]

    resumed_result, clean_result = outcome.records[0]["result"], clean.records[0]["result"]
    for key in set(clean_result) - {"train_seconds", "backend"}:
        assert resumed_result[key] == clean_result[key], key
    resumed_arrays, clean_arrays = _model_arrays(killed_cache, config), _model_arrays(clean_cache, config)
    assert sorted(resumed_arrays) == sorted(clean_arrays)
    for name, values in clean_arrays.items():
        np.testing.assert_array_equal(resumed_arrays[name], values, err_msg=name)
    assert clean_arrays["log_variance_history"].shape == (4,)
    np.testing.assert_array_equal(clean_arrays["log_variance_epochs"], [0, 400, 800, 1200])
