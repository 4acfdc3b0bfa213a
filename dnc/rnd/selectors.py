"""Reading RND answers: per number, in bulk, as a statement that can join a round trip."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from common.crypto import keyed_hash
from common.together import Statement, fetch_all, joined
from dnc.rnd.facts import RndAnswerFact

_ANSWERS_SQL = (
    "SELECT number_hash, consent_date, result, queried_at FROM dnc_rndanswer"
    " WHERE number_hash = ANY(string_to_array(%s, ','))"
)


def rnd_answers_statement(*, numbers: Iterable[str]) -> Statement:
    """The answers on file for these E.164 numbers (one array parameter, by keyed hash)."""
    return rnd_hashes_statement(number_hashes=(keyed_hash(n) for n in numbers if n))


def rnd_hashes_statement(*, number_hashes: Iterable[str]) -> Statement:
    """The answers on file for the numbers of these keyed hashes."""
    return Statement(_ANSWERS_SQL, [joined({h for h in number_hashes if h})])


def rnd_answers_from(
    rows: Iterable[tuple[Any, ...]], numbers: Iterable[str]
) -> dict[str, tuple[RndAnswerFact, ...]]:
    """The answers of each number, by E.164 (numbers without any are left out)."""
    by_hash = {keyed_hash(n): n for n in set(numbers) if n}
    found = rnd_answers_by_hash(rows)
    return {by_hash[h]: answers for h, answers in found.items() if h in by_hash}


def rnd_answers_by_hash(rows: Iterable[tuple[Any, ...]]) -> dict[str, tuple[RndAnswerFact, ...]]:
    """The answers of each number, by keyed hash, oldest consent date first."""
    found: dict[str, list[RndAnswerFact]] = defaultdict(list)
    for number_hash, consent_date, result, queried_at in rows:
        found[number_hash].append(RndAnswerFact(consent_date, result, queried_at))
    return {h: tuple(sorted(a, key=lambda x: x.consent_date)) for h, a in found.items()}


def rnd_answers_many(*, numbers: Sequence[str]) -> dict[str, tuple[RndAnswerFact, ...]]:
    """The answers of many numbers, in one query."""
    wanted = [n for n in numbers if n]
    if not wanted:
        return {}
    return rnd_answers_from(fetch_all(rnd_answers_statement(numbers=wanted)), wanted)
