"""Wagtail's Editors and Moderators groups may view feedback and mentions and change a feedback's status
and note or a mention's `seen` flag (the "Feedback" menu, feedback/admin.py); nobody gets add or delete."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUPS = ("Moderators", "Editors")
CODENAMES = ["view_feedback", "change_feedback", "view_mention", "change_mention"]


def grant(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    # Permissions are made after migrations on a fresh database; make this app's now.
    app_config = apps.get_app_config("feedback")
    models_module, app_config.models_module = getattr(app_config, "models_module", None), True
    try:
        create_permissions(app_config, apps=apps, verbosity=0)
    finally:
        app_config.models_module = models_module
    permissions = Permission.objects.filter(content_type__app_label="feedback", codename__in=CODENAMES)
    for group in Group.objects.filter(name__in=GROUPS):
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    permissions = Permission.objects.filter(content_type__app_label="feedback", codename__in=CODENAMES)
    for group in apps.get_model("auth", "Group").objects.filter(name__in=GROUPS):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0002_mention_poll_schedules"),
        ("wagtailcore", "0002_initial_data"),  # Wagtail's Moderators and Editors groups
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
