"""``memlab report``: one self-contained HTML page with the paper beside what memlab measured.

Reads what the other commands wrote (the ``memlab verify --json`` report, the figure folders) and writes
one HTML file; computes nothing unless asked: ``--compute quick`` first runs ``memlab verify --quick``,
``memlab figure 1`` and ``memlab figure 4`` (in this process, through :func:`memlab.cli.main`).
Exit codes: 0 page written; 1 a ``--compute`` step failed (the page is still written); 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import memlab.cli
from memlab._errors import InvalidInputError
from memlab._io import write_text
from memlab.cli._common import check_output_path

DEFAULT_FIGURES = Path("figures")
DEFAULT_OUT = DEFAULT_FIGURES / "report.html"
COMPUTE_CHOICES = ("quick",)

_EPILOG = """\
The page shows: the paper's headline numbers beside the measured ones (with error bars), every claim
of `memlab verify` with its verdict, every figure under --figures with its settings and data files,
and the environment of each run. Parts not computed yet are listed with the command that makes them.
example: memlab verify --quick --json figures/verify/verify.json && memlab figure 1 && memlab report"""


def register(sub, parser_class=None) -> None:
    parser = sub.add_parser(
        "report",
        help="write one HTML page: the paper's claims and figures beside memlab's results",
        description="Assemble one self-contained HTML page (no network access) from the results the other\n"
        "commands wrote: verification verdicts, headline numbers, figures, environment.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--figures",
        type=Path,
        default=DEFAULT_FIGURES,
        metavar="DIR",
        help=f"folder of the figure folders (default ./{DEFAULT_FIGURES})",
    )
    parser.add_argument(
        "--verify-json",
        type=Path,
        default=None,
        metavar="FILE",
        help="the `memlab verify --json` report (default DIR/verify/verify.json, where `make verify` writes it)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"the page to write (default DIR/report.html, i.e. ./{DEFAULT_OUT})",
    )
    parser.add_argument(
        "--compute",
        choices=COMPUTE_CHOICES,
        default=None,
        help="first compute the quick parts: verify --quick, Figure 1, Figure 4 (a few minutes)",
    )
    parser.set_defaults(func=run)


def _check_paths(figures: Path, verify_json: Path, out: Path, *, verify_json_given: bool) -> None:
    """Bad paths are refused before anything is computed or written."""
    if figures.exists() and not figures.is_dir():
        raise InvalidInputError(f"--figures {figures}: not a directory")
    if verify_json_given and not verify_json.is_file():
        raise InvalidInputError(
            f"--verify-json {verify_json}: " + ("is a directory" if verify_json.is_dir() else "file not found")
        )
    check_output_path(out, "--out")


def _compute_quick(figures: Path, verify_json: Path, figure_numbers) -> list[str]:
    """Run the quick commands in this process; returns the ones that failed (with their exit codes)."""
    steps = [["verify", "--quick", "--json", str(verify_json)]]
    steps += [["figure", str(n), "--out", str(figures / f"figure{n}")] for n in figure_numbers]
    failed = []
    for argv in steps:
        print(f"memlab report: running memlab {' '.join(argv)}", file=sys.stderr, flush=True)
        code = memlab.cli.main(argv)
        if code != 0:
            failed.append(f"memlab {' '.join(argv)} (exit {code})")
    return failed


def run(args) -> int:
    # Lazy: the report layer brings jinja2; the other commands start without it.
    from memlab.report import QUICK_FIGURES, VERDICT_ORDER, collect_report, default_verify_json, render_report

    figures: Path = args.figures
    verify_json: Path = args.verify_json if args.verify_json is not None else default_verify_json(figures)
    out: Path = args.out if args.out is not None else figures / "report.html"
    # with --compute the verify report is an output, so it need not exist yet
    _check_paths(figures, verify_json, out, verify_json_given=args.verify_json is not None and not args.compute)
    failed = _compute_quick(figures, verify_json, QUICK_FIGURES) if args.compute == "quick" else []
    if not figures.is_dir():
        print(f"memlab report: no folder {figures}: every figure is listed as not computed", file=sys.stderr)
    page = collect_report(figures, verify_json, link_from=out.parent)
    try:
        path = write_text(out, render_report(page))
    except OSError as exc:  # e.g. a read-only file system; the write is atomic, nothing is left half-written
        raise InvalidInputError(f"--out {out}: cannot write: {exc.strerror or exc}") from None

    verification = page.verification
    if verification.present:
        counts = dict(verification.counts)
        claims = (
            f"{len(verification.rows)} claims ("
            + ", ".join(
                f"{counts[v]} {v}"
                for v in (*VERDICT_ORDER, *(k for k in counts if k not in VERDICT_ORDER))
                if counts.get(v)
            )
            + ")"
        )
    else:
        claims = "no verification"
    print(f"wrote {path} ({path.stat().st_size:,} bytes): {claims}, {len(page.figures)} figure(s)")
    for item in page.missing:
        print(f"  not computed: {item.what} -> {item.command}")
    for problem in page.problems:
        print(f"memlab report: {problem}", file=sys.stderr)
    if failed:
        print("memlab report: failed: " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0
