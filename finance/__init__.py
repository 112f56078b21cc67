"""The Finance team's admin: stuck money found and fixed, a user's money story, reports, and each
fund's money timeline, all in the Wagtail admin through its public API.

Reads are in `finance.selectors`; the support actions (`finance.services`) go through the bounty
services and write Wagtail's audit log in the same transaction. Only Finance staff and superusers
(`bounties.services.payouts.is_finance`) see or use any of it. This app imports `bounties`;
nothing in `bounties` imports it.
"""
