"""``memlab crossover``: the crossover model size M* for a user's setting (SPEC §4)."""

from __future__ import annotations


def register(sub) -> None:
    parser = sub.add_parser("crossover", help="evaluate the crossover model size M* (SPEC §4)",
                            description="Evaluate the crossover model size M*.")
    parser.set_defaults(func=run)


def run(args) -> int:
    from memlab._errors import UserInputError

    raise UserInputError("memlab crossover is not built yet")
