"""JSON API v1 for creators: propose a fund, and follow one's proposals through review.

A proposal is a draft fund page owned by its creator and submitted to Wagtail's "Fund review"
workflow (`bounties.services.proposals.proposal_submit`): it is in no public list and its page
answers 404 until an editor approves it. The creator follows it at `GET /api/v1/me/proposals/`.
Listing funds stays public; proposing one needs a token and counts against the creator's hourly
limit, shared with the site's forms.
"""

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import SAFE_METHODS, AllowAny, IsAuthenticated
from rest_framework.response import Response

from bounties import selectors
from bounties.api import proposal_serializers as s
from bounties.api.parsers import JSONParser
from bounties.api.views import BAD_PAGE, NOT_AUTHENTICATED, FundListView, _error
from bounties.errors import ProposalInvalid
from bounties.ratelimits import check_creator_rate
from bounties.services.proposals import proposal_submit

INVALID_PROPOSAL = _error(
    "A field is missing or breaks a rule (the site's limits on the goal and dates, an escrow date "
    "before the pledge deadline, a beneficiary to name); details.fields maps each field to its "
    "messages, `__all__` for the body as a whole",
    "invalid_proposal",
    "invalid_json",
)


def _validated(data) -> dict:
    """The proposal's fields, or ProposalInvalid with each field's messages, as the service refuses."""
    serializer = s.ProposalRequestSerializer(data=data)
    if serializer.is_valid():
        return serializer.validated_data
    fields = {}
    for name, messages in serializer.errors.items():
        # DRF's key for a body that is not an object, Django's (and the service's) for the whole.
        key = "__all__" if name == "non_field_errors" else name
        fields[key] = [str(message) for message in (messages if isinstance(messages, list) else [messages])]
    raise ProposalInvalid(fields=fields)


PROPOSE = """Propose a new fund: it is created as a draft owned by you and sent to the editors at once.

The answer says `in_review`. The fund is not listed, and its page is not public, until an editor
approves it; `GET /api/v1/me/proposals/` (the `Location` header) follows its review. Amounts are
integer cents, dates ISO 8601. No image can be sent through the API: add one on the site.
"""


class FundListCreateView(FundListView):
    """Every published, public fund, newest first."""

    # The docstring is GET's description in the schema, as in `FundListView`; POST (`PROPOSE`)
    # proposes a fund and needs a token, while GET stays public.
    parser_classes = [JSONParser]

    def get_permissions(self):
        return [AllowAny()] if self.request.method in SAFE_METHODS else [IsAuthenticated()]

    @extend_schema(
        operation_id="fund_propose",
        description=PROPOSE,
        request=s.ProposalRequestSerializer,
        parameters=[
            OpenApiParameter(
                "Location",
                str,
                OpenApiParameter.HEADER,
                response=[201],
                description="Where the creator follows the proposal: /api/v1/me/proposals/.",
            )
        ],
        responses={
            201: OpenApiResponse(
                s.ProposalSerializer, description="Submitted for review: status `in_review`"
            ),
            400: INVALID_PROPOSAL,
            401: NOT_AUTHENTICATED,
            409: _error(
                "As many proposals wait for review as the site allows, or the site takes none yet",
                "too_many_proposals",
                "proposal_not_editable",
            ),
            429: _error(
                "Too many proposals, news posts and terms changes in the last hour (header Retry-After)",
                "rate_limited",
            ),
        },
    )
    def post(self, request):
        check_creator_rate(request)
        submitted = proposal_submit(user=request.user, fields=_validated(request.data))
        proposal = selectors.proposals(user=request.user, page_id=submitted.page.pk)[0]
        return Response(
            s.ProposalSerializer(proposal, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api:my-proposal-list")},
        )


class MyProposalListView(generics.ListAPIView):
    """The signed-in creator's proposals and funds, newest first, each with where it stands in review.

    `status` is `in_review` while an editor has it, `changes_requested` with the editor's `comment`,
    `approved` with a `go_live_at` still ahead, `live` with the fund's public `url`.
    """

    serializer_class = s.ProposalSerializer

    def get_queryset(self):
        return selectors.proposals(user=self.request.user)

    @extend_schema(
        operation_id="my_proposals_list",
        responses={200: s.ProposalSerializer, 400: BAD_PAGE, 401: NOT_AUTHENTICATED},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
