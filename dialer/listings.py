"""Each phone's registry answer, kept on the phone per registry generation.

A planning tick decides thousands of calls; decrypting each number to scrub it
against the registries would cost most of the tick. So each phone keeps the
registries' answer for its number (`registry_lists`, the sources holding it)
with the generation that gave it (`registry_generation`). A tick reads that
answer where the generation is the current one, and decrypts and scrubs only
the phones whose answer is older (a load, a change list, a new or edited phone),
exactly as before. The internal list is never kept here: it is read by keyed
hash at every decision, so an opt-out counts at once.

`listings_refresh` brings stale answers up to date in batches: after every
registry load and on a schedule, so a steady-state tick decrypts nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.db import connection
from django.db.models import Q

from campaigns.models import PhoneNumber
from common.fields import field_of, token_of
from dnc.keys import keys_from_numbers
from dnc.registry.storage import current_version
from dnc.selectors import NATIONAL, STATE_PREFIX, dnc_scrub_keys

log = logging.getLogger(__name__)

SEPARATOR = ","
# Kept for a phone whose number no key decrypts: not an answer, so the call it
# would make is refused (invalid_number) until a key reads it again.
UNREADABLE = "!"
BATCH = 20_000

_UPDATE = """
UPDATE campaigns_phonenumber p SET registry_generation = %s, registry_lists = u.lists
  FROM unnest(%s::bigint[], %s::text[]) AS u(id, lists)
 WHERE p.id = u.id
"""


def current_generation() -> int:
    """The registry generation in force (0: no registry was ever loaded)."""
    with connection.cursor() as cursor:
        return current_version(cursor).generation


def listings_refresh(*, batch: int = BATCH, limit: int | None = None) -> int:
    """Bring up to `limit` stale answers (all when None) to the current generation;
    returns how many phones were refreshed."""
    done = 0
    while limit is None or done < limit:
        generation = current_generation()
        if generation == 0:
            return done
        size = batch if limit is None else min(batch, limit - done)
        rows = list(
            # Two index range scans: a `<>` would read every phone.
            PhoneNumber.objects.filter(
                Q(registry_generation__lt=generation) | Q(registry_generation__gt=generation)
            )
            .exclude(exchange="")
            .annotate(token=token_of("number"))
            .values_list("id", "token")[:size]
        )
        if not rows:
            return done
        lists = _lists_of([token for _, token in rows], generation)
        if lists is None:  # a load committed meanwhile: start again at the new generation
            continue
        with connection.cursor() as cursor:
            cursor.execute(_UPDATE, [generation, [pk for pk, _ in rows], lists])
        done += len(rows)
    return done


def _lists_of(tokens: list[str | None], generation: int) -> list[str] | None:
    """The sources holding each stored number, as kept on the phone; None if the registry
    moved past `generation` while it was read."""
    field = field_of(PhoneNumber, "number")
    numbers = [field.decrypted_or_none(token) or "" for token in tokens]
    read_generation, out = registry_answers(numbers)
    if read_generation != generation:
        return None
    unreadable = out.count(UNREADABLE)
    if unreadable:
        log.warning("%s phones do not decrypt to a US number; their calls are refused", unreadable)
    return out


def registry_answers(numbers: Sequence[str]) -> tuple[int, list[str]]:
    """The registries' answer for each number (sources joined by commas; UNREADABLE for
    a string that is no US number) and the generation that gave them."""
    keys, valid = keys_from_numbers(numbers)
    scrub = dnc_scrub_keys(keys=keys)
    sources = [(NATIONAL, scrub.national)] + [
        (STATE_PREFIX + state, mask) for state, mask in sorted(scrub.states.items())
    ]
    out = []
    for position, readable in enumerate(valid.tolist()):
        if not readable:
            out.append(UNREADABLE)
            continue
        out.append(SEPARATOR.join(name for name, mask in sources if mask[position]))
    return scrub.generation, out
