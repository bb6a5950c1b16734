"""Every script in examples/ runs, at its small settings, and prints what it promises."""

import runpy
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(script: str, *argv: str, monkeypatch) -> None:
    monkeypatch.setattr(sys, "argv", [str(EXAMPLES / script), *argv])
    runpy.run_path(str(EXAMPLES / script), run_name="__main__")


def test_every_example_is_tested():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(
        ["crossover.py", "figure1.py", "own_data.py", "phase_transition.py", "verify.py"]
    )


def test_crossover(monkeypatch, capsys):
    _run("crossover.py", monkeypatch=monkeypatch)
    out = capsys.readouterr().out
    assert "M* =  166.0360" in out and "41508991/50000000" in out  # x0, C = 2 on the L = 25 grid


def test_verify(monkeypatch, capsys):
    _run("verify.py", "--small", monkeypatch=monkeypatch)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["lemma-D.1", "eq-14-mstar"]
    assert all(" holds " in line for line in lines)


def test_figure1(monkeypatch, capsys, tmp_path):
    _run("figure1.py", str(tmp_path / "f1"), "--small", monkeypatch=monkeypatch)
    assert "Theorem 3.1" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "f1").iterdir()) == [
        "figure1.csv",
        "figure1.json",
        "figure1.pdf",
        "figure1.png",
    ]


def test_own_data(monkeypatch, capsys, tmp_path):
    _run("own_data.py", str(tmp_path / "own"), "--small", monkeypatch=monkeypatch)
    assert capsys.readouterr().out.count("excess(x_*)") == 3
    assert (tmp_path / "own" / "mine.npz").is_file() and (tmp_path / "own" / "figure1" / "figure1.csv").is_file()


def test_phase_transition(monkeypatch, capsys, tmp_path):
    _run("phase_transition.py", str(tmp_path / "pt"), "--small", monkeypatch=monkeypatch)
    out = capsys.readouterr().out
    assert out.count("memorization ratio") == 3 and "M_pt = " in out
    assert (tmp_path / "pt" / "figure2.csv").is_file() and any((tmp_path / "pt" / "cache").iterdir())
