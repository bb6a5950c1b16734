import os
import subprocess
import sys

import pytest

from memlab.cli import main


def test_help_everywhere(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "crossover" in capsys.readouterr().out


def test_unknown_option_is_one_line_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--no-such-option"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "error" in err


def test_python_dash_m_alias():
    proc = subprocess.run([sys.executable, "-m", "memlab", "--version"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout.startswith("memlab ")


def test_console_entry_flushes_everything_and_keeps_the_exit_code():
    """console_main ends the process with os._exit: whatever the command printed to a pipe must still arrive
    in full, and the exit codes (0, 2 for bad input) are the command's."""
    from memlab.verification import all_claims

    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # a pipe is block-buffered
    listing = subprocess.run(
        [sys.executable, "-m", "memlab", "verify", "--list"], capture_output=True, text=True, env=buffered
    )
    assert listing.returncode == 0
    assert len(listing.stdout.splitlines()) == len(all_claims())
    bad = subprocess.run(
        [sys.executable, "-m", "memlab", "crossover", "--n", "10", "--d", "3", "--k", "2", "--weights", "/no/file"],
        capture_output=True,
        text=True,
        env=buffered,
    )
    assert bad.returncode == 2 and bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1 and "error" in bad.stderr


def test_startup_imports_only_what_the_figure_and_crossover_commands_need():
    """The CLI's start-up time is part of every command (issue 13): the verification suite (SciPy's stats and
    optimize), SciPy's special and integrate, sympy.physics (which sp.solve/sp.simplify pull in) and jinja2
    (the report) load only in the commands that use them."""
    code = (
        "import sys\n"
        "import memlab.cli, memlab.theory, memlab.numerics\n"
        "import memlab.theory as th\n"
        "th.excess_generalizing(); th.excess_pmem(); th.m_star(); th.m_star_in_means()\n"
        "heavy = ['memlab.verification', 'scipy.special', 'scipy.stats', 'scipy.optimize', 'scipy.integrate',\n"
        "         'sympy.physics', 'jinja2']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""
