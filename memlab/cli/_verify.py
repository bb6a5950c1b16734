"""``memlab verify``: check the paper's claims (SPEC §6)."""

from __future__ import annotations


def register(sub) -> None:
    parser = sub.add_parser("verify", help="check the paper's theorems and lemmas (SPEC §6)",
                            description="Check the paper's claims numerically and symbolically.")
    parser.set_defaults(func=run)


def run(args) -> int:
    from memlab._errors import UserInputError

    raise UserInputError("memlab verify is not built yet")
