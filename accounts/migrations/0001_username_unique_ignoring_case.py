"""Usernames are unique ignoring case, in the database (accounts/usernames.py says why).

A functional unique index on auth's own table: the user model is Django's, so this lives
in a migration rather than in the model's Meta. Plain SQL that SQLite and PostgreSQL share.
A database that already holds two names differing only in case stops here, naming them,
so an operator can rename one before the index is built.
"""

from django.db import migrations
from django.db.models import Count
from django.db.models.functions import Lower


def refuse_existing_look_alikes(apps, schema_editor):
    User = apps.get_model("auth", "User")
    clashes = (
        User.objects.annotate(name=Lower("username"))
        .values("name")
        .annotate(accounts=Count("id"))
        .filter(accounts__gt=1)
    )
    names = sorted(clash["name"] for clash in clashes)
    if names:
        raise RuntimeError(
            "These usernames exist more than once when case is ignored; rename all but one of each, "
            f"then migrate again: {', '.join(names)}"
        )


class Migration(migrations.Migration):
    dependencies = [("auth", "0012_alter_user_first_name_max_length")]

    operations = [
        migrations.RunPython(refuse_existing_look_alikes, migrations.RunPython.noop),
        migrations.RunSQL(
            "CREATE UNIQUE INDEX auth_user_username_lower_uniq ON auth_user (LOWER(username));",
            reverse_sql="DROP INDEX auth_user_username_lower_uniq;",
        ),
    ]
