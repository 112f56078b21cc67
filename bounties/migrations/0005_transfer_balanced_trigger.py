"""The database refuses an unbalanced transfer: its entries must sum to zero at COMMIT (PostgreSQL).

django-hordak's approach (its `check_leg` trigger): a constraint trigger on the entry
table, DEFERRABLE INITIALLY DEFERRED, so the check runs once the transaction commits
and a transfer may be written leg by leg. Each inserted (or, were it allowed,
updated or deleted) entry checks the sum of its transfer's entries; a non-zero sum
raises check_violation (Django: IntegrityError) and the whole transaction rolls back.

SQLite has no deferred constraint triggers: there the single writer
(`transfer_post`, which refuses unbalanced legs before writing) and `ledger_check`
keep the rule (RELIABILITY.md §3.1).
"""

from django.db import migrations

POSTGRESQL_TRIGGER = """
CREATE OR REPLACE FUNCTION bounties_check_transfer_balanced() RETURNS trigger AS $$
DECLARE
    checked BIGINT;
    total NUMERIC;
BEGIN
    FOREACH checked IN ARRAY (CASE TG_OP
        WHEN 'INSERT' THEN ARRAY[NEW.transfer_id]
        WHEN 'DELETE' THEN ARRAY[OLD.transfer_id]
        ELSE ARRAY[NEW.transfer_id, OLD.transfer_id]
    END) LOOP
        SELECT COALESCE(SUM(amount), 0) INTO total FROM bounties_entry WHERE transfer_id = checked;
        IF total <> 0 THEN
            RAISE EXCEPTION 'transfer % is unbalanced: its entries sum to %, not 0', checked, total
                USING ERRCODE = 'check_violation';
        END IF;
    END LOOP;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE CONSTRAINT TRIGGER bounties_entry_balanced
    AFTER INSERT OR UPDATE OR DELETE ON bounties_entry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION bounties_check_transfer_balanced();
"""

POSTGRESQL_DROP = """
DROP TRIGGER IF EXISTS bounties_entry_balanced ON bounties_entry;
DROP FUNCTION IF EXISTS bounties_check_transfer_balanced();
"""


def add_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_TRIGGER, params=None)  # no params: RAISE's % stays literal


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("bounties", "0004_deposit_review_and_webhook_outcome"),
    ]

    operations = [
        migrations.RunPython(add_trigger, drop_trigger),
    ]
