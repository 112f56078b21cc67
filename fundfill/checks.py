"""Start-up checks: a missing or contradictory setting fails at start, naming it."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=False)
def payment_settings(app_configs, **kwargs):
    errors = []
    gateway = settings.PAYMENT_GATEWAY
    if gateway not in ("local", "stripe"):
        errors.append(Error(f"PAYMENT_GATEWAY is {gateway!r}; use 'local' or 'stripe'.", id="fundfill.E001"))
    if gateway == "stripe":
        for name in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"):
            if not getattr(settings, name):
                errors.append(
                    Error(f"{name} is required when PAYMENT_GATEWAY is 'stripe'.", id="fundfill.E002")
                )
    if (
        gateway == "local"
        and not settings.DEBUG
        and getattr(settings, "FUNDFILL_REQUIRE_REAL_PAYMENTS", False)
    ):
        errors.append(
            Error(
                "PAYMENT_GATEWAY is 'local' (test cards) but real payments are required.", id="fundfill.E003"
            )
        )
    if (
        settings.FUNDFILL_MIN_PLEDGE_CENTS <= 0
        or settings.FUNDFILL_MIN_PLEDGE_CENTS > settings.FUNDFILL_MAX_PLEDGE_CENTS
    ):
        errors.append(
            Error(
                "FUNDFILL_MIN_PLEDGE_CENTS must be positive and not above FUNDFILL_MAX_PLEDGE_CENTS.",
                id="fundfill.E004",
            )
        )
    if getattr(settings, "FUNDFILL_FAULTS", ()) and not getattr(settings, "FUNDFILL_ALLOW_FAULTS", False):
        errors.append(
            Error("FUNDFILL_FAULTS is a test-only switch and must be empty here.", id="fundfill.E005")
        )
    return errors


@register(deploy=False)
def payout_settings(app_configs, **kwargs):
    return [
        Error(f"{name} is {getattr(settings, name)}; it must be 0 or more.", id="fundfill.E006")
        for name in ("PAYOUT_HOLD_DAYS", "PAYOUT_DUAL_APPROVAL_CENTS")
        if getattr(settings, name) < 0
    ]


# Channels that are audiences, not announcers: always on for whoever subscribed or registered.
AUDIENCE_CHANNELS = {"email", "webhook", "webhooks"}


@register(deploy=False)
def announcer_settings(app_configs, **kwargs):
    """Each channel named in ANNOUNCERS must exist and have its keys (bounties.announcers.base)."""
    from bounties.announcers.base import REGISTRY, enabled_names, missing_settings

    errors = []
    for name in enabled_names():
        if name not in REGISTRY:
            hint = None
            if name in AUDIENCE_CHANNELS:
                hint = (
                    f"{name.capitalize()} needs no naming here: it goes to the people and endpoints "
                    "that asked for it (bounties.announcers.registry)."
                )
            errors.append(
                Error(
                    f"ANNOUNCERS names {name!r}; use any of {', '.join(REGISTRY)}.",
                    hint=hint,
                    id="fundfill.E010",
                )
            )
            continue
        errors.extend(
            Error(f"{setting} is required when ANNOUNCERS includes {name!r}.", id="fundfill.E011")
            for setting in missing_settings(name)
        )
    return errors


@register(deploy=False)
def outbox_settings(app_configs, **kwargs):
    """A delivery's lease must outlast the worker's task timeout, or a slow send is claimed (and sent) twice."""
    lease = settings.OUTBOX_LEASE_SECONDS
    timeout = settings.Q_CLUSTER.get("timeout") or 0
    if lease <= timeout:
        return [
            Error(
                f"OUTBOX_LEASE_SECONDS is {lease:g}; it must be longer than the worker's task timeout "
                f"(Q_CLUSTER['timeout'] = {timeout}), or a slow delivery can be sent twice.",
                id="fundfill.E012",
            )
        ]
    return []
