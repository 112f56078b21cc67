"""JSON API v1 for claims, votes and settlement choices: thin views over the claim services.

Reading a claim is public, for claims on public funds only (any other answers 404, as the
fund endpoints do). Submitting, voting, withdrawing and choosing a settlement need a token;
each calls one service (`bounties.services.claims`, `bounties.services.settlement`), whose
refusals reach the client through `bounties.api.errors` with their code and "No money moved.".
A malformed body is refused the same way, with the service's code for that field.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from bounties import selectors
from bounties.api import claim_serializers as s
from bounties.api.errors import validated
from bounties.api.parsers import JSONParser
from bounties.api.views import BAD_PAGE, NOT_AUTHENTICATED, NOT_FOUND, TRY_AGAIN, _error
from bounties.errors import NotFound
from bounties.services.claims import claim_submit, claim_withdraw, vote_cast
from bounties.services.settlement import settlement_choose


def _public_fund_or_404(pk):
    if not selectors.public_funds().filter(pk=pk).exists():
        raise NotFound("There is no such public fund.")


def _public_claim_or_404(pk):
    claim = selectors.claim_get(claim_id=pk)
    if claim is None:
        raise NotFound("There is no such claim on a public fund.")
    return claim


class FundClaimsView(generics.ListCreateAPIView):
    """A public fund's claims, newest first (anyone); or submit a claim that the work is done.

    A claim opens a vote of the fund's backers, weighted by what each had in escrow at
    submission (the claimants' own pledges carry none). `co_claimants` share the award: the
    submitter takes what their basis points leave, or lists themselves to give every share
    (adding up to 10,000). Moves no money: an accepted claim's award does, when a vote decides it.
    """

    serializer_class = s.ClaimSerializer
    parser_classes = [JSONParser]

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "GET" else [IsAuthenticated()]

    def get_queryset(self):
        _public_fund_or_404(self.kwargs["pk"])
        return selectors.fund_claims(fund_id=self.kwargs["pk"])

    @extend_schema(
        operation_id="fund_claims_list", responses={200: s.ClaimSerializer, 400: BAD_PAGE, 404: NOT_FOUND}
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="claim_create",
        request=s.ClaimRequestSerializer,
        responses={
            201: OpenApiResponse(s.ClaimSerializer, description="Submitted: status `voting`"),
            400: _error(
                "A statement and link are needed; co-claimants must be registered users with shares "
                "adding up to 10,000",
                "invalid_claim",
                "shares_invalid",
                "invalid_request",
                "invalid_json",
            ),
            401: NOT_AUTHENTICATED,
            404: NOT_FOUND,
            409: _error(
                "The fund takes no claims (not open, escrow date passed) or has no other backers",
                "fund_not_open",
                "no_backers",
            ),
            503: TRY_AGAIN,
        },
    )
    def post(self, request, pk):
        _public_fund_or_404(pk)
        data = validated(s.ClaimRequestSerializer, request.data)
        claim = claim_submit(
            user=request.user,
            fund_id=pk,
            statement=data["statement"],
            url=data["url"],
            co_claimants=[
                (member["username"], member["share_bp"]) for member in data.get("co_claimants", [])
            ],
        )
        claim = selectors.claim_get(claim_id=claim.pk) or claim
        return Response(s.ClaimSerializer(claim).data, status=status.HTTP_201_CREATED)


class ClaimDetailView(APIView):
    """One claim on a public fund with its tally and public timeline (anyone); or withdraw your own.

    Only the submitter may withdraw, and only while the claim is under vote; the fund takes
    pledges and claims again if no other claim is under vote. Another user's claim answers 404.
    """

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "GET" else [IsAuthenticated()]

    @extend_schema(operation_id="claim_retrieve", responses={200: s.ClaimDetailSerializer, 404: NOT_FOUND})
    def get(self, request, pk):
        claim = _public_claim_or_404(pk)
        timeline = selectors.timeline(claim_id=claim.pk)
        return Response(s.ClaimDetailSerializer(claim, context={"timeline": timeline}).data)

    @extend_schema(
        operation_id="claim_withdraw",
        responses={
            200: OpenApiResponse(s.ClaimSerializer, description="Withdrawn: status `withdrawn`"),
            401: NOT_AUTHENTICATED,
            404: NOT_FOUND,
            409: _error("The claim is no longer under vote", "claim_closed"),
            503: TRY_AGAIN,
        },
    )
    def delete(self, request, pk):
        claim = claim_withdraw(user=request.user, claim_id=pk)
        return Response(s.ClaimSerializer(selectors.claim_get(claim_id=claim.pk) or claim).data)


class ClaimVoteView(APIView):
    """Vote on a claim with the weight you had in its fund's escrow when it was submitted.

    Voting again changes your vote. To reject, give a reason: it is shown on the claim with your
    username. The answer is the tally after your vote: a vote that settles the result decides the
    claim at once (`accepted` pays the escrow to the claimants; `rejected` reopens the fund).
    """

    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="claim_vote",
        request=s.VoteRequestSerializer,
        responses={
            200: s.VoteResultSerializer,
            400: _error(
                "`approve` must be true or false; a reject needs a reason",
                "reason_required",
                "invalid_request",
                "invalid_json",
            ),
            401: NOT_AUTHENTICATED,
            403: _error(
                "Only backers with money in the fund at submission may vote, and not on their own claim",
                "not_a_backer",
                "own_claim",
            ),
            404: NOT_FOUND,
            409: _error("The claim is no longer under vote", "claim_closed"),
            503: TRY_AGAIN,
        },
    )
    def post(self, request, pk):
        _public_claim_or_404(pk)
        data = validated(s.VoteRequestSerializer, request.data)
        outcome = vote_cast(
            user=request.user, claim_id=pk, approve=data["approve"], reason=data.get("reason", "")
        )
        claim = selectors.claim_get(claim_id=pk) or outcome.claim
        context = {"vote": outcome.vote, "changed": outcome.changed}
        return Response(s.VoteResultSerializer(claim, context=context).data)


class PledgeSettlementView(APIView):
    """Choose where your active pledge goes if its escrow date passes and nobody has won.

    `wallet` (back to your wallet), `card` (back to the card it came from), `beneficiary` (to the
    fund's beneficiary, if the pledge's terms name one) or `fund` (pledged to another open fund,
    given as `fund`). Until you choose, the pledge's terms decide (`default_choice`). It can be
    changed until the pledge is settled. Another user's pledge answers 404, as an unknown one.
    """

    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="pledge_settlement_update",
        request=s.SettlementRequestSerializer,
        responses={
            200: s.PledgeSettlementSerializer,
            400: _error("Not one of the choices, or a bad fund id", "settlement_invalid", "invalid_json"),
            401: NOT_AUTHENTICATED,
            404: NOT_FOUND,
            409: _error(
                "The choice cannot be used for this pledge (already settled, no beneficiary, the other "
                "fund is not open)",
                "settlement_invalid",
            ),
            503: TRY_AGAIN,
        },
    )
    def put(self, request, pk):
        data = validated(s.SettlementRequestSerializer, request.data)
        pledge = settlement_choose(
            user=request.user, pledge_id=pk, choice=data["choice"], fund_id=data.get("fund")
        )
        return Response(s.PledgeSettlementSerializer(pledge).data)
