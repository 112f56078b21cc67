"""The worker polls X and Hacker News for mentions every 5 minutes (feedback.tasks).

X's recent search allows 450 requests per 15 minutes for an app (fewer on the basic tier); one query
every 5 minutes stays far below it. Without `TWITTER_BEARER_TOKEN` the X poll returns at once.
"""

from django.db import migrations

SCHEDULES = {
    "poll X mentions": "feedback.tasks.mentions_poll_x",
    "poll Hacker News mentions": "feedback.tasks.mentions_poll_hn",
}


def add_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, func in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": "I", "minutes": 5, "repeats": -1}
        )


def drop_schedules(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=SCHEDULES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add_schedules, drop_schedules)]
