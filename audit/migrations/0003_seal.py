"""Rows are appended unsealed and sealed once, in order, by the sealer (audit.services).

1. `seq`, a row's place in the chain; the hashes may be empty until sealed.
2. The rows already chained (in id order, the old chain order) get their place.
3. The append-only trigger lets exactly one UPDATE through: setting the seal of an
   unsealed row and nothing else. A second trigger refuses an INSERT that comes
   sealed, so only the sealer's path gives a row its place.
"""

from django.db import migrations, models

BACKFILL = """
ALTER TABLE audit_auditevent DISABLE TRIGGER audit_append_only;
UPDATE audit_auditevent AS a SET seq = o.n
FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM audit_auditevent) AS o
WHERE a.id = o.id;
ALTER TABLE audit_auditevent ENABLE TRIGGER audit_append_only;
"""

FORWARD = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND OLD.seq IS NULL AND OLD.prev_hash = '' AND OLD.hash = ''
       AND NEW.seq IS NOT NULL AND NEW.prev_hash <> '' AND NEW.hash <> ''
       AND to_jsonb(NEW) - ARRAY['seq', 'prev_hash', 'hash']
           = to_jsonb(OLD) - ARRAY['seq', 'prev_hash', 'hash'] THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_auditevent is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION audit_refuse_sealed_insert() RETURNS trigger AS $$
BEGIN
    IF NEW.seq IS NOT NULL OR NEW.prev_hash <> '' OR NEW.hash <> '' THEN
        RAISE EXCEPTION 'audit_auditevent is append-only: a row is inserted unsealed'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_insert_unsealed
    BEFORE INSERT ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_sealed_insert();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS audit_insert_unsealed ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_refuse_sealed_insert();
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_auditevent is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(blank=True, editable=False, null=True, unique=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(("seq__isnull", True)),
                fields=["id"],
                name="audit_unsealed_idx",
            ),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
