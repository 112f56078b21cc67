"""The pending-pledge sweep schedule, and database guards that keep the ledger append-only."""

from django.db import migrations

IMMUTABLE_SQL = """
CREATE OR REPLACE FUNCTION bounties_refuse_ledger_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger rows are immutable: post a correcting transfer instead' USING DETAIL = TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER bounties_entry_immutable BEFORE UPDATE OR DELETE ON bounties_entry
    FOR EACH ROW EXECUTE FUNCTION bounties_refuse_ledger_change();
CREATE TRIGGER bounties_transfer_immutable BEFORE UPDATE OR DELETE ON bounties_transfer
    FOR EACH ROW EXECUTE FUNCTION bounties_refuse_ledger_change();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS bounties_entry_immutable ON bounties_entry;
DROP TRIGGER IF EXISTS bounties_transfer_immutable ON bounties_transfer;
DROP FUNCTION IF EXISTS bounties_refuse_ledger_change();
"""


def add_guards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(IMMUTABLE_SQL)


def drop_guards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL)


def add_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="complete pending pledges",
        defaults={"func": "bounties.tasks.complete_pending_pledges", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def drop_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="complete pending pledges").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("bounties", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.RunPython(add_guards, drop_guards),
        migrations.RunPython(add_schedule, drop_schedule),
    ]
