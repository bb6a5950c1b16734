"""The ordered registry of the paper's claims (filled by the check modules at import)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from memlab._errors import InvalidInputError
from memlab.verification._claim import CheckFunction, Claim

__all__ = ["all_claims", "get_claim", "register_claim", "select_claims"]

_CLAIMS: dict[str, Claim] = {}


def register_claim(
    *, id: str, paper_ref: str, statement: str, kind: str, tags: Iterable[str] = ()
) -> Callable[[CheckFunction], CheckFunction]:
    """Decorator: register ``check`` as the check of a new claim (ids are unique)."""

    def decorate(check: CheckFunction) -> CheckFunction:
        if id in _CLAIMS:
            raise ValueError(f"claim id {id!r} registered twice")
        _CLAIMS[id] = Claim(id=id, paper_ref=paper_ref, statement=statement, kind=kind, check=check, tags=tuple(tags))
        return check

    return decorate


def all_claims() -> list[Claim]:
    """Every registered claim, in registration (= report) order."""
    return list(_CLAIMS.values())


def get_claim(claim_id: str) -> Claim:
    try:
        return _CLAIMS[claim_id]
    except KeyError:
        raise InvalidInputError(f"unknown claim id {claim_id!r}; known ids: {', '.join(_CLAIMS)}") from None


def select_claims(ids: Iterable[str] | None) -> list[Claim]:
    """The claims named in ``ids`` (report order, duplicates dropped), or all when ``ids`` is None.

    An unknown id is a :class:`~memlab.InvalidInputError` naming it.
    """
    if ids is None:
        return all_claims()
    wanted = [i.strip() for i in ids if i.strip()]
    if not wanted:
        raise InvalidInputError("--only needs at least one claim id")
    unknown = [i for i in wanted if i not in _CLAIMS]
    if unknown:
        raise InvalidInputError(
            f"unknown claim id(s) {', '.join(map(repr, unknown))}; see `memlab verify --list` for the known ids"
        )
    keep = set(wanted)
    return [c for c in _CLAIMS.values() if c.id in keep]
