import hashlib
import io
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from memlab import InvalidInputError, _io


def test_write_json_roundtrip_and_nonfinite(tmp_path):
    path = _io.write_json(tmp_path / "a" / "r.json", {"x": np.float32(1.5), "y": np.arange(3), "z": float("nan")})
    assert json.loads(path.read_text()) == {"x": 1.5, "y": [0, 1, 2], "z": None}


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with _io.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_csv_full_precision(tmp_path):
    path = _io.write_csv(tmp_path / "t.csv", ["a", "b"], [[1, 0.1 + 0.2]])
    assert path.read_text().splitlines() == ["a,b", f"1,{0.1 + 0.2!r}"]


def test_npz_roundtrip_and_errors(tmp_path):
    _io.write_npz(tmp_path / "d.npz", a=np.eye(2))
    assert np.array_equal(_io.load_npz(tmp_path / "d.npz")["a"], np.eye(2))
    with pytest.raises(InvalidInputError, match="not found"):
        _io.load_npz(tmp_path / "missing.npz")
    (tmp_path / "bad.npz").write_text("not a zip")
    with pytest.raises(InvalidInputError, match="not a readable"):
        _io.load_npz(tmp_path / "bad.npz")


def test_read_json_errors(tmp_path):
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InvalidInputError, match="malformed"):
        _io.read_json(tmp_path / "bad.json")


def test_results_get_ordinary_permissions(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        path = _io.write_text(tmp_path / "r.txt", "x")
    finally:
        os.umask(mask)
    assert (path.stat().st_mode & 0o777) == 0o644


# ----------------------------------------------------------------------------------------------------
# Result sets (issue 11): the set changes as a whole; a reader can rely on the JSON's manifest
# ----------------------------------------------------------------------------------------------------


def _write_set(folder, version, *, extra=False):
    with _io.result_set(folder) as out:
        out.csv("fig.csv", ["v"], [[version]])
        out.bytes("fig.png", f"png {version}".encode())
        out.npz("fig.npz", v=np.full(3, version))
        if extra:
            out.bytes("fig_extra.csv", b"extra\n")
        out.json("fig.json", {"version": version})


def _check_consistent(folder):
    """The reader's contract: if fig.json exists, every file its manifest lists is there with its hash."""
    path = folder / "fig.json"
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    for name, entry in record["result_set"]["files"].items():
        data = (folder / name).read_bytes()
        assert len(data) == entry["bytes"] and hashlib.sha256(data).hexdigest() == entry["sha256"], name
    return record["version"]


def test_result_set_manifest_and_stale_files(tmp_path):
    _write_set(tmp_path, 1, extra=True)
    assert _check_consistent(tmp_path) == 1 and (tmp_path / "fig_extra.csv").exists()
    _write_set(tmp_path, 2)
    assert _check_consistent(tmp_path) == 2
    assert not (tmp_path / "fig_extra.csv").exists()  # the old set's file the new one lacks is gone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.csv", "fig.json", "fig.npz", "fig.png"]


def test_result_set_disk_full_while_staging_leaves_the_old_set(tmp_path, monkeypatch):
    _write_set(tmp_path, 1)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    calls = []

    def full(path, data):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return original(path, data)

    original = _io._write_synced
    monkeypatch.setattr(_io, "_write_synced", full)
    with pytest.raises(InvalidInputError, match="No space left on device; the previous results there are unchanged"):
        _write_set(tmp_path, 2)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no staging folder left either


@pytest.mark.parametrize("fail_at", range(4))  # the new set has 4 files
def test_result_set_failure_at_any_rename_never_mixes_sets(tmp_path, monkeypatch, fail_at):
    _write_set(tmp_path, 1, extra=True)
    calls = []
    original = _io.os.replace

    def flaky_replace(src, dst):
        calls.append(dst)
        if len(calls) == fail_at + 1:
            raise OSError(5, "Input/output error")
        return original(src, dst)

    monkeypatch.setattr(_io.os, "replace", flaky_replace)
    with pytest.raises(InvalidInputError, match="incomplete \\(no JSON\\)"):
        _write_set(tmp_path, 2)
    assert _check_consistent(tmp_path) is None  # no JSON: no complete set to mistake for one
    monkeypatch.setattr(_io.os, "replace", original)
    _write_set(tmp_path, 3)
    assert _check_consistent(tmp_path) == 3 and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


_KILL_DURING_COMMIT = """
import os, signal, sys
import numpy as np
from memlab import _io
real, count, kill_at = os.replace, [0], int(sys.argv[2])
def replace(src, dst):
    count[0] += 1
    if count[0] == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(src, dst)
_io.os.replace = replace
with _io.result_set(sys.argv[1]) as out:
    out.csv("fig.csv", ["v"], [[2]])
    out.bytes("fig.png", b"png 2")
    out.npz("fig.npz", v=np.full(3, 2))
    out.json("fig.json", {"version": 2})
"""


@pytest.mark.parametrize("kill_at", [1, 3, 4])
def test_result_set_sigkill_during_commit(tmp_path, kill_at):
    _write_set(tmp_path, 1)
    done = subprocess.run([sys.executable, "-c", _KILL_DURING_COMMIT, str(tmp_path), str(kill_at)], check=False)
    assert done.returncode == -9
    assert _check_consistent(tmp_path) is None  # killed mid-commit: no JSON, never old JSON beside new files
    _write_set(tmp_path, 3)
    assert _check_consistent(tmp_path) == 3


def test_check_output_file(tmp_path):
    assert _io.check_output_file(tmp_path / "new" / "r.json") == tmp_path / "new" / "r.json"
    assert not (tmp_path / "new").exists()  # the folders it tried are removed again
    with pytest.raises(InvalidInputError, match="is a directory"):
        _io.check_output_file(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidInputError, match="is not a directory"):
        _io.check_output_file(tmp_path / "file" / "r.json")
    with pytest.raises(InvalidInputError, match="cannot write into"):
        _io.check_output_folder("/proc/memlab-test")
    with pytest.raises(InvalidInputError):
        _io.check_output_folder(tmp_path / "a\0b")


def test_npz_bytes_carry_no_timestamp():
    blob = _io._npz_bytes({"a": np.arange(3)})
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        assert [info.date_time for info in archive.infolist()] == [(1980, 1, 1, 0, 0, 0)]
    assert blob == _io._npz_bytes({"a": np.arange(3)})
