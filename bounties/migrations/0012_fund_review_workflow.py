"""The "Fund review" workflow: creators' proposals (and their news, when it needs review) wait in
it for an editor's approve or request-changes.

One group approval task, "Editors' review", for Wagtail's Moderators and Editors groups (editors
keep the site's quality; approval publishes). Assigned to every fund index that exists now;
`load_demo` and `bounties.services.proposals` assign it to an index made later.
"""

from django.db import migrations

WORKFLOW = "Fund review"
TASK = "Editors' review"
GROUPS = ("Moderators", "Editors")


def create(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Group = apps.get_model("auth", "Group")
    Workflow = apps.get_model("wagtailcore", "Workflow")
    WorkflowTask = apps.get_model("wagtailcore", "WorkflowTask")
    WorkflowPage = apps.get_model("wagtailcore", "WorkflowPage")
    GroupApprovalTask = apps.get_model("wagtailcore", "GroupApprovalTask")
    FundIndexPage = apps.get_model("bounties", "FundIndexPage")

    workflow, created = Workflow.objects.get_or_create(name=WORKFLOW, defaults={"active": True})
    if created:
        task_type, _ = ContentType.objects.get_or_create(app_label="wagtailcore", model="groupapprovaltask")
        task = GroupApprovalTask.objects.create(name=TASK, content_type=task_type, active=True)
        task.groups.set(Group.objects.filter(name__in=GROUPS))
        WorkflowTask.objects.create(workflow=workflow, task=task, sort_order=0)
    for index in FundIndexPage.objects.all():
        WorkflowPage.objects.update_or_create(page_id=index.pk, defaults={"workflow": workflow})


def remove(apps, schema_editor):
    Workflow = apps.get_model("wagtailcore", "Workflow")
    Workflow.objects.filter(name=WORKFLOW).update(active=False)


class Migration(migrations.Migration):
    dependencies = [
        ("bounties", "0011_creators"),
        ("wagtailcore", "0098_apitoken"),
    ]

    operations = [migrations.RunPython(create, remove)]
