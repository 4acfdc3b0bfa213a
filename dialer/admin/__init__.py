"""The dialer's admin: Django loads this package, and each module registers its pages.

- `call_tasks`: tasks, attempts, API clients and planning schedules;
- `add_call`: "Add a call" on a contact's page;
- `consents` (with `consent_forms`): consents, on their own pages and the contact's;
- `disclosures`: disclosures and alumni imports;
- `dnc_requests`: the internal DNC list, where a request also cancels calls;
- `my_calls`: the staff's preview calls;
- `supervisor`: the supervisor view (staff presences) for campaign managers.
"""

from __future__ import annotations

from dialer.admin import (
    add_call,
    call_tasks,
    consents,
    disclosures,
    dnc_requests,
    my_calls,
    supervisor,
)

__all__ = [
    "add_call",
    "call_tasks",
    "consents",
    "disclosures",
    "dnc_requests",
    "my_calls",
    "supervisor",
]
