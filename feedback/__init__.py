"""Feedback: what readers tell the site, and what people say about it on X and Hacker News.

- `/feedback/` (every page's footer links to it with `?from=<path>`): the form, stored as `Feedback`,
  listed in the admin's Feedback menu, emailed to `FEEDBACK_EMAIL_TO` when set.
- `Mention`s: polled every 5 minutes by the worker (and by `manage.py poll_mentions`), shown on the
  admin dashboard and in the Feedback menu.

Settings (fundfill/settings/base.py, all from the environment):

| setting | what it does |
|---|---|
| `FEEDBACK_RATE_LIMIT` | messages one address may send (django-ratelimit rate, default `10/h`; empty: no limit) |
| `FEEDBACK_EMAIL_TO` | comma list of staff addresses emailed each message (empty: none) |
| `TWITTER_BEARER_TOKEN` | the X app's bearer token (app-only auth), which recent search needs; empty: X is not polled |
| `TWITTER_API_BASE` | shared with the announcer: sends tweepy's requests elsewhere (tests) |
| `HN_SEARCH_API_BASE` | the Algolia HN search API's base (default `https://hn.algolia.com/api/v1`) |
| `SITE_URL` | its host name is what both searches look for |
"""
