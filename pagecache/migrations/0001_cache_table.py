"""The database cache's table (pagecache/backends.py): the shared cache when there is no REDIS_URL.

Created whatever CACHES says, so that `migrate` is all a deployment needs and a site that
drops REDIS_URL later finds it there. Django's own `createcachetable` does the work, so the
table is exactly what `DatabaseCache` expects, and an existing one is kept (a database
migrated before this app existed ran the same migration as `fundfill.0001_cache_table`).
"""

from django.core.management import call_command
from django.db import migrations

TABLE = "fundfill_cache"  # pagecache.backends.DATABASE_CACHE_TABLE when this was written


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", TABLE, database=schema_editor.connection.alias, verbosity=0)


def drop_cache_table(apps, schema_editor):
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(TABLE)}")


class Migration(migrations.Migration):
    dependencies = []

    operations = [migrations.RunPython(create_cache_table, drop_cache_table)]
