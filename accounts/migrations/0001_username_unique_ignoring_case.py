"""Usernames are unique ignoring case, in the database (accounts/usernames.py says why).

A functional unique index on auth's own table: the user model is Django's, so this lives
in a migration rather than in the model's Meta. Plain SQL that SQLite and PostgreSQL share.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("auth", "0012_alter_user_first_name_max_length")]

    operations = [
        migrations.RunSQL(
            "CREATE UNIQUE INDEX auth_user_username_lower_uniq ON auth_user (LOWER(username));",
            reverse_sql="DROP INDEX auth_user_username_lower_uniq;",
        )
    ]
