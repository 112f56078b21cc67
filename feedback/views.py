"""The feedback page. Every page's footer links here (`/feedback/?from=<its path>`), because a
cached page is the same for everyone and can carry no CSRF token (pagecache refuses to store one):
this page is never cached, and its form has the token. Thin, as elsewhere: parse, call the
service, say what happened.
"""

from django.conf import settings
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import is_ratelimited

from feedback.forms import FeedbackForm, local_path
from feedback.services import feedback_submit


def _page(request, form, *, status=200, refusal=""):
    return render(
        request,
        "feedback/feedback.html",
        {"form": form, "from_path": local_path(form["page_url"].value()), "refusal": refusal},
        status=status,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def feedback_view(request):
    """GET: the form, remembering the page it was opened from. POST: store it, or say why not."""
    if request.method == "GET":
        return _page(request, FeedbackForm(initial={"page_url": local_path(request.GET.get("from", ""))}))
    form = FeedbackForm(request.POST)
    rate = settings.FEEDBACK_RATE_LIMIT
    if rate and is_ratelimited(request, group="feedback", key="ip", rate=rate, method="POST", increment=True):
        response = _page(
            request,
            form,
            status=429,
            refusal="Too many messages from your network in the last hour; nothing was sent. "
            "Try again later.",
        )
        response["Retry-After"] = "3600"
        return response
    if form.is_bot():
        # The form again with the message kept and the trap emptied: a person can send it at once.
        data = request.POST.copy()
        data["website"] = ""
        return _page(
            request,
            FeedbackForm(data),
            status=400,
            refusal="This message was not sent: a field that people leave empty (and do not see) "
            "was filled in, as bots do. It is empty now; if you are a person, send it again.",
        )
    if not form.is_valid():
        return _page(request, form, status=400)
    feedback_submit(
        message=form.cleaned_data["message"],
        email=form.cleaned_data["email"],
        page_url=form.cleaned_data["page_url"],
    )
    thanks = reverse("feedback_thanks")
    if form.cleaned_data["page_url"]:
        thanks += "?" + urlencode({"from": form.cleaned_data["page_url"]})
    return redirect(thanks)


@never_cache
def feedback_thanks(request):
    return render(request, "feedback/thanks.html", {"from_path": local_path(request.GET.get("from", ""))})
