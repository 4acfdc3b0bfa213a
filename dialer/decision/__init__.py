"""The pure call decision: facts in, a `Decision` out; no database, no Django models.

`decide(facts, at)` decides one call at an aware instant, `decide_many(facts, at)`
a batch at one instant, and `Decision.to_dict()` is the public decision JSON.
"""

from __future__ import annotations

from dialer.decision.engine import clear_caches, decide, decide_batch, decide_many
from dialer.decision.facts import (
    AttemptFact,
    ConsentFact,
    ContactFacts,
    DncFacts,
    NumberFacts,
    ProgramFacts,
    QueueFacts,
    RegistryFacts,
    RndAnswerFact,
    TaskFacts,
)
from dialer.decision.outcome import REASON_CODES, TIME_CODES, Decision, Reason
from dialer.decision.rules_table import RULES, RulesTableError

__all__ = [
    "REASON_CODES",
    "RULES",
    "TIME_CODES",
    "AttemptFact",
    "ConsentFact",
    "ContactFacts",
    "Decision",
    "DncFacts",
    "NumberFacts",
    "ProgramFacts",
    "QueueFacts",
    "Reason",
    "RegistryFacts",
    "RndAnswerFact",
    "RulesTableError",
    "TaskFacts",
    "clear_caches",
    "decide",
    "decide_batch",
    "decide_many",
]
