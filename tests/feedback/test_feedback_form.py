"""The feedback form: reached from every page's footer, stored once sent, refused (storing nothing)
for a bot or a flood, and without harm to the page cache, which keeps serving one page to everyone."""

import uuid

import pytest
from django.core import mail
from django.test import Client

from feedback.models import Feedback, FeedbackStatus
from pagecache.middleware import HEADER
from tests.factories import UserFactory
from tests.pages_html import parse_html

pytestmark = pytest.mark.django_db

FUND_PATH = "/funds/audit-truecrypt/"


def footer_link(html: bytes) -> str:
    footer = parse_html(html).find("footer", class_="site-footer")
    (link,) = [a for a in footer.find_all("a") if a.text.strip() == "Send feedback"]
    return link.get("href")


def unique_ip() -> str:
    """An address of this test alone: the rate-limit counters live in the run's shared Redis."""
    n = uuid.uuid4().int
    return f"10.{n % 250}.{n // 250 % 250}.{n // 62500 % 250 + 1}"


def test_a_reader_sends_feedback_from_a_fund_page_and_is_thanked(client, fund):
    # The fund page's footer links to the feedback page, naming the page.
    link = footer_link(client.get(FUND_PATH).content)
    assert link == "/feedback/?from=%2Ffunds%2Faudit-truecrypt%2F"

    form_page = client.get(link)
    assert form_page.status_code == 200
    form = parse_html(form_page.content).find("form", class_="feedback-form")
    assert form.find("input", name="page_url").get("value") == FUND_PATH
    assert form.find("input", name="csrfmiddlewaretoken")  # this page is never cached

    response = client.post(
        "/feedback/",
        {
            "message": "  The pledge button is hidden on my phone.  ",
            "email": "ana@example.com",
            "page_url": FUND_PATH,
        },
        follow=True,
    )
    assert response.redirect_chain == [(f"/feedback/thanks/?from={FUND_PATH.replace('/', '%2F')}", 302)]
    page = parse_html(response.content)
    assert page.find("h1").text == "Thank you"
    assert page.find("main").find("a", href=FUND_PATH).text == "Back to the page you were on"

    (feedback,) = Feedback.objects.all()
    assert (feedback.message, feedback.email, feedback.page_url, feedback.status) == (
        "The pledge button is hidden on my phone.",
        "ana@example.com",
        FUND_PATH,
        FeedbackStatus.NEW,
    )


@pytest.mark.parametrize(
    "data, field, error",
    [
        ({"message": "   "}, "message", "Write a message first."),
        ({"message": "x" * 5001}, "message", "Ensure this value has at most 5000 characters (it has 5001)."),
        ({"message": "Hi", "email": "not-an-address"}, "email", "Enter a valid email address."),
    ],
    ids=["blank", "too-long", "bad-email"],
)
def test_bad_input_is_a_form_error_and_stores_nothing(client, data, field, error):
    response = client.post("/feedback/", data)
    assert response.status_code == 400
    errors = parse_html(response.content).find(id=f"id_{field}_error")
    assert errors.text.strip() == error
    assert not Feedback.objects.exists()


def test_a_message_with_a_nul_byte_is_a_form_error(client):
    response = client.post("/feedback/", {"message": "Hi\x00there"})
    assert response.status_code == 400
    assert "Null characters are not allowed." in parse_html(response.content).find(id="id_message_error").text
    assert not Feedback.objects.exists()


@pytest.mark.parametrize(
    "page_url", ["//evil.example/x", "https://evil.example/phish", "/funds/\x00", "funds/"]
)
def test_a_page_url_that_is_not_a_path_here_is_dropped_and_the_message_kept(client, page_url):
    form_page = parse_html(client.get("/feedback/", {"from": page_url}).content)
    assert form_page.find("input", name="page_url").get("value") in (None, "")
    assert client.post("/feedback/", {"message": "Hello", "page_url": page_url}).status_code == 302
    assert Feedback.objects.get().page_url == ""


def test_a_filled_honeypot_is_refused_with_a_clear_answer_and_stores_nothing(client):
    response = client.post("/feedback/", {"message": "Cheap pills", "website": "https://spam.example"})
    assert response.status_code == 400
    alert = parse_html(response.content).find("p", class_="form-errors")
    assert "This message was not sent" in alert.text and "if you are a person, send it again" in alert.text
    assert not Feedback.objects.exists()
    # A person who filled it by mistake finds their message kept and the trap emptied.
    refused = parse_html(response.content).find("form", class_="feedback-form")
    assert refused.find("textarea", name="message").text.strip() == "Cheap pills"
    assert refused.find("input", name="website").get("value") in (None, "")
    # People never see the field: it sits in a `hidden` wrapper.
    form = parse_html(client.get("/feedback/").content).find("form", class_="feedback-form")
    assert "hidden" in form.find("input", name="website").parent.attrs


def test_too_many_messages_from_one_address_are_refused_and_store_nothing(settings):
    settings.FEEDBACK_RATE_LIMIT = "2/h"
    ip, other = unique_ip(), unique_ip()
    client = Client(REMOTE_ADDR=ip)
    for n in range(2):
        assert client.post("/feedback/", {"message": f"Note {n}"}).status_code == 302

    refused = client.post("/feedback/", {"message": "Note 3"})

    assert refused.status_code == 429
    assert refused["Retry-After"] == "3600"
    alert = parse_html(refused.content).find("p", class_="form-errors")
    assert "Too many messages from your network" in alert.text and "nothing was sent" in alert.text
    assert list(Feedback.objects.order_by("pk").values_list("message", flat=True)) == ["Note 0", "Note 1"]
    # Another address is not held back.
    assert Client(REMOTE_ADDR=other).post("/feedback/", {"message": "Mine"}).status_code == 302


def test_staff_are_emailed_after_commit_when_an_address_is_set(
    client, settings, django_capture_on_commit_callbacks
):
    settings.FEEDBACK_EMAIL_TO = ["staff@fundfill.example"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/feedback/", {"message": "The receipt email never came.", "page_url": "/wallet/"})

    (email,) = mail.outbox
    feedback = Feedback.objects.get()
    assert email.to == ["staff@fundfill.example"]
    assert email.subject == "Feedback: The receipt email never came."
    assert f"Sent from: {settings.SITE_URL}/wallet/" in email.body
    assert f"/admin/feedback/edit/{feedback.pk}/" in email.body


def test_no_email_without_an_address(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/feedback/", {"message": "Nice site."})
    assert Feedback.objects.count() == 1
    assert mail.outbox == []


def test_the_cached_page_with_the_footer_link_is_the_same_for_everyone(page_cache, fund):
    reader = Client()
    first = reader.get(FUND_PATH)
    assert first[HEADER] == "miss"
    assert "csrfmiddlewaretoken" not in first.content.decode()

    # The next reader gets the stored bytes.
    second = Client().get(FUND_PATH)
    assert second[HEADER] == "hit"
    assert second.content == first.content
    # Someone who sent feedback (and so holds a CSRF cookie) gets the same page as everyone: the
    # form put nothing of theirs in it.
    sender = Client()
    sender.get("/feedback/")
    sender.post("/feedback/", {"message": "Hello"})
    assert "csrftoken" in sender.cookies
    assert sender.get(FUND_PATH).content == first.content
    # A signed-in backer's page (never cached) carries the same link.
    backer = Client()
    backer.force_login(UserFactory(username="bea"))
    assert footer_link(backer.get(FUND_PATH).content) == "/feedback/?from=%2Ffunds%2Faudit-truecrypt%2F"
