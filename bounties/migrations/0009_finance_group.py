"""The Finance group: staff who approve, mark paid and mark failed manual payouts.

Membership is what the payout services check (`bounties.services.payouts.is_finance`);
the group also gets into the Wagtail admin and may view the money listings, so Finance
can check a winner's transfers before paying them. Editors get none of this.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

FINANCE = "Finance"
VIEW_MODELS = ["transfer", "pledge", "account", "deposit", "payout"]


def create_finance_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    # Permissions are made after migrations on a fresh database; make this app's now.
    app_config = apps.get_app_config("bounties")
    models_module, app_config.models_module = getattr(app_config, "models_module", None), True
    try:
        create_permissions(app_config, apps=apps, verbosity=0)
    finally:
        app_config.models_module = models_module
    group, _ = Group.objects.get_or_create(name=FINANCE)
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="wagtailadmin", codename="access_admin"),
        *Permission.objects.filter(
            content_type__app_label="bounties", codename__in=[f"view_{model}" for model in VIEW_MODELS]
        ),
    )


def remove_finance_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=FINANCE).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("bounties", "0008_terms_backfill_and_schedules"),
        ("wagtailadmin", "0001_create_admin_access_permissions"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_finance_group, remove_finance_group)]
