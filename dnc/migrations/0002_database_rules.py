"""What the database itself enforces: the registry's partitioned table, and an
internal list whose entries are never deleted and change only by removal."""

from django.db import migrations

FORWARD = """
-- One partition per full load (dnc_regnum_<load id>), created, filled with COPY,
-- indexed and attached by dnc.registry.load; RegistryCoverage says which is in force.
CREATE TABLE dnc_registry_number (
    load_id bigint NOT NULL,
    number bigint NOT NULL
) PARTITION BY LIST (load_id);
-- Its user: every registry lookup (one partition at a time, by load and number).
CREATE INDEX dnc_registry_number_number ON dnc_registry_number (number);

CREATE SEQUENCE dnc_internal_seq;
-- Registry generations are never reused, even by a load that rolls back: an
-- index file named after a generation always holds that generation.
CREATE SEQUENCE dnc_registry_generation;

CREATE FUNCTION dnc_internal_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'internal DNC entries are never deleted: remove one with a reason'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'UPDATE' THEN
        -- Encrypted columns may be rewritten (key rotation); what the entry is may not.
        IF NEW.number_hash IS DISTINCT FROM OLD.number_hash
           OR NEW.source IS DISTINCT FROM OLD.source
           OR NEW.program_id IS DISTINCT FROM OLD.program_id
           OR NEW.added_at IS DISTINCT FROM OLD.added_at
           OR NEW.added_by IS DISTINCT FROM OLD.added_by THEN
            RAISE EXCEPTION 'an internal DNC entry changes only by its removal'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF OLD.removed_at IS NOT NULL AND (
               NEW.removed_at IS DISTINCT FROM OLD.removed_at
               OR NEW.removed_by IS DISTINCT FROM OLD.removed_by
               OR NEW.removal_reason IS DISTINCT FROM OLD.removal_reason) THEN
            RAISE EXCEPTION 'the removal of an internal DNC entry is final'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    -- One writer at a time until commit, so that seq follows commit order and a
    -- reader that has seen seq N has seen every entry change up to N.
    PERFORM pg_advisory_xact_lock(7311002);
    NEW.seq := nextval('dnc_internal_seq');
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER dnc_internal_guard
    BEFORE INSERT OR UPDATE OR DELETE ON dnc_internaldncentry
    FOR EACH ROW EXECUTE FUNCTION dnc_internal_guard();

INSERT INTO dnc_registrystate (id, generation) VALUES (1, 0);
"""

BACKWARD = """
DELETE FROM dnc_registrystate;
DROP TRIGGER IF EXISTS dnc_internal_guard ON dnc_internaldncentry;
DROP FUNCTION IF EXISTS dnc_internal_guard();
DROP SEQUENCE IF EXISTS dnc_internal_seq;
DROP SEQUENCE IF EXISTS dnc_registry_generation;
DROP TABLE IF EXISTS dnc_registry_number CASCADE;
"""


class Migration(migrations.Migration):
    dependencies = [("dnc", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
