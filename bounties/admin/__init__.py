"""Read-only Wagtail admin views of the money: transfers, pledges, wallets, deposits, webhook events, outbox.

Money rows are written only by the bounty services, inside their transactions and
beside their ledger entries. An edited pledge or a deleted transfer would break the
ledger's invariants, so these views can list, filter and inspect, and nothing else:
there is no add, edit, copy or delete URL, and the permission policy refuses those
actions to everyone, superusers included. A user sees a view when they are a
superuser or hold `bounties.view_<model>` (the only permission offered in the group
editor); Wagtail's Editors group holds none, so editors do not see money.

The package: `base` (the permission policy that grants only "view", and the read-only
index, inspect and viewset classes every listing shares), `filters` (the listings'
filter sets), `viewsets` (one viewset per listing and the "Money" menu group that
`bounties/wagtail_hooks.py` registers) and `payouts` (the payout queue: visible to Finance
staff and superusers only, whose Approve, Mark paid and Mark failed forms call the payout
services, the one exception to read-only). Nothing here is for `django.contrib.admin`,
which imports this package at start-up and finds no registrations.
"""
