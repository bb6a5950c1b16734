"""``memlab figure N``: regenerate a paper figure.

Each figure is a module ``memlab.paper_figs.figure<N>`` exposing

- ``DESCRIPTION: str`` — one line for ``--help``;
- ``add_arguments(parser)`` — its options (keep module import light: import JAX inside ``run``);
- ``run(args) -> int`` — does the work, writes PNG + PDF + data files, returns the exit code.

Figures are discovered by module name, so adding a figure needs no change here.
"""

from __future__ import annotations

import importlib
import importlib.util

FIGURE_NUMBERS = tuple(str(n) for n in range(1, 8))


def available_figures() -> list[str]:
    found = []
    for number in FIGURE_NUMBERS:
        if importlib.util.find_spec(f"memlab.paper_figs.figure{number}") is not None:
            found.append(number)
    return found


def register(sub) -> None:
    from memlab.cli import ArgumentParser

    parser = sub.add_parser("figure", help="regenerate a paper figure: memlab figure N [options]",
                            description="Regenerate one of the paper's figures (PNG + PDF + its data).")
    figures = parser.add_subparsers(dest="figure", metavar="N", parser_class=ArgumentParser)
    figures.required = True
    for number in available_figures():
        module = importlib.import_module(f"memlab.paper_figs.figure{number}")
        fig_parser = figures.add_parser(number, help=module.DESCRIPTION, description=module.DESCRIPTION)
        module.add_arguments(fig_parser)
        fig_parser.set_defaults(func=module.run)
