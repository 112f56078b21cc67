"""Seeding and checking the bench's site database; run with the site's (production) settings.

    python -m bench.site_tasks seed --users 200 --balance-cents 1000000 --out seed.json
    python -m bench.site_tasks verify --seed seed.json --load run1.txt [--load run2.txt ...] [--out v.json]
    python -m bench.site_tasks session --user ada      # prints a signed-in session's cookie

`seed` builds the demo site (`load_demo`), creates backers with API tokens and funds
every wallet through the real deposit path (the local gateway emits a signed event
that the webhook code verifies and credits). `verify` compares what the load
generator was told with what the database holds, and prints one JSON object.
"""

import argparse
import json
import os
import sys


def _django():
    import django

    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        sys.exit("Set DJANGO_SETTINGS_MODULE (the bench runs this with the production settings).")
    django.setup()


def seed(users: int, balance_cents: int, out: str, fund_slug: str):
    _django()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction
    from rest_framework.authtoken.models import Token

    from bounties.models import Fund, FundPage, FundStatus
    from bounties.payments.local_gateway import SUCCESS_CARD, LocalGateway
    from bounties.services.deposits import deposit_create

    call_command("load_demo", backers=False, verbosity=0)  # the bench counts only its own pledges
    page = FundPage.objects.get(slug=fund_slug)
    fund = Fund.objects.get(pk=page.pk)
    if fund.status != FundStatus.OPEN:
        sys.exit(f"fund {fund_slug} is {fund.status}, not open")

    User = get_user_model()
    gateway = LocalGateway()
    backers = []
    for i in range(1, users + 1):
        with transaction.atomic():
            user = User(username=f"bench{i:05d}", email=f"bench{i:05d}@bench.invalid")
            user.set_unusable_password()  # API tokens only: no password hashing in the seed
            user.save()
            token = Token.objects.create(user=user)
        deposit = deposit_create(user=user, amount_cents=balance_cents, gateway=gateway.name)
        gateway.pay(deposit, SUCCESS_CARD)  # signed event → webhook code → wallet credit
        backers.append({"index": i, "id": user.pk, "token": token.key})
    with open(out, "w") as f:
        json.dump(
            {"fund_id": fund.pk, "fund_url": page.url, "balance_cents": balance_cents, "users": backers}, f
        )


def read_load(paths) -> dict:
    """Merge the load generator's result files (wrk_load.lua's format)."""
    sent, answered, statuses = {}, set(), {}
    for path in paths:
        with open(path) as f:
            for line in f:
                kind, _, rest = line.strip().partition(" ")
                if kind == "sent":
                    user, key, amount = rest.split(" ")
                    sent[(int(user), key)] = int(amount)
                elif kind == "answered":
                    answered.add(int(rest))
                elif kind == "status":
                    status, count = rest.split(" ")
                    statuses[status] = statuses.get(status, 0) + int(count)
    return {"sent": sent, "answered": answered, "statuses": statuses}


def verify(seed_path: str, load_paths: list[str]) -> dict:
    _django()
    from django.db.models import Sum

    from bounties.models import (
        Account,
        AccountKind,
        Deposit,
        DepositStatus,
        Entry,
        Fund,
        Pledge,
        PledgeStatus,
        Transfer,
        TransferKind,
    )

    with open(seed_path) as f:
        seeded = json.load(f)
    fund_id = seeded["fund_id"]
    user_ids = {u["index"]: u["id"] for u in seeded["users"]}
    load = read_load(load_paths)
    sent = {(user_ids[index], key): amount for (index, key), amount in load["sent"].items()}

    pledges = {p["id"]: p for p in Pledge.objects.filter(fund_id=fund_id).values()}
    active = {pk: p for pk, p in pledges.items() if p["status"] == PledgeStatus.ACTIVE}
    by_key = {(p["user_id"], p["key"]): p for p in pledges.values()}
    answered = load["answered"]

    transfers = Transfer.objects.filter(kind=TransferKind.PLEDGE, fund_id=fund_id)
    wallet_debits = -(
        Entry.objects.filter(transfer__in=transfers, account__kind=AccountKind.WALLET).aggregate(
            s=Sum("amount")
        )["s"]
        or 0
    )
    active_cents = sum(p["amount_cents"] for p in active.values())
    backer_ids = list(user_ids.values())
    deposited = (
        Deposit.objects.filter(user_id__in=backer_ids, status=DepositStatus.SUCCEEDED).aggregate(
            s=Sum("amount_cents")
        )["s"]
        or 0
    )
    in_wallets = (
        Account.objects.filter(kind=AccountKind.WALLET, user_id__in=backer_ids).aggregate(s=Sum("balance"))[
            "s"
        ]
        or 0
    )
    fund = Fund.objects.get(pk=fund_id)
    escrow = Account.objects.filter(kind=AccountKind.ESCROW, fund_id=fund_id).values_list(
        "balance", flat=True
    )

    # Lost: the client was told 201 (an id) but the pledge is not there, or holds no money.
    lost = sorted(pk for pk in answered if pk not in active or active[pk]["transfer_id"] is None)
    # Doubled: more pledge transfers than pledges, or more money left the wallets than the pledges hold.
    doubled_transfers = (
        transfers.count() - Pledge.objects.filter(fund_id=fund_id, transfer__isnull=False).count()
    )
    return {
        "keys_sent": len(sent),
        "answered_201": len(answered),
        "pledge_rows": len(pledges),
        "active_pledges": len(active),
        "pledge_transfers": transfers.count(),
        "unanswered_rows": sorted(pk for pk in pledges if pk not in answered),
        "phantom_rows": sorted(p["id"] for key, p in by_key.items() if key not in sent),
        "amount_mismatch": sorted(
            p["id"] for key, p in by_key.items() if key in sent and sent[key] != p["amount_cents"]
        ),
        "lost": lost,
        "doubled_transfers": doubled_transfers,
        "wallet_debits_cents": wallet_debits,
        "active_pledges_cents": active_cents,
        "wallet_outflow_cents": deposited - in_wallets,
        "fund_pledged_cents": fund.pledged_cents,
        "escrow_cents": escrow[0] if escrow else 0,
        "statuses": load["statuses"],
    }


def session(username: str):
    """A signed-in session for a demo backer, as the login view would make it: `name=value`."""
    _django()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    print(f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("seed")
    p.add_argument("--users", type=int, default=200)
    p.add_argument("--balance-cents", type=int, default=1_000_000)
    p.add_argument("--fund", default="audit-truecrypt")
    p.add_argument("--out", required=True)
    p = sub.add_parser("verify")
    p.add_argument("--seed", required=True)
    p.add_argument("--load", action="append", default=[])
    p.add_argument("--out", help="write the JSON here (default: stdout)")
    p = sub.add_parser("session")
    p.add_argument("--user", default="ada")
    args = parser.parse_args(argv)
    if args.command == "session":
        session(args.user)
    elif args.command == "seed":
        seed(args.users, args.balance_cents, args.out, args.fund)
    else:
        result = json.dumps(verify(args.seed, args.load))
        if args.out:
            with open(args.out, "w") as f:
                f.write(result)
        else:
            print(result)


if __name__ == "__main__":
    main()
