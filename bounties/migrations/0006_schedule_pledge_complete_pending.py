"""The pending-pledge sweep's schedule calls the task by its one name, `pledge_complete_pending`.

A data migration, so existing sites' schedules follow; the old task name is not kept (the
schedule row holds the name as a string, so nothing here needs it importable).
"""

from django.db import migrations

NAME = "complete pending pledges"
OLD = "bounties.tasks.complete_pending_pledges"
NEW = "bounties.tasks.pledge_complete_pending"


def rename(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME, func=OLD).update(func=NEW)


def rename_back(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME, func=NEW).update(func=OLD)


class Migration(migrations.Migration):
    dependencies = [
        ("bounties", "0005_transfer_balanced_trigger"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(rename, rename_back)]
