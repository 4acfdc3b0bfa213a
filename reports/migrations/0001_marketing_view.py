"""The marketing view, the key of its call ids, and the marketing role.

The call id is HMAC-SHA256(key, "call:<attempt id>"), computed inside the view
from the built-in sha256() (no extension needed): HMAC is
sha256(outer_pad || sha256(inner_pad || message)) with the 64-byte key's two
pads stored in `reports_call_id_key`. That table is not a Django model (the
test runner's flush never empties it) and no role but its owner may read it;
the view runs with its owner's rights, so the marketing role reads the ids
without ever reading the key. Without the key, an id cannot be traced back to
an attempt.
"""

import secrets
import sys

from django.db import migrations, models

KEY_TABLE = """
CREATE TABLE reports_call_id_key (
    id smallint PRIMARY KEY CHECK (id = 1),
    inner_pad bytea NOT NULL CHECK (length(inner_pad) = 64),
    outer_pad bytea NOT NULL CHECK (length(outer_pad) = 64),
    created_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON reports_call_id_key FROM PUBLIC;
"""

# Lead sources are free text from the CRM: only a short code (a letter first,
# then letters, digits and _ . : -, at most four digits in all, so no phone
# number fits) passes; anything else reads "(other)".
VIEW = r"""
CREATE VIEW reports_marketing_call WITH (security_barrier) AS
SELECT
    encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to('call:' || a.id::text, 'UTF8'))),
           'hex') AS call_id,
    p.id AS program_id,
    p.slug::text AS program,
    q.slug::text AS queue,
    q.purpose::text AS purpose,
    t.origin::text AS origin,
    CASE
        WHEN t.source = '' THEN '(none)'
        WHEN lower(t.source) ~ '^[a-z][a-z0-9_.:-]{0,49}$'
             AND length(regexp_replace(t.source, '[^0-9]', '', 'g')) <= 4
            THEN lower(t.source)
        ELSE '(other)'
    END AS source,
    a.attempt_number,
    CASE WHEN a.outcome = '' THEN 'in_progress' ELSE a.outcome::text END AS outcome,
    a.answered,
    (a.outcome = 'connected') AS connected,
    a.abandoned,
    a.duration_seconds,
    (a.started_at AT TIME ZONE p.timezone)::date AS started_on,
    extract(hour FROM a.started_at AT TIME ZONE p.timezone)::smallint AS started_hour,
    date_trunc('week', a.started_at AT TIME ZONE p.timezone)::date AS started_week,
    f.first_attempt,
    CASE
        WHEN f.first_attempt AND q.purpose = 'callback'
            THEN greatest(0, extract(epoch FROM a.started_at - coalesce(t.requested_at, t.created_at)))::integer
    END AS seconds_to_first_attempt
FROM dialer_callattempt a
JOIN dialer_calltask t ON t.id = a.task_id
JOIN campaigns_queue q ON q.id = t.queue_id
JOIN campaigns_program p ON p.id = q.program_id
CROSS JOIN reports_call_id_key k
CROSS JOIN LATERAL (
    SELECT NOT EXISTS (
        SELECT 1 FROM dialer_callattempt e
        WHERE e.task_id = a.task_id
          AND e.outcome <> 'withdrawn'
          AND (e.started_at, e.id) < (a.started_at, a.id)
    ) AS first_attempt
) f
-- Withdrawn attempts were never dialled (the last check stopped them).
WHERE a.outcome <> 'withdrawn';
REVOKE ALL ON reports_marketing_call FROM PUBLIC;
"""


def create_key(apps, schema_editor):
    key = secrets.token_bytes(64)
    inner = bytes(b ^ 0x36 for b in key)
    outer = bytes(b ^ 0x5C for b in key)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO reports_call_id_key (id, inner_pad, outer_pad) VALUES (1, %s, %s)"
            " ON CONFLICT (id) DO NOTHING",
            [inner, outer],
        )


def create_role(apps, schema_editor):
    from reports.dbrole import marketing_role_sync

    result = marketing_role_sync(using=schema_editor.connection.alias)
    if not result.usable:
        print(f"\n  reports: {result.message}", file=sys.stderr)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0002_contact_names_nullable"),
        ("dialer", "0002_runtime"),
    ]

    operations = [
        migrations.RunSQL(KEY_TABLE, "DROP TABLE IF EXISTS reports_call_id_key;"),
        migrations.RunPython(create_key, migrations.RunPython.noop),
        migrations.RunSQL(VIEW, "DROP VIEW IF EXISTS reports_marketing_call;"),
        migrations.RunPython(create_role, migrations.RunPython.noop),
        migrations.CreateModel(
            name="MarketingCall",
            fields=[
                ("call_id", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("program_id", models.BigIntegerField()),
                ("program", models.CharField(max_length=50)),
                ("queue", models.CharField(max_length=50)),
                ("purpose", models.CharField(max_length=20)),
                ("origin", models.CharField(max_length=10)),
                ("source", models.CharField(max_length=50)),
                ("attempt_number", models.PositiveSmallIntegerField()),
                ("outcome", models.CharField(max_length=20)),
                ("answered", models.BooleanField()),
                ("connected", models.BooleanField()),
                ("abandoned", models.BooleanField()),
                ("duration_seconds", models.PositiveIntegerField(null=True)),
                ("started_on", models.DateField()),
                ("started_hour", models.PositiveSmallIntegerField()),
                ("started_week", models.DateField()),
                ("first_attempt", models.BooleanField()),
                ("seconds_to_first_attempt", models.IntegerField(null=True)),
            ],
            options={
                "verbose_name": "marketing dashboard",
                "verbose_name_plural": "marketing dashboard",
                "db_table": "reports_marketing_call",
                "ordering": ["-started_on"],
                "managed": False,
            },
        ),
    ]
