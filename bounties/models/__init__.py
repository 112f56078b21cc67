from .claims import Claim, Claimant, ClaimStatus, ClaimWeight, EventKind, TimelineEvent, Vote
from .creators import CreatorSettings
from .follows import EmailPreference, Follower, WebhookEndpoint
from .funds import Fund, FundStatus
from .ledger import Account, AccountKind, Entry, Transfer, TransferKind
from .outbox import Outbox, OutboxStatus
from .pages import FailurePolicy, FundIndexPage, FundPage, FundUpdatePage
from .payments import Deposit, DepositStatus, WebhookEvent, WebhookOutcome
from .payouts import Cashout, ConnectedAccount, Payout, PayoutStatus, Refund, RefundStatus
from .pledges import Pledge, PledgeStatus, SettlementChoice
from .terms import FundTerms

__all__ = [
    "Account",
    "AccountKind",
    "Cashout",
    "Claim",
    "ClaimStatus",
    "ClaimWeight",
    "Claimant",
    "ConnectedAccount",
    "CreatorSettings",
    "Deposit",
    "DepositStatus",
    "EmailPreference",
    "Entry",
    "EventKind",
    "FailurePolicy",
    "Follower",
    "Fund",
    "FundIndexPage",
    "FundPage",
    "FundStatus",
    "FundTerms",
    "FundUpdatePage",
    "Outbox",
    "OutboxStatus",
    "Payout",
    "PayoutStatus",
    "Pledge",
    "PledgeStatus",
    "Refund",
    "RefundStatus",
    "SettlementChoice",
    "TimelineEvent",
    "Transfer",
    "TransferKind",
    "Vote",
    "WebhookEndpoint",
    "WebhookEvent",
    "WebhookOutcome",
]
