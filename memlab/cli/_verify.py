"""``memlab verify``: check the paper's claims (Theorems 3.1-3.2, the lemmas of Section 2 and App. B-H),
print a table, write JSON / Markdown reports.

Exit codes: 0 when the run completed (whatever "holds"/"fails"/"inconclusive" verdicts it gave), 1 when
a claim's verdict is ``error`` (its check crashed or its measurement failed its own cross-check; every
other claim still runs and the error is reported with its claim), 2 on bad arguments; ``--strict``
also exits 1 when any claim ``fails`` (for CI). The table's "power" column is the smallest relative
error of the statement the check detects with probability >= 0.95 ("loose": none detected).
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

from memlab._errors import InvalidInputError
from memlab._jaxcfg import device_summary, enable_compilation_cache, enable_float64
from memlab._metadata import versions
from memlab._progress import progress
from memlab.cli._common import check_output_path, seed

DESCRIPTION = (
    "Check the paper's claims numerically and symbolically (identities, asymptotic statements, "
    "probability bounds, deterministic inequalities) and report, claim by claim, whether each holds."
)


def _claim_ids(text: str) -> list[str]:
    ids = [part.strip() for part in text.split(",")]
    if not all(ids):
        raise argparse.ArgumentTypeError(f"expected comma-separated claim ids, got {text!r}")
    return ids


def register(sub, parser_class=None) -> None:
    parser = sub.add_parser("verify", help="check the paper's theorems and lemmas", description=DESCRIPTION)
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument(
        "--quick",
        dest="budget",
        action="store_const",
        const="quick",
        help="small settings: the whole suite in <= 2 minutes on a 2-core CPU (default)",
    )
    budget.add_argument(
        "--full",
        dest="budget",
        action="store_const",
        const="full",
        help="the full settings (<= 20 minutes on a 2-core CPU)",
    )
    parser.set_defaults(budget="quick")
    parser.add_argument(
        "--only",
        type=_claim_ids,
        action="append",
        metavar="ID[,ID]",
        help="check only these claims (see --list); may be repeated",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the JSON report here")
    parser.add_argument("--report", type=Path, metavar="FILE.md", help="write a Markdown report here")
    parser.add_argument("--seed", type=seed, default=0, help="seed of every random choice (default 0)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any claim fails (for CI)")
    parser.add_argument("--list", action="store_true", help="list the claims (id, reference, kind) and exit")
    parser.set_defaults(func=run)


def run(args) -> int:
    # Lazy: memlab.verification brings SciPy's stats and optimize (~0.5 s); the other commands (and
    # `memlab --help`) start without them.
    from memlab.verification import (
        Budget,
        all_claims,
        run_claims,
        select_claims,
        summarize,
        table_header,
        table_row,
        write_json_report,
        write_markdown_report,
    )

    if args.list:
        for claim in all_claims():
            print(f"{claim.id:26s}  {claim.paper_ref:30s}  {claim.kind}")
        return 0
    only = None if args.only is None else [i for group in args.only for i in group]
    claims = select_claims(only)  # unknown id -> InvalidInputError (exit 2) before any work
    check_output_path(args.json, "--json")  # tried, not judged from permission bits (root passes those)
    check_output_path(args.report, "--report")
    if args.json is not None and args.report is not None and args.json.resolve() == args.report.resolve():
        raise InvalidInputError("--json and --report must be different files")

    enable_float64()
    enable_compilation_cache()  # a re-run skips the engine's JIT compilation (MEMLAB_JAX_CACHE=0: off)
    budget = Budget(args.budget)
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    print(f"memlab verify: {len(claims)} claims, budget {budget.name}, seed {args.seed}", flush=True)
    print(table_header(), flush=True)
    bar = progress(total=len(claims), desc="verify")

    def on_start(claim) -> None:
        bar.set_description_str(f"verify {claim.id}")

    def on_record(record) -> None:
        bar.update(1)
        bar.clear()
        print(table_row(record), flush=True)

    start = time.perf_counter()
    try:
        run_result = run_claims(claims, budget=budget, seed=args.seed, on_start=on_start, on_record=on_record)
    finally:
        bar.close()
    run_result.config.update(
        {
            "budget": budget.name,
            "seed": args.seed,
            "only": only,
            "strict": bool(args.strict),
            "started_utc": started,
            "elapsed_s": round(time.perf_counter() - start, 3),
            "argv": sys.argv[1:],
            "versions": versions(),
            "device": device_summary(),
        }
    )
    summary = summarize(run_result)
    print(
        f"\n{summary['total']} claims in {summary['elapsed_s']:.1f} s: {summary['holds']} hold, "
        f"{summary['fails']} fail, {summary['inconclusive']} inconclusive, {summary['error']} error"
        + (f" ({', '.join(summary['error_ids'])}; {summary['crashed']} crashed)" if summary["error"] else "")
        + (f"; failing: {', '.join(summary['failing_ids'])}" if summary["failing_ids"] else "")
    )
    if args.json is not None:
        print(f"JSON report: {write_json_report(args.json, run_result)}")
    if args.report is not None:
        print(f"Markdown report: {write_markdown_report(args.report, run_result)}")
    if summary["error"]:
        for record in run_result.errors:
            why = (
                f"crashed: {record.result.details.get('crash')}"
                if record.crashed
                else f"error: {record.result.summary}"
            )
            print(f"memlab verify: check {record.claim.id} {why}", file=sys.stderr)
        return 1
    if args.strict and summary["fails"]:
        return 1
    return 0
