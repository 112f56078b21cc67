"""Deposits flagged for review, webhook outcomes, and database guards on deposits.

The guards make two rules hold even for raw SQL: a deposit's amount is fixed when it
is opened, and its status leaves `pending` at most once (to succeeded, declined or
expired) and never changes after.
"""

from django.db import migrations, models

POSTGRESQL_GUARDS = """
CREATE OR REPLACE FUNCTION bounties_guard_deposit() RETURNS trigger AS $$
BEGIN
    IF NEW.amount_cents IS DISTINCT FROM OLD.amount_cents THEN
        RAISE EXCEPTION 'a deposit amount is fixed when it is opened' USING DETAIL = OLD.id;
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status AND OLD.status <> 'pending' THEN
        RAISE EXCEPTION 'a deposit status leaves pending only once' USING DETAIL = OLD.id;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER bounties_deposit_guard BEFORE UPDATE ON bounties_deposit
    FOR EACH ROW EXECUTE FUNCTION bounties_guard_deposit();
"""

POSTGRESQL_DROP = """
DROP TRIGGER IF EXISTS bounties_deposit_guard ON bounties_deposit;
DROP FUNCTION IF EXISTS bounties_guard_deposit();
"""

SQLITE_GUARDS = [
    """CREATE TRIGGER bounties_deposit_amount_fixed BEFORE UPDATE OF amount_cents ON bounties_deposit
    WHEN NEW.amount_cents IS NOT OLD.amount_cents
    BEGIN SELECT RAISE(ABORT, 'a deposit amount is fixed when it is opened'); END""",
    """CREATE TRIGGER bounties_deposit_status_once BEFORE UPDATE OF status ON bounties_deposit
    WHEN NEW.status IS NOT OLD.status AND OLD.status <> 'pending'
    BEGIN SELECT RAISE(ABORT, 'a deposit status leaves pending only once'); END""",
]

SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS bounties_deposit_amount_fixed",
    "DROP TRIGGER IF EXISTS bounties_deposit_status_once",
]


def add_guards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_GUARDS)
    elif vendor == "sqlite":
        for sql in SQLITE_GUARDS:
            schema_editor.execute(sql)


def drop_guards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_DROP)
    elif vendor == "sqlite":
        for sql in SQLITE_DROP:
            schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ('bounties', '0003_deposit_idempotency_key'),
    ]

    operations = [
        migrations.AddField(
            model_name='deposit',
            name='needs_review',
            field=models.BooleanField(default=False, help_text='A signed provider event disagreed with this deposit (amount, currency or state) and credited nothing: check the payment with the provider.'),
        ),
        migrations.AddField(
            model_name='deposit',
            name='review_note',
            field=models.CharField(blank=True, help_text='What the last such event said.', max_length=300),
        ),
        migrations.AddField(
            model_name='webhookevent',
            name='note',
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.AddField(
            model_name='webhookevent',
            name='outcome',
            field=models.CharField(choices=[('applied', 'Applied'), ('ignored', 'Nothing to do'), ('flagged', 'Disagreed with our records: flagged for review'), ('unusable', 'Could not be used')], default='applied', max_length=16),
        ),
        migrations.AlterField(
            model_name='deposit',
            name='status',
            field=models.CharField(choices=[('pending', 'Waiting for payment'), ('succeeded', 'Added to your wallet'), ('declined', 'Declined'), ('expired', 'Expired')], default='pending', max_length=16),
        ),
        migrations.RunPython(add_guards, drop_guards),
    ]
