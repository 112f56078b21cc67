"""The rules that keep money in one place, checked on the source so a regression fails the build.

Money models are written only by `bounties/services/` (one durable transaction per business
action); nothing commits by hand or turns on ATOMIC_REQUESTS (RELIABILITY.md §3.2).
"""

import re
from pathlib import Path

from django.conf import settings

from bounties.services import deposits, pledging

ROOT = Path(__file__).resolve().parents[2]
APP_DIRS = ["accounts", "base", "bounties", "content", "demo", "fundfill", "home", "pagecache", "search"]
MONEY_MODELS = "Transfer|Entry|Account|Pledge|Deposit|WebhookEvent|Fund|Outbox"
MONEY_WRITE = re.compile(
    rf"\b({MONEY_MODELS})\.objects\.(create|bulk_create|get_or_create|update_or_create|update|delete)\b"
    rf"|\b({MONEY_MODELS})\.objects\.filter\(.*\)\.(update|delete)\("
)
# The one exception: a fund page creates its (empty) money-side row; no money moves.
ALLOWED = {("bounties/models/pages.py", "Fund.objects.get_or_create")}


def source_files():
    for app in APP_DIRS:
        for path in (ROOT / app).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" not in relative and not relative.startswith("bounties/services/"):
                yield relative, path.read_text()


def test_money_models_are_written_only_by_services():
    offenders = []
    for relative, text in source_files():
        for number, line in enumerate(text.splitlines(), 1):
            match = MONEY_WRITE.search(line)
            if match and (relative, match.group(0).split("(")[0]) not in ALLOWED:
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == [], "money written outside bounties/services/:\n" + "\n".join(offenders)


def test_nothing_commits_by_hand():
    pattern = re.compile(r"transaction\.commit\(|set_autocommit\(|execute\(\s*[\"'](BEGIN|COMMIT)")
    offenders = [relative for relative, text in source_files() if pattern.search(text)]
    assert offenders == []
    assert not any(db.get("ATOMIC_REQUESTS") for db in settings.DATABASES.values())


def test_business_actions_are_one_durable_transaction_each():
    actions = [
        pledging._pledge_create,
        pledging.pledge_create_with_card,
        pledging.pledge_complete,
        pledging.pledge_withdraw,
        deposits.deposit_create,
        deposits.webhook_apply,
    ]
    assert [a.__name__ for a in actions if not getattr(a, "money_operation", False)] == []
