from .funds import Fund, FundStatus
from .ledger import Account, AccountKind, Entry, Transfer, TransferKind
from .outbox import Outbox, OutboxStatus
from .pages import FailurePolicy, FundIndexPage, FundPage, FundUpdatePage
from .payments import Deposit, DepositStatus, WebhookEvent, WebhookOutcome
from .pledges import Pledge, PledgeStatus

__all__ = [
    "Account",
    "AccountKind",
    "Deposit",
    "DepositStatus",
    "Entry",
    "FailurePolicy",
    "Fund",
    "FundIndexPage",
    "FundPage",
    "FundStatus",
    "FundUpdatePage",
    "Outbox",
    "OutboxStatus",
    "Pledge",
    "PledgeStatus",
    "Transfer",
    "TransferKind",
    "WebhookEvent",
    "WebhookOutcome",
]
