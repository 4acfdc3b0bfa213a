"""The database itself keeps consents (no DELETE) and disclosures (append-only)."""

from django.db import migrations

FORWARD = """
CREATE FUNCTION consent_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '%: % refused (consents are revoked, never deleted; disclosures are append-only)',
        TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER consent_never_deleted
    BEFORE DELETE ON consent_consent
    FOR EACH ROW EXECUTE FUNCTION consent_refuse_change();

CREATE TRIGGER disclosure_append_only
    BEFORE UPDATE OR DELETE ON consent_disclosure
    FOR EACH ROW EXECUTE FUNCTION consent_refuse_change();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS disclosure_append_only ON consent_disclosure;
DROP TRIGGER IF EXISTS consent_never_deleted ON consent_consent;
DROP FUNCTION IF EXISTS consent_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
