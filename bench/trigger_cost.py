"""What the balanced-transfer trigger costs a pledge: the same pledges with it on and off, in turns.

    .venv/bin/python bench/trigger_cost.py                     # 4 rounds of 500 pledges each way
    .venv/bin/python bench/trigger_cost.py --pledges 1000 --rounds 6

PostgreSQL refuses, at COMMIT, a transfer whose entries do not sum to zero (migration 0005's
deferred constraint trigger `bounties_entry_balanced`). This bench measures what that check
costs the hottest money operation. It starts its own PostgreSQL, migrates a fresh database with
the production settings, makes backers with money and one open fund, and pledges through
`bounties.services.pledging.pledge_create` in this one process (no HTTP: the trigger's share is
not diluted by the web stack), alternating rounds with the trigger enabled and disabled
(`ALTER TABLE … DISABLE TRIGGER`). It prints pledges per second each way and their ratio, both
measured in the same run. The trigger is enabled again before `ledger_check` runs at the end.
"""

import argparse
import os
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import create_database, log, run_in_work_dir, start_postgres  # noqa: E402

TRIGGER = "bounties_entry_balanced"
BACKERS = 20


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pledges", type=int, default=500, help="pledges per round (default 500)")
    parser.add_argument("--rounds", type=int, default=4, help="rounds each way, alternating (default 4)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    return parser.parse_args(argv)


def set_up(work: Path):
    url = create_database(start_postgres(), f"trigger_{secrets.token_hex(4)}")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=url,
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        BENCH_STATIC_ROOT=str(work / "static"),
        MEDIA_ROOT=str(work / "media"),
        LOG_LEVEL="WARNING",
    )
    for name in ("REDIS_URL", "FUNDFILL_PLEDGE_SQL"):
        os.environ.pop(name, None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from django.contrib.auth import get_user_model

    from bounties.models import FundIndexPage
    from tests.factories import FundPageFactory, build_site, publish
    from tests.money import top_up

    build_site()
    fund = FundPageFactory(parent=FundIndexPage.objects.get(), title="Trigger bench", goal_cents=10**12)
    publish(fund)
    users = []
    for i in range(BACKERS):
        user = get_user_model().objects.create_user(username=f"bench{i}", email=f"bench{i}@example.com")
        top_up(user, 100_000_000)  # $1M, the largest deposit: far more than the rounds pledge
        users.append(user)
    return fund.pk, users


def set_trigger(enabled: bool):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE bounties_entry {'ENABLE' if enabled else 'DISABLE'} TRIGGER {TRIGGER}")


def pledge_round(fund_id, users, count, label) -> float:
    from bounties.services.pledging import pledge_create

    started = time.perf_counter()
    for n in range(count):
        user = users[n % len(users)]
        pledge_create(user=user, fund_id=fund_id, amount_cents=100 + n % 7, key=f"{label}-{n}")
    return count / (time.perf_counter() - started)


def bench(args, work, _cleanup) -> int:
    fund_id, users = set_up(work)
    pledge_round(fund_id, users, 100, "warm-up")
    rates = {True: [], False: []}
    for turn in range(args.rounds * 2):
        enabled = turn % 2 == 0
        set_trigger(enabled)
        rate = pledge_round(fund_id, users, args.pledges, f"r{turn}")
        rates[enabled].append(rate)
        log(f"round {turn + 1}: trigger {'on ' if enabled else 'off'} {rate:,.0f} pledges/s")
    set_trigger(True)
    from django.core.management import call_command

    call_command("ledger_check")
    on, off = (sorted(rates[flag])[len(rates[flag]) // 2] for flag in (True, False))
    print()
    print(f"pledge_create, one process, {args.rounds} × {args.pledges} pledges each way (median round):")
    print(f"  trigger off  {off:8,.0f} pledges/s  1.000")
    print(f"  trigger on   {on:8,.0f} pledges/s  {on / off:.3f}  (the trigger costs {1 - on / off:.1%})")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_in_work_dir(
        lambda work, cleanup: bench(args, work, cleanup), keep=args.keep, prefix="fundfill-trigger-"
    )


if __name__ == "__main__":
    sys.exit(main())
