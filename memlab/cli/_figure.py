"""``memlab figure N``: regenerate a paper figure (PNG + PDF + its data) from the command line.

The flags become the figure's settings (:mod:`memlab.cli._figure_options`); the figure module's
``compute`` -> ``save`` -> ``describe`` do the rest. The output folder is checked before any work.
"""

from __future__ import annotations

import argparse
import sys
import time

from memlab._io import check_output_folder
from memlab._jaxcfg import enable_compilation_cache, enable_float64
from memlab.cli._common import sweep_options
from memlab.cli._figure_options import FIGURE_OPTIONS

__all__ = ["register"]


def _figure_module(number: int):
    # Heavy (JAX, matplotlib): imported when a figure is made, so that `memlab --help`, `memlab crossover`
    # and `memlab verify --list` start without them.
    from memlab.paper_figs import figure1, figure2, figure3, figure4, figure5, figure6, figure7

    return {1: figure1, 2: figure2, 3: figure3, 4: figure4, 5: figure5, 6: figure6, 7: figure7}[number]


def register(sub, parser_class: type[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "figure",
        help="regenerate a paper figure: memlab figure N [options]",
        description="Regenerate one of the paper's figures (PNG + PDF + its data).",
    )
    figures = parser.add_subparsers(dest="figure", metavar="N", parser_class=parser_class)
    figures.required = True
    for number, options in FIGURE_OPTIONS.items():
        fig_parser = figures.add_parser(str(number), help=options.help, description=f"Figure {number}: {options.help}")
        options.add_arguments(fig_parser)
        fig_parser.set_defaults(func=_run, figure_number=number)


def _run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    options = FIGURE_OPTIONS[args.figure_number]
    settings = options.settings(args)  # bad values fail here, before any work
    check_output_folder(args.out)  # tried before any work: a location that cannot be written fails now
    if options.sweeps:
        check_output_folder(args.cache_dir)  # the run cache is an output location too
    enable_float64()
    cache = enable_compilation_cache()  # a re-run skips most JIT compilation (MEMLAB_JAX_CACHE=0: off)
    figure = _figure_module(args.figure_number)
    setup_s = time.perf_counter() - started
    if args.figure_number == 1:
        result = figure.compute(settings, show_progress=True)
        written = figure.save(result, args.out, extra={"timings": {"setup_s": setup_s}, "jax_compilation_cache": cache})
    elif options.sweeps:
        result = figure.compute(settings, sweep=sweep_options(args))
        written = figure.save(result, args.out)
    else:
        result = figure.compute(settings)
        written = figure.save(result, args.out)
    print(figure.describe(result))
    print(
        f"wrote {args.out.resolve()}/: {', '.join(p.name for p in written)} ({time.perf_counter() - started:.1f} s)",
        file=sys.stderr,
    )
    return 0
