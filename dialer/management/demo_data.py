"""The demo portfolio `seed_demo` creates: programs, queues, contacts, callers, users.

None of the numbers is a real person's (555 exchange).
"""

from __future__ import annotations

import os
from datetime import time

from campaigns.models import Purpose
from campaigns.roles import (
    ADMISSIONS_STAFF,
    CAMPAIGN_MANAGER,
    COMPLIANCE_OFFICER,
    MARKETING_ANALYST,
)

DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "demo-password")
# The demo users' second factor, the same for all and printed: for the demo only.
# Real staff enrol their own authenticator at their first sign-in.
DEMO_TOTP_SECRET = "MNQWY3DPOJRWQLLEMVWW6LLUN52HAIJB"  # noqa: S105 (base32, demo only)

PROGRAMS = [
    {
        "slug": "harbor-recovery",
        "legal_name": "Harbor Recovery Center",
        "state": "FL",
        "timezone": "America/New_York",
        "neutral_name": "Harbor Health",
        "caller_id_number": "+13055550100",
    },
    {
        "slug": "mesa-springs",
        "legal_name": "Mesa Springs Treatment",
        "state": "AZ",
        "timezone": "America/Phoenix",
        "neutral_name": "Mesa Wellness",
        "caller_id_number": "+16025550100",
    },
]

QUEUES = [
    ("callbacks", "Missed-call callbacks", Purpose.CALLBACK, time(8, 0), time(21, 0)),
    ("reminders", "Appointment reminders", Purpose.REMINDER, time(9, 0), time(19, 0)),
    ("alumni", "Alumni reactivation", Purpose.REACTIVATION, time(10, 0), time(19, 0)),
]

SCRIPT = (
    "Hello, this is {name} returning your call. Is now a good time to talk? "
    "If you would rather not be called again, tell me and we will stop."
)

CONTACTS = {
    "harbor-recovery": [
        ("HR-1001", "Alex", "Rivera", "FL", "33101", "none", "+13055550123"),
        ("HR-1002", "Sam", "Lee", "FL", "33139", "current", "+13055550124"),
        ("HR-1003", "Jordan", "Diaz", "NY", "10001", "former", "+12125550199"),
        ("HR-1004", "Morgan", "Blake", "FL", "33132", "former", "+13055550125"),
    ],
    "mesa-springs": [
        ("MS-2001", "Casey", "Nguyen", "AZ", "85004", "none", "+16025550142"),
        ("MS-2002", "Riley", "Patel", "AZ", "85281", "former", "+16025550143"),
    ],
}

# An alumnus who never signed a Part 2 consent: enrolling them is refused, with the reason.
NO_PART2 = {"HR-1004"}

# People who asked Harbor to call them back, one per US zone (state, ZIP, number): whatever
# the hour, the ones whose window is open now are offered at once, the rest wait for theirs.
CALLBACKS = [
    ("FL", "33130", "+13055550131", "web-form"),
    ("IL", "60601", "+13125550132", "google-ads"),
    ("CO", "80202", "+13035550133", "web-form"),
    ("CA", "90012", "+12135550134", "referral"),
    ("AK", "99501", "+19075550135", "web-form"),
    ("HI", "96813", "+18085550136", "google-ads"),
]

# Numbers whose owners asked not to be called: on the internal list (all programs).
INTERNAL_DNC = ["+13055550187", "+16025550188"]

# An admissions line answered day and night (the called person's windows still apply).
ALWAYS_OPEN = (time(0, 0), time(23, 59))

API_CLIENT_NAME = "Demo CRM"

# The registry sample's listed numbers, per area code (none of them a demo contact's):
# the last four digits after the area code and 555.
REGISTRY_SAMPLE = ["0170", "0171", "0172"]
# Numbers the README's walk-through posts (their area codes get a national copy too).
README_NUMBERS = ["+18085550199", "+13055550199"]

# username -> (role, program slugs)
USERS = {
    "staff.harbor": (ADMISSIONS_STAFF, ["harbor-recovery"]),
    "manager.harbor": (CAMPAIGN_MANAGER, ["harbor-recovery"]),
    "compliance": (COMPLIANCE_OFFICER, ["harbor-recovery", "mesa-springs"]),
    "marketing": (MARKETING_ANALYST, ["harbor-recovery", "mesa-springs"]),
    "staff.mesa": (ADMISSIONS_STAFF, ["mesa-springs"]),
}
