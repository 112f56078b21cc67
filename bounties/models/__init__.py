from .funds import Fund, FundStatus
from .pages import FailurePolicy, FundIndexPage, FundPage, FundUpdatePage

__all__ = ["FailurePolicy", "Fund", "FundIndexPage", "FundPage", "FundStatus", "FundUpdatePage"]
