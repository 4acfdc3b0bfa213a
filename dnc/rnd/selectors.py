"""Reading RND answers: per number, in bulk, as a statement that can join a round trip."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from common.crypto import keyed_hash
from common.together import Statement, fetch_all
from dnc.rnd.facts import RndAnswerFact

_ANSWERS_SQL = (
    "SELECT number_hash, consent_date, result, queried_at FROM dnc_rndanswer"
    " WHERE number_hash = ANY(%s::text[])"
)


def rnd_answers_statement(*, numbers: Iterable[str]) -> Statement:
    """The answers on file for these E.164 numbers (one array parameter, by keyed hash)."""
    return Statement(_ANSWERS_SQL, [sorted({keyed_hash(n) for n in numbers if n})])


def rnd_answers_from(
    rows: Iterable[tuple[Any, ...]], numbers: Iterable[str]
) -> dict[str, tuple[RndAnswerFact, ...]]:
    """The answers of each number, by E.164 (numbers without any are left out)."""
    by_hash = {keyed_hash(n): n for n in set(numbers) if n}
    found: dict[str, list[RndAnswerFact]] = defaultdict(list)
    for number_hash, consent_date, result, queried_at in rows:
        number = by_hash.get(number_hash)
        if number is not None:
            found[number].append(RndAnswerFact(consent_date, result, queried_at))
    return {n: tuple(sorted(a, key=lambda x: x.consent_date)) for n, a in found.items()}


def rnd_answers_many(*, numbers: Sequence[str]) -> dict[str, tuple[RndAnswerFact, ...]]:
    """The answers of many numbers, in one query."""
    wanted = [n for n in numbers if n]
    if not wanted:
        return {}
    return rnd_answers_from(fetch_all(rnd_answers_statement(numbers=wanted)), wanted)
