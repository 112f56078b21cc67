"""Feedback sent through the site's form, and mentions of the site found on X and Hacker News.

Neither holds money or page content: staff read them in the admin (`feedback/admin.py`) and only
change a feedback's status and note, or a mention's `seen` flag.
"""

from django.db import models


class FeedbackStatus(models.TextChoices):
    NEW = "new", "New"
    READ = "read", "Read"
    DONE = "done", "Done"


class Feedback(models.Model):
    """One message from the feedback form, with the page it was sent from.

    The sender is anonymous unless they leave an email; nothing ties a row to an account, so the
    form can be offered on every (cached) page alike.
    """

    message = models.TextField()
    email = models.EmailField(blank=True, help_text="Where the sender would like an answer, if anywhere.")
    page_url = models.CharField(
        "sent from", max_length=500, blank=True, help_text="The site path the sender was reading."
    )
    status = models.CharField(max_length=8, choices=FeedbackStatus.choices, default=FeedbackStatus.NEW)
    staff_note = models.TextField(blank=True, help_text="For staff only: what was done about it.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "feedback"

    def __str__(self):
        first_line = self.message.strip().splitlines()[0] if self.message.strip() else ""
        return first_line[:60] or f"Feedback {self.pk}"


class MentionSource(models.TextChoices):
    X = "x", "X"
    HN = "hn", "Hacker News"


class Mention(models.Model):
    """A post or comment elsewhere that names the site or a fund's hashtag.

    `(source, external_id)` is unique, so two polls that overlap (or run at once) store a post once.
    """

    source = models.CharField(max_length=4, choices=MentionSource.choices)
    external_id = models.CharField(max_length=64, help_text="The post's id at its source.")
    # A link read from the source, never typed in a form (so no URLField and its scheme guessing).
    url = models.CharField(max_length=500, help_text="Where to read it.")
    author = models.CharField(max_length=100, blank=True)
    text = models.TextField(blank=True)
    created_at = models.DateTimeField(db_index=True, help_text="When it was posted at its source.")
    fund = models.ForeignKey(
        "bounties.FundPage",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The fund it is about, when its hashtag or link names one.",
    )
    seen = models.BooleanField(default=False, help_text="An editor has read it.")
    found_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="mention_once_per_source"),
        ]

    def __str__(self):
        return f"{self.get_source_display()} {self.author}: {self.text[:60]}"


class MentionPoll(models.Model):
    """Where each source's polling stands: its last successful run, and how long a rate limit defers the next.

    One row per source. A 429 writes `deferred_until` (the source's reset time) and the next run
    returns at once until then: the worker never sleeps on a rate limit. An outage writes nothing
    here (the log says it), so the next run simply tries again.
    """

    source = models.CharField(max_length=4, choices=MentionSource.choices, primary_key=True)
    deferred_until = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.get_source_display()} polling"
