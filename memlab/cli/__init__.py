"""The ``memlab`` command line (also ``python -m memlab``).

Each subcommand lives in its own private module exposing ``register(subparsers, parser_class)``; the
parser's ``func`` default runs it and returns the exit code. Conventions shared by all commands:

- bad input (argparse errors, :class:`memlab.InvalidInputError` from the library, and a ``MemoryError``
  that no size check foresaw) -> one line on stderr, exit code 2; this is the only place that turns
  exceptions into exit codes;
- an unexpected crash -> one line on stderr, exit code 1 (``MEMLAB_DEBUG=1`` shows the traceback);
- results are written as plain files, atomically (see ``memlab._io``);
- the ``memlab`` script and ``python -m memlab`` enter through :func:`console_main`, which ends the process
  as soon as the command has returned (``main`` itself just returns the exit code).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from memlab._errors import InvalidInputError
from memlab._version import __version__
from memlab.cli import _crossover, _figure, _report, _verify

__all__ = ["ArgumentParser", "build_parser", "console_main", "main"]


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="memlab",
        description="Memorization laboratory for diffusion models: verify the paper's claims, "
        "evaluate the crossover model size M*, regenerate the paper's figures.",
    )
    parser.add_argument("--version", action="version", version=f"memlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    sub.required = True
    for command in (_crossover, _verify, _figure, _report):
        command.register(sub, ArgumentParser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InvalidInputError as exc:
        print(f"memlab: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:  # a size no check caught: still the user's input, still one line
        print(
            "memlab: error: not enough memory for this input (reduce the sizes; see docs/reliability.md)",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("memlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `memlab verify --list | head`: the reader went away; not an error to report
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141
    except Exception as exc:  # last resort: one line, not a traceback
        if os.environ.get("MEMLAB_DEBUG"):
            raise
        print(
            f"memlab: internal error: {type(exc).__name__}: {exc} (set MEMLAB_DEBUG=1 for a traceback)", file=sys.stderr
        )
        return 1


def console_main() -> NoReturn:
    """The ``memlab`` script and ``python -m memlab``: run :func:`main`, flush, and end the process at once.

    Everything a command produces is written (atomically) and closed before ``main`` returns. The
    interpreter's normal teardown afterwards (JAX releasing its backends, module finalization) adds ~0.5 s
    to every command on a 2-core CPU and does nothing a finished command needs, so the process leaves with
    ``os._exit``. Argument errors and ``--help`` (``SystemExit`` from argparse) exit the normal way.
    """
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader went away (`memlab verify --list | head`): nothing left to say
        code = code or 141
    os._exit(code)
