"""Seeding and checking the bench's site database; run with the site's (production) settings.

    python -m bench.site_tasks seed --users 200 --balance-cents 1000000 [--funds 20] --out seed.json
    python -m bench.site_tasks verify --seed seed.json --load run1.txt [--load run2.txt ...]
        [--funds-load spread1.txt ...] [--out v.json]
    python -m bench.site_tasks session --user ada      # prints a signed-in session's cookie

`seed` builds the demo site (`load_demo`), creates backers with API tokens and funds
every wallet through the real deposit path (the local gateway emits a signed event
that the webhook code verifies and credits); with `--funds N` it also makes sure N
other open, live, public funds exist (pages added and published under the fund index
as `load_demo` does) for load spread over many funds. `verify` compares what the load
generator was told with what the database holds, and prints one JSON object: the hot
fund's `--load` files at the top level, the `--funds-load` files (spread over the seeded
`fund_ids`) under `"funds"`.
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


SPREAD_SLUG = "bench-fund-{:02d}"


def ensure_open_funds(count: int, hot) -> list[int]:
    """Ids of `count` open, live, public funds other than the hot one, taking pledges for weeks yet.

    Existing ones are used first (the demo's other funds); the missing ones are added under the
    hot fund's index page and published, as `load_demo` adds its funds (the page's save makes
    its `Fund` row, open).
    """
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from bounties.models import FailurePolicy, FundPage, FundStatus

    if count <= 0:
        return []
    now = timezone.now()

    def usable():
        return [
            page.pk
            for page in FundPage.objects.public_funds().exclude(pk=hot.pk).order_by("pk")
            if page.fund.status == FundStatus.OPEN and page.pledge_deadline > now + timedelta(days=1)
        ]

    ids = usable()[:count]
    index = hot.get_parent().specific
    deadline = now.replace(minute=0, second=0, microsecond=0) + timedelta(days=60)
    number = 0
    with transaction.atomic():
        while len(ids) < count:
            number += 1
            slug = SPREAD_SLUG.format(number)
            if FundPage.objects.filter(slug=slug).exists():
                continue  # there already (and counted above if usable)
            page = FundPage(
                title=f"Bench fund {number:02d}",
                slug=slug,
                summary="One of the funds the pledge bench spreads its load over.",
                search_description="One of the funds the pledge bench spreads its load over.",
                body=[("paragraph", "<p>Made by bench/site_tasks.py seed.</p>")],
                goal_cents=hot.goal_cents,
                pledge_deadline=deadline,
                escrow_until=deadline + timedelta(days=180),
                failure_policy=FailurePolicy.REFUND,
            )
            index.add_child(instance=page)
            page.save_revision().publish()
            ids.append(page.pk)
    missing = set(ids) - set(usable())
    if missing:
        sys.exit(f"funds {sorted(missing)} are not open, live and public after seeding")
    return ids


def seed(users: int, balance_cents: int, out: str, fund_slug: str, funds: int = 0):
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
    fund_ids = ensure_open_funds(funds, page)

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
            {
                "fund_id": fund.pk,
                "fund_url": page.url,
                "fund_ids": fund_ids,  # the open funds for load spread over many (--funds)
                "balance_cents": balance_cents,
                "users": backers,
            },
            f,
        )


def read_load(paths) -> dict:
    """Merge the load generator's result files (wrk_load.lua's format).

    `sent` maps (user index, key) to (amount, fund id): a `sent` line names its fund when the
    load was spread over several (`sent <user> <key> <amount> <fund>`); else the fund is None,
    the URL's one fund.
    `sentweb <username> <key> <amount>` is a web-form pledge by a user who signed up during the
    load (soak.py), known by name only; `user <username>` names such a user.
    """
    sent, answered, statuses = {}, set(), {}
    sent_web, usernames = {}, set()
    for path in paths:
        with open(path) as f:
            for line in f:
                kind, _, rest = line.strip().partition(" ")
                if kind == "sent":
                    user, key, amount, *fund = rest.split(" ")
                    sent[(int(user), key)] = (int(amount), int(fund[0]) if fund else None)
                elif kind == "sentweb":  # a pledge form sent by a user who signed up during the load
                    username, key, amount = rest.split(" ")
                    sent_web[(username, key)] = (int(amount), None)
                elif kind == "user":  # a user who signed up during the load (their wallet counts too)
                    usernames.add(rest)
                elif kind == "answered":
                    answered.add(int(rest))
                elif kind == "status":
                    status, count = rest.split(" ")
                    statuses[status] = statuses.get(status, 0) + int(count)
    usernames |= {username for username, _ in sent_web}
    return {
        "sent": sent,
        "answered": answered,
        "statuses": statuses,
        "sent_web": sent_web,
        "usernames": usernames,
    }


def check(fund_ids: list[int], sent: dict, answered: set[int]) -> dict:
    """One target's pledges against the database: the pledge rows, transfers and money of these funds.

    `sent` maps (user id, key) to (amount, fund id or None: the only fund); `answered` holds the
    pledge ids the client was answered 201 with.
    """
    from django.db.models import Sum

    from bounties.models import (
        Account,
        AccountKind,
        Entry,
        Fund,
        Pledge,
        PledgeStatus,
        Transfer,
        TransferKind,
    )

    pledges = {p["id"]: p for p in Pledge.objects.filter(fund_id__in=fund_ids).values()}
    active = {pk: p for pk, p in pledges.items() if p["status"] == PledgeStatus.ACTIVE}
    by_key = {(p["user_id"], p["key"]): p for p in pledges.values()}
    only_fund = fund_ids[0] if len(fund_ids) == 1 else None

    transfers = Transfer.objects.filter(kind=TransferKind.PLEDGE, fund_id__in=fund_ids)
    wallet_debits = -(
        Entry.objects.filter(transfer__in=transfers, account__kind=AccountKind.WALLET).aggregate(
            s=Sum("amount")
        )["s"]
        or 0
    )
    active_cents = sum(p["amount_cents"] for p in active.values())
    pledged = dict(Fund.objects.filter(pk__in=fund_ids).values_list("pk", "pledged_cents"))
    escrow = dict(
        Account.objects.filter(kind=AccountKind.ESCROW, fund_id__in=fund_ids).values_list(
            "fund_id", "balance"
        )
    )
    active_by_fund = {fund_id: 0 for fund_id in fund_ids}
    for p in active.values():
        active_by_fund[p["fund_id"]] += p["amount_cents"]

    # Lost: the client was told 201 (an id) but the pledge is not there, or holds no money.
    lost = sorted(pk for pk in answered if pk not in active or active[pk]["transfer_id"] is None)
    # Doubled: more pledge transfers than pledges, or more money left the wallets than the pledges hold.
    doubled_transfers = (
        transfers.count() - Pledge.objects.filter(fund_id__in=fund_ids, transfer__isnull=False).count()
    )
    return {
        "fund_ids": fund_ids,
        "keys_sent": len(sent),
        "answered_201": len(answered),
        "pledge_rows": len(pledges),
        "active_pledges": len(active),
        "pledge_transfers": transfers.count(),
        "unanswered_rows": sorted(pk for pk in pledges if pk not in answered),
        "phantom_rows": sorted(p["id"] for key, p in by_key.items() if key not in sent),
        "amount_mismatch": sorted(
            p["id"] for key, p in by_key.items() if key in sent and sent[key][0] != p["amount_cents"]
        ),
        # A pledge row in another of these funds than the request's path named.
        "wrong_fund": sorted(
            p["id"]
            for key, p in by_key.items()
            if key in sent and (sent[key][1] or only_fund) not in (None, p["fund_id"])
        ),
        "lost": lost,
        "doubled_transfers": doubled_transfers,
        "wallet_debits_cents": wallet_debits,
        "active_pledges_cents": active_cents,
        "fund_pledged_cents": sum(pledged.values()),
        "escrow_cents": sum(escrow.values()),
        # Funds whose pledged_cents or escrow balance is not the sum of their own active pledges.
        "funds_unbalanced": sorted(
            fund_id
            for fund_id, cents in active_by_fund.items()
            if not pledged.get(fund_id, 0) == escrow.get(fund_id, 0) == cents
        ),
    }


def verify(seed_path: str, load_paths: list[str], funds_load_paths: list[str] = ()) -> dict:
    """The hot fund's check at the top level (its `--load` files); the spread target's under "funds".

    `wallet_outflow_cents` (deposits minus balances, over all the bench's backers) is what
    left the wallets for every target together: with a "funds" part, compare it with
    `wallet_debits_all_cents` and `active_pledges_all_cents`.
    """
    _django()
    from django.contrib.auth import get_user_model
    from django.db.models import Sum

    from bounties.models import Account, AccountKind, Deposit, DepositStatus, Pledge, PledgeStatus

    with open(seed_path) as f:
        seeded = json.load(f)
    user_ids = {u["index"]: u["id"] for u in seeded["users"]}

    def by_user_id(load):
        return {(user_ids[index], key): value for (index, key), value in load["sent"].items()}

    load = read_load(load_paths)
    signed_up = dict(
        get_user_model().objects.filter(username__in=load["usernames"]).values_list("username", "pk")
    )
    sent = by_user_id(load)
    sent.update(
        {
            (signed_up[name], key): value
            for (name, key), value in load["sent_web"].items()
            if name in signed_up
        }
    )
    result = check([seeded["fund_id"]], sent, load["answered"])
    result["signed_up_users"] = len(signed_up)
    result["unknown_usernames"] = sorted(load["usernames"] - set(signed_up))
    result["web_keys_sent"] = len(load["sent_web"])
    result["statuses"] = load["statuses"]
    parts = [result]
    if funds_load_paths:
        spread = read_load(funds_load_paths)
        funds = check(list(seeded.get("fund_ids") or []), by_user_id(spread), spread["answered"])
        funds["statuses"] = spread["statuses"]
        result["funds"] = funds
        parts.append(funds)

    backer_ids = [*user_ids.values(), *signed_up.values()]
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
    result["wallet_outflow_cents"] = deposited - in_wallets
    # Pledges these backers hold in funds no part checks (soak.py's vote fund, made before the load):
    # money that left the wallets too, but not through the load.
    checked = (
        [seeded["fund_id"], *(seeded.get("fund_ids") or [])] if funds_load_paths else [seeded["fund_id"]]
    )
    result["outside_pledges_cents"] = (
        Pledge.objects.filter(user_id__in=backer_ids, status=PledgeStatus.ACTIVE)
        .exclude(fund_id__in=checked)
        .aggregate(s=Sum("amount_cents"))["s"]
        or 0
    )
    result["wallet_debits_all_cents"] = sum(part["wallet_debits_cents"] for part in parts)
    result["active_pledges_all_cents"] = sum(part["active_pledges_cents"] for part in parts)
    return result


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
    p.add_argument("--funds", type=int, default=0, help="other open funds to make sure exist (default 0)")
    p.add_argument("--out", required=True)
    p = sub.add_parser("verify")
    p.add_argument("--seed", required=True)
    p.add_argument("--load", action="append", default=[], help="the hot fund's load files")
    p.add_argument("--funds-load", action="append", default=[], help="load files spread over fund_ids")
    p.add_argument("--out", help="write the JSON here (default: stdout)")
    p = sub.add_parser("session")
    p.add_argument("--user", default="ada")
    args = parser.parse_args(argv)
    if args.command == "session":
        session(args.user)
    elif args.command == "seed":
        seed(args.users, args.balance_cents, args.out, args.fund, args.funds)
    else:
        result = json.dumps(verify(args.seed, args.load, args.funds_load))
        if args.out:
            with open(args.out, "w") as f:
                f.write(result)
        else:
            print(result)


if __name__ == "__main__":
    main()
