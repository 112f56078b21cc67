"""The Wagtail admin's money views are read-only, filterable, and hidden from editors; funded pages cannot be deleted."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from wagtail import hooks

from bounties.admin.base import MONEY_MODELS
from bounties.models import Account, Fund, FundPage, Pledge, Transfer
from bounties.services.pledging import pledge_create
from tests.factories import UserFactory
from tests.money import top_up

pytestmark = pytest.mark.django_db

VIEWSETS = [
    "money_transfers",
    "money_pledges",
    "money_wallets",
    "money_deposits",
    "money_webhook_events",
    "money_outbox",
    "money_claims",
    "money_refunds",
]


@pytest.fixture
def money(fund, make_fund, user):
    """Alice adds $100 and pledges $25 to TrueCrypt; Bob adds $50 and pledges $12.50 to another fund."""
    other = make_fund(title="Port Tor to Rust", slug="tor-rust")
    bob = UserFactory(username="bob")
    top_up(user, 10_000)
    top_up(bob, 5_000)
    alice_pledge = pledge_create(user=user, fund_id=fund.pk, amount_cents=2_500, key="a1").pledge
    bob_pledge = pledge_create(user=bob, fund_id=other.pk, amount_cents=1_250, key="b1").pledge
    return {"alice": user, "bob": bob, "other": other, "alice_pledge": alice_pledge, "bob_pledge": bob_pledge}


def inspect_url(viewset, pk):
    return reverse(f"{viewset}:inspect", args=(pk,))


@pytest.mark.parametrize("viewset", VIEWSETS)
def test_every_money_list_renders_for_a_superuser(admin_client, money, viewset):
    response = admin_client.get(reverse(f"{viewset}:index"))
    assert response.status_code == 200


def test_lists_show_the_money_in_dollars(admin_client, money):
    pledges = admin_client.get(reverse("money_pledges:index")).content.decode()
    assert "$25" in pledges and "$12.50" in pledges
    assert "Audit TrueCrypt" in pledges and "alice" in pledges

    transfers = admin_client.get(reverse("money_transfers:index")).content.decode()
    assert "Money added" in transfers and "$100" in transfers  # Alice's deposit, as one transfer
    assert "$25" in transfers  # her pledge moved $25

    wallets = admin_client.get(reverse("money_wallets:index")).content.decode()
    assert "$75" in wallets  # Alice: $100 in, $25 out to escrow
    assert "$37.50" in wallets  # Bob: $50 in, $12.50 out
    assert "2 wallets" in wallets  # the listing names what it holds, not "accounts"
    # Only wallets are listed, never the funds' escrow accounts.
    escrow = Account.objects.get(kind="escrow", fund_id=money["other"].pk)
    assert inspect_url("money_wallets", escrow.pk) not in wallets
    assert admin_client.get(inspect_url("money_wallets", escrow.pk)).status_code == 404


def test_filter_by_fund_narrows_pledges_and_transfers(admin_client, fund, money):
    response = admin_client.get(reverse("money_pledges:index"), {"fund": fund.pk})
    page = response.content.decode()
    assert inspect_url("money_pledges", money["alice_pledge"].pk) in page
    assert inspect_url("money_pledges", money["bob_pledge"].pk) not in page

    response = admin_client.get(reverse("money_transfers:index"), {"fund": money["other"].pk})
    page = response.content.decode()
    assert inspect_url("money_transfers", money["bob_pledge"].transfer_id) in page
    assert inspect_url("money_transfers", money["alice_pledge"].transfer_id) not in page


def test_filter_by_user_narrows_transfers_pledges_and_wallets(admin_client, money):
    page = admin_client.get(reverse("money_transfers:index"), {"user": "BOB"}).content.decode()
    bob_transfers = Transfer.objects.filter(user=money["bob"])
    assert bob_transfers.count() == 2  # his deposit and his pledge
    for transfer in bob_transfers:
        assert inspect_url("money_transfers", transfer.pk) in page
    assert inspect_url("money_transfers", money["alice_pledge"].transfer_id) not in page

    page = admin_client.get(reverse("money_pledges:index"), {"user": "alice"}).content.decode()
    assert inspect_url("money_pledges", money["alice_pledge"].pk) in page
    assert inspect_url("money_pledges", money["bob_pledge"].pk) not in page

    alice_wallet = Account.objects.get(kind="wallet", user=money["alice"])
    bob_wallet = Account.objects.get(kind="wallet", user=money["bob"])
    page = admin_client.get(reverse("money_wallets:index"), {"fund": money["other"].pk}).content.decode()
    assert inspect_url("money_wallets", bob_wallet.pk) in page  # Bob backs the Rust port
    assert inspect_url("money_wallets", alice_wallet.pk) not in page


def test_filter_by_created_date(admin_client, money):
    url = reverse("money_pledges:index")
    pledge_url = inspect_url("money_pledges", money["alice_pledge"].pk)
    today = timezone.localdate()
    yesterday, tomorrow = today - timedelta(days=1), today + timedelta(days=1)
    assert pledge_url in admin_client.get(url, {"created_from": today, "created_to": today}).content.decode()
    assert pledge_url not in admin_client.get(url, {"created_from": tomorrow}).content.decode()
    assert pledge_url not in admin_client.get(url, {"created_to": yesterday}).content.decode()


def test_search_finds_by_username(admin_client, money):
    page = admin_client.get(reverse("money_pledges:index"), {"q": "bo"}).content.decode()
    assert inspect_url("money_pledges", money["bob_pledge"].pk) in page
    assert inspect_url("money_pledges", money["alice_pledge"].pk) not in page


def test_inspect_shows_a_transfer_entries_in_words(admin_client, money):
    response = admin_client.get(inspect_url("money_transfers", money["alice_pledge"].transfer_id))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Wallet of alice" in page and "-$25" in page
    assert "Escrow of Audit TrueCrypt" in page
    assert admin_client.get(inspect_url("money_pledges", money["alice_pledge"].pk)).status_code == 200


@pytest.mark.parametrize("viewset", VIEWSETS)
@pytest.mark.parametrize("view", ["add", "edit", "delete", "copy", "history", "usage"])
def test_no_write_views_are_routed(viewset, view):
    with pytest.raises(NoReverseMatch):
        reverse(f"{viewset}:{view}", args=() if view == "add" else (1,))


def test_no_add_edit_or_delete_buttons_even_for_a_superuser(admin_client, money):
    pledge = money["alice_pledge"]
    for url in (reverse("money_pledges:index"), inspect_url("money_pledges", pledge.pk)):
        page = admin_client.get(url).content.decode()
        assert "/money/pledges/new/" not in page
        assert "/money/pledges/edit/" not in page
        assert "/money/pledges/delete/" not in page
        assert "Add pledge" not in page


@pytest.mark.parametrize("action", ["edit", "delete", "new", "copy"])
def test_posting_to_a_guessed_write_url_changes_nothing(admin_client, money, action):
    pledge = money["alice_pledge"]
    url = f"/admin/money/pledges/{action}/" + ("" if action == "new" else f"{pledge.pk}/")
    response = admin_client.post(url, {"amount_cents": 1, "status": "withdrawn"})
    assert response.status_code == 404  # not routed at all (ReadOnlyModelViewSet.get_urlpatterns)
    pledge.refresh_from_db()
    assert (pledge.amount_cents, pledge.status) == (2_500, "active")
    assert Pledge.objects.count() == 2
    # The inspect URL is read-only too.
    response = admin_client.post(inspect_url("money_pledges", pledge.pk), {"status": "withdrawn"})
    assert response.status_code == 405
    pledge.refresh_from_db()
    assert pledge.status == "active"


@pytest.mark.parametrize("model", MONEY_MODELS)
def test_the_policy_grants_nothing_but_view_even_to_superusers(admin_user, model):
    from wagtail.permissions import policy_registry

    policy = policy_registry.get_by_type(model)
    assert policy.user_has_permission(admin_user, "view")
    for action in ("add", "change", "delete"):
        assert not policy.user_has_permission(admin_user, action)


def test_only_the_view_permission_of_money_is_offered_to_groups():
    offered = {
        permission.codename
        for hook in hooks.get_hooks("register_permissions")
        for permission in hook()
        if permission.content_type.app_label == "bounties"
    }
    assert {"view_transfer", "view_pledge", "view_account", "view_outbox"} <= offered
    # Webhook endpoints are integrators' configuration and the creators' limits a site setting, both
    # edited in Settings; nothing about money is editable.
    editable = {codename for codename in offered if codename.split("_")[0] in ("add", "change", "delete")}
    assert editable == {
        "add_webhookendpoint",
        "change_webhookendpoint",
        "delete_webhookendpoint",
        "change_creatorsettings",
    }


def make_editor(username="edith"):
    editor = UserFactory(username=username)
    editor.groups.add(Group.objects.get(name="Editors"))
    return editor


def test_editors_do_not_see_money_unless_granted(client, money):
    editor = make_editor()
    client.force_login(editor)
    home = client.get(reverse("wagtailadmin_home"))
    assert home.status_code == 200
    assert "/admin/money/" not in home.content.decode()
    for viewset in VIEWSETS:
        response = client.get(reverse(f"{viewset}:index"))
        # Wagtail's answer to a missing permission: back to the dashboard, with a message.
        assert (response.status_code, response.url) == (302, reverse("wagtailadmin_home")), viewset
    inspect = client.get(inspect_url("money_pledges", money["alice_pledge"].pk))
    assert (inspect.status_code, inspect.url) == (302, reverse("wagtailadmin_home"))


def test_a_granted_view_permission_shows_that_view_only(client, money):
    support = Group.objects.create(name="Support")
    support.permissions.add(
        Permission.objects.get(content_type__app_label="bounties", codename="view_pledge")
    )
    editor = make_editor()
    editor.groups.add(support)
    client.force_login(editor)

    assert client.get(reverse("money_pledges:index")).status_code == 200
    assert client.get(reverse("money_transfers:index")).status_code == 302
    menu = client.get(reverse("wagtailadmin_home")).content.decode()
    assert "/admin/money/pledges/" in menu and "/admin/money/transfers/" not in menu


def test_deleting_a_fund_page_with_pledges_is_refused(admin_client, fund, money):
    url = reverse("wagtailadmin_pages:delete", args=(fund.pk,))
    for response in (admin_client.get(url), admin_client.post(url)):
        assert response.status_code == 302
        assert response.url == reverse("wagtailadmin_pages:edit", args=(fund.pk,))
        messages = [str(m) for m in get_messages(response.wsgi_request)]
        assert any("Not deleted" in m and "Audit TrueCrypt" in m for m in messages)
    assert FundPage.objects.filter(pk=fund.pk).exists()
    assert Fund.objects.get(pk=fund.pk).pledged_cents == 2_500


def test_deleting_the_fund_index_above_a_funded_fund_is_refused(admin_client, fund_index, money):
    response = admin_client.post(reverse("wagtailadmin_pages:delete", args=(fund_index.pk,)))
    assert response.status_code == 302
    assert FundPage.objects.filter(pk=money["other"].pk).exists()


def test_bulk_deleting_a_funded_fund_page_is_refused(admin_client, fund, make_fund, money):
    empty = make_fund(title="Nobody backed this", slug="empty")
    url = reverse("wagtail_bulk_action", args=("wagtailcore", "page", "delete"))
    next_url = reverse("wagtailadmin_explore", args=(fund.get_parent().pk,))
    response = admin_client.post(f"{url}?id={fund.pk}&id={empty.pk}&next={next_url}")
    assert response.status_code == 302 and response.url == next_url
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("Not deleted" in m for m in messages)
    # All or nothing: the unfunded page in the same batch stays as well.
    assert FundPage.objects.filter(pk__in=[fund.pk, empty.pk]).count() == 2


def test_deleting_a_fund_page_with_no_money_works(admin_client, make_fund, money):
    empty = make_fund(title="Nobody backed this", slug="empty")
    response = admin_client.post(reverse("wagtailadmin_pages:delete", args=(empty.pk,)))
    assert response.status_code == 302
    assert not FundPage.objects.filter(pk=empty.pk).exists()
    assert not Fund.objects.filter(pk=empty.pk).exists()
