import pytest

from pagecache import generation, memo
from tests.factories import FundPageFactory, UserFactory, build_site


@pytest.fixture
def site_tree(db):
    home, index = build_site()
    return home, index


@pytest.fixture
def home_page(site_tree):
    return site_tree[0]


@pytest.fixture
def fund_index(site_tree):
    return site_tree[1]


@pytest.fixture
def make_fund(fund_index):
    def make(**kwargs):
        return FundPageFactory(parent=fund_index, **kwargs)

    return make


@pytest.fixture
def fund(make_fund):
    return make_fund(
        title="Audit TrueCrypt", slug="audit-truecrypt", summary="An independent audit of TrueCrypt."
    )


@pytest.fixture
def user(db):
    return UserFactory(username="alice")


@pytest.fixture
def page_cache(settings):
    """The anonymous page cache switched on (test settings leave it off), on the run's Redis, empty.

    Bumping the generation empties it for this test without touching other xdist workers' keys.
    """
    settings.PAGE_CACHE = True
    generation.bump_generation()
    return generation


@pytest.fixture(autouse=True)
def _fresh_page_memo():
    """Each test starts with nothing remembered: a rolled-back test's pages must not outlive it."""
    memo.forget()
    yield
    memo.forget()
