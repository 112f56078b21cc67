"""Editors may publish under the fund index: the "Fund review" task is theirs, and approving it
publishes the proposal as the approver (Wagtail checks the approver's publish permission).

Wagtail's own migrations give the Editors group add and edit but not publish; without this, an
editor's "Approve and publish" is refused and the proposal stays in review. The same grant is
made for a fund index created later by `bounties.services.proposals.fund_review`.
"""

from django.db import migrations

GROUPS = ("Moderators", "Editors")


def grant(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    GroupPagePermission = apps.get_model("wagtailcore", "GroupPagePermission")
    FundIndexPage = apps.get_model("bounties", "FundIndexPage")
    publish = Permission.objects.filter(
        content_type__app_label="wagtailcore", codename="publish_page"
    ).first()
    if publish is None:  # a database Wagtail's permissions were never created in (nothing to grant yet)
        return
    for index in FundIndexPage.objects.all():
        for group in Group.objects.filter(name__in=GROUPS):
            GroupPagePermission.objects.get_or_create(group=group, page_id=index.pk, permission=publish)


class Migration(migrations.Migration):
    dependencies = [("bounties", "0013_goal_in_dollars")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
