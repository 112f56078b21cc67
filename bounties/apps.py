from django.apps import AppConfig


class BountiesConfig(AppConfig):
    name = "bounties"
    verbose_name = "Bounties"

    def ready(self):
        # Connect the publish receivers, and register the email and webhook audiences and senders
        # with the outbox (bounties.announcers.registry).
        from bounties import signals  # noqa: F401
        from bounties.announcers import email, webhook  # noqa: F401

        # The local gateway hands its signed events to the webhook code, as Stripe posts them to the endpoint.
        from bounties.payments import local_gateway, webhooks

        local_gateway.connect_receiver(webhooks.receive)
