"""Finance staff may view card refunds and cash-outs too, so the audit entries of their support
actions on refunds show in Wagtail's site history (it lists entries of the models a user holds a
permission on). Migration 0009 of bounties gave the group the other money models."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

FINANCE = "Finance"
VIEW_MODELS = ["refund", "cashout"]


def grant(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    app_config = apps.get_app_config("bounties")
    models_module, app_config.models_module = getattr(app_config, "models_module", None), True
    try:
        create_permissions(app_config, apps=apps, verbosity=0)
    finally:
        app_config.models_module = models_module
    group, _ = Group.objects.get_or_create(name=FINANCE)
    group.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="bounties", codename__in=[f"view_{model}" for model in VIEW_MODELS]
        )
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name=FINANCE):
        group.permissions.remove(
            *Permission.objects.filter(
                content_type__app_label="bounties", codename__in=[f"view_{model}" for model in VIEW_MODELS]
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("bounties", "0009_finance_group"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
