"""Build the demo site: homepage, fund index, funds with news, an admin and an editor,
backers and their pledges, and the claim cycle: a fund with a claim under vote (votes
cast, one a rejection with its reason) and a fund whose claim was accepted and whose
escrow was paid to the winner's payout balance; and a creator's proposal waiting in
"Fund review". Money moves only through the services.

Idempotent: anything that already exists (matched by slug, username, pledge key, or
the claimant's claim on the fund and each backer's vote on it) is left as it is, so
running it twice changes nothing.
"""

import io
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.images import ImageFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from PIL import Image as PILImage
from PIL import ImageDraw
from wagtail.images import get_image_model
from wagtail.models import Page, Site

from bounties.models import (
    Claim,
    ClaimStatus,
    Deposit,
    DepositStatus,
    FundIndexPage,
    FundPage,
    FundUpdatePage,
    Vote,
)
from bounties.payments.local_gateway import SUCCESS_CARD, LocalGateway
from bounties.services.claims import claim_submit, vote_cast
from bounties.services.deposits import deposit_create
from bounties.services.pledging import pledge_create
from bounties.services.proposals import fund_review, proposal_submit
from home.models import HomePage

# A creator's proposal, left in review (the pledge deadline and escrow date are set from today).
CREATOR = "dora"
PROPOSAL = {
    "title": "Port Signal's reproducible builds to F-Droid",
    "acceptance_criteria": "F-Droid ships a Signal build that reproduces bit for bit from the tagged source.",
    "summary": "A bounty for making Signal's Android build reproducible on F-Droid's build servers.",
    "description": "Signal publishes reproducible builds for Google Play only.\n\nThis fund pays whoever gets "
    "F-Droid's build to match.",
    "goal_cents": 8_000_00,
    "failure_policy": "refund",
    "beneficiary_name": "",
    "vote_window_hours": 96,
    "quorum_percent": 20,
    "hashtag": "ReproducibleBuilds",
}

ADMIN_PASSWORD = "fundfill-admin"
BACKER_PASSWORD = "fundfill-backer"
# (username, money added by test card, [(fund slug, pledge)]) — amounts in cents.
BACKERS = [
    ("ada", 500_00, [("audit-truecrypt", 250_00), ("bypass-touchid", 100_00)]),
    ("grace", 1_200_00, [("audit-truecrypt", 1_000_00)]),
    ("linus", 300_00, [("reproducible-tor-browser-macos", 150_00), ("audit-truecrypt", 75_00)]),
    ("radia", 800_00, [("bypass-touchid", 600_00)]),
    ("hedy", 900_00, [("bypass-touchid", 200_00), ("fix-heartbleed", 300_00)]),
    ("alan", 400_00, [("fix-heartbleed", 250_00)]),
]
# The claim cycle, after every pledge: (fund slug, claimant, statement, link to the work,
# [(backer, approve, reason)]). TouchID stays under vote: $200 approves and $100 rejects of
# $900 eligible, neither more than half (the window's close decides it). Heartbleed is
# decided: $250 then $300 approve of $550, and the second vote accepts the claim and pays
# the whole escrow to the claimant's payout balance.
CLAIMS = [
    (
        "bypass-touchid",
        "starbug",
        "I photographed a fingerprint left on the phone's glass, printed it as a latex mould and "
        "unlocked the phone with it. The video and the write-up show each step.",
        "https://example.com/touchid-bypass-video",
        [("hedy", True, ""), ("ada", False, "The video cuts away before the phone unlocks.")],
    ),
    (
        "fix-heartbleed",
        "margaret",
        "The patch bounds-checks the heartbeat payload length against the record, and the "
        "test sends the malformed heartbeat that leaked memory before the fix.",
        "https://example.com/heartbleed-fix",
        [("alan", True, ""), ("hedy", True, "")],
    ),
]
EDITOR_PASSWORD = "fundfill-editor"

FUNDS = [
    {
        "slug": "audit-truecrypt",
        "title": "Audit TrueCrypt",
        "summary": "A professional security audit of the TrueCrypt disk encryption source code and its build.",
        "body": "Millions trust TrueCrypt to protect their disks, yet nobody has audited its code or checked "
        "that the published binaries match the published source. This fund pays for a public cryptographic "
        "audit by an independent team, with the full report released to everyone.",
        "goal_cents": 2_500_000,
        "days_open": 60,
        "escrow_days": 180,
        "policy": "beneficiary",
        "beneficiary": "Open Crypto Audit Project",
        "colour": (22, 94, 131),
        "news": [
            (
                "Audit team shortlisted",
                12,
                "Three firms have offered to do the audit; we publish their proposals.",
            ),
            ("Reproducible build checked", 4, "The Windows binary was rebuilt from source and matches."),
        ],
    },
    {
        "slug": "bypass-touchid",
        "title": "First to bypass TouchID",
        "summary": "A bounty for the first person to lift a fingerprint and unlock an iPhone 5s through TouchID.",
        "body": "Apple says TouchID's sensor reads the sub-epidermal layers of the skin. The first to show a "
        "reproducible bypass with a lifted fingerprint, on video and with a write-up, takes the bounty.",
        "goal_cents": 1_000_000,
        "days_open": 21,
        "escrow_days": 90,
        "policy": "refund",
        "beneficiary": "",
        "colour": (120, 48, 48),
        "news": [
            (
                "Rules clarified",
                2,
                "The bypass must use a print lifted from a surface, not the finger itself.",
            )
        ],
    },
    {
        "slug": "reproducible-tor-browser-macos",
        "title": "Reproducible Tor Browser builds on macOS",
        "summary": "Make the macOS Tor Browser build bit-for-bit reproducible, so anyone can verify a release.",
        "body": "Reproducible builds let anyone check that a download was built from the published source. "
        "Linux and Windows builds of Tor Browser are reproducible already; macOS is the gap this fund closes.",
        "goal_cents": 800_000,
        "days_open": 45,
        "escrow_days": 120,
        "policy": "refund",
        "beneficiary": "",
        "colour": (74, 44, 110),
        "news": [("Toolchain notes published", 7, "The remaining sources of non-determinism are listed.")],
    },
    {
        "slug": "fix-heartbleed",
        "title": "Fix Heartbleed in OpenSSL",
        "summary": "A bounty for the patch that stops OpenSSL's heartbeat from leaking server memory, with a test.",
        "body": "A missing bounds check in OpenSSL's TLS heartbeat lets anyone read server memory, keys "
        "included. The bounty goes to the first patch, with a regression test, that the backers accept.",
        "goal_cents": 500_000,
        "days_open": 30,
        "escrow_days": 90,
        "policy": "refund",
        "beneficiary": "",
        "colour": (28, 96, 60),
        "news": [("Claim accepted", 0, "The backers accepted the patch; the escrow went to its author.")],
    },
]


class Command(BaseCommand):
    help = "Load the demo content and users (safe to run again: existing content is kept)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-backers",
            dest="backers",
            action="store_false",
            help="Skip the demo backers and their pledges (benches start from empty funds).",
        )

    def handle(self, *args, **options):
        with transaction.atomic():
            home = self.ensure_home()
            index = self.ensure_index(home)
            funds = [self.ensure_fund(index, spec) for spec in FUNDS]
            if home.featured_fund_id is None:
                home.featured_fund = funds[0]
                home.save_revision().publish()
            admin_created = self.ensure_user("admin", ADMIN_PASSWORD, superuser=True)
            editor_created = self.ensure_user("editor", EDITOR_PASSWORD, group="Editors")
        if options.get("backers", True):
            # Outside the page transaction: each pledge is its own money operation.
            for username, deposit_cents, pledges in BACKERS:
                self.ensure_backer(username, deposit_cents, pledges)
            for slug, claimant, statement, url, votes in CLAIMS:
                self.ensure_claim(slug, claimant, statement, url, votes)
            self.ensure_proposal()
        self.stdout.write(self.style.SUCCESS("Demo content ready."))
        self.stdout.write(f"  Admin:  admin / {ADMIN_PASSWORD}{'' if admin_created else ' (existing)'}")
        self.stdout.write(f"  Editor: editor / {EDITOR_PASSWORD}{'' if editor_created else ' (existing)'}")
        if options.get("backers", True):
            names = ", ".join(name for name, _, _ in BACKERS)
            self.stdout.write(f"  Backers: {names} / {BACKER_PASSWORD}")
            claimants = ", ".join(claimant for _, claimant, _, _, _ in CLAIMS)
            self.stdout.write(f"  Claimants: {claimants} / {BACKER_PASSWORD}")
            self.stdout.write(f"  Creator with a proposal in review: {CREATOR} / {BACKER_PASSWORD}")

    def ensure_home(self):
        site = Site.objects.filter(is_default_site=True).first()
        home = HomePage.objects.first()
        if home is None:
            root = Page.get_first_root_node()
            # Wagtail's initial migration leaves a "Welcome" page at the root's slug "home".
            for page in root.get_children().exclude(content_type__model="homepage"):
                if page.slug == "home":
                    page.delete()
            home = HomePage(
                title="Fundfill",
                slug="home",
                hero_text="Bounties for the work that matters",
                intro="<p>Pledge to a bounty. Your money waits in escrow until the work is done and the backers accept it.</p>",
                search_description="Fundfill: crowdfunded bounties held in escrow until the work is done.",
            )
            root.add_child(instance=home)
            home.save_revision().publish()
        if site is None:
            Site.objects.create(
                hostname="localhost", port=80, root_page=home, is_default_site=True, site_name="Fundfill"
            )
        elif site.root_page_id != home.pk or site.site_name != "Fundfill":
            site.root_page = home
            site.site_name = "Fundfill"
            site.save()
        return home

    def ensure_index(self, home):
        index = FundIndexPage.objects.child_of(home).first()
        if index is None:
            index = FundIndexPage(
                title="Funds", slug="funds", intro="Every bounty on Fundfill, newest first."
            )
            home.add_child(instance=index)
            index.save_revision().publish()
        fund_review()  # creators' proposals under the index go to the "Fund review" workflow
        return index

    def ensure_proposal(self):
        """A creator's proposal waiting in "Fund review", for the editor to approve or send back."""
        User = get_user_model()
        creator = User.objects.filter(username=CREATOR).first()
        if creator is None:
            creator = User.objects.create_user(CREATOR, f"{CREATOR}@fundfill.example", BACKER_PASSWORD)
        if FundPage.objects.filter(owner=creator).exists():
            return
        now = timezone.now().replace(minute=0, second=0, microsecond=0)
        proposal_submit(
            user=creator,
            fields={
                **PROPOSAL,
                "pledge_deadline": now + timedelta(days=45),
                "escrow_until": now + timedelta(days=120),
            },
        )

    def ensure_fund(self, index, spec):
        fund = FundPage.objects.filter(slug=spec["slug"]).first()
        if fund is not None:
            return fund
        now = timezone.now().replace(minute=0, second=0, microsecond=0)
        deadline = now + timedelta(days=spec["days_open"])
        fund = FundPage(
            title=spec["title"],
            slug=spec["slug"],
            summary=spec["summary"],
            search_description=spec["summary"],
            body=[("paragraph", f"<p>{spec['body']}</p>")],
            image=self.make_image(spec["title"], spec["colour"]),
            goal_cents=spec["goal_cents"],
            pledge_deadline=deadline,
            escrow_until=deadline + timedelta(days=spec["escrow_days"]),
            failure_policy=spec["policy"],
            beneficiary_name=spec["beneficiary"],
        )
        index.add_child(instance=fund)
        fund.save_revision().publish()
        for title, days_ago, text in spec["news"]:
            update = FundUpdatePage(
                title=title,
                date=date.today() - timedelta(days=days_ago),
                body=[("paragraph", f"<p>{text}</p>")],
                search_description=text,
            )
            fund.add_child(instance=update)
            update.save_revision().publish()
        return fund

    def make_image(self, title, colour):
        """A plain coloured banner, so demo funds have an image for pages and link previews."""
        picture = PILImage.new("RGB", (1200, 630), colour)
        ImageDraw.Draw(picture).text((60, 280), title, fill=(255, 255, 255), font_size=64)
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        name = title.lower().replace(" ", "-") + ".png"
        return get_image_model().objects.create(title=title, file=ImageFile(buffer, name=name))

    def ensure_backer(self, username, deposit_cents, pledges):
        """A backer who added money by test card and pledged it, all through the real services.

        Keyed like a real client (one deposit per backer, fixed pledge keys), so a second
        run moves nothing.
        """
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_user(username, f"{username}@fundfill.example", BACKER_PASSWORD)
        if not Deposit.objects.filter(user=user, status=DepositStatus.SUCCEEDED).exists():
            deposit = deposit_create(user=user, amount_cents=deposit_cents, gateway="local")
            LocalGateway().pay(deposit, SUCCESS_CARD)
        for slug, amount_cents in pledges:
            fund = FundPage.objects.get(slug=slug)
            pledge_create(user=user, fund_id=fund.pk, amount_cents=amount_cents, key=f"demo:{slug}")

    def ensure_claim(self, slug, claimant, statement, url, votes):
        """The claimant's claim on the fund, and each backer's vote on it, through the services.

        Submitted once (an existing claim of theirs on the fund is kept, whatever became of it),
        and each backer votes once while it is under vote, so a second run moves nothing.
        """
        User = get_user_model()
        user = User.objects.filter(username=claimant).first()
        if user is None:
            user = User.objects.create_user(claimant, f"{claimant}@fundfill.example", BACKER_PASSWORD)
        fund = FundPage.objects.get(slug=slug)
        claim = Claim.objects.filter(fund_id=fund.pk, user=user).order_by("pk").first()
        if claim is None:
            claim = claim_submit(user=user, fund_id=fund.pk, statement=statement, url=url)
        for username, approve, reason in votes:
            claim.refresh_from_db()
            voter = User.objects.get(username=username)
            if claim.status != ClaimStatus.VOTING or Vote.objects.filter(claim=claim, user=voter).exists():
                continue
            vote_cast(user=voter, claim_id=claim.pk, approve=approve, reason=reason)

    def ensure_user(self, username, password, *, superuser=False, group=None):
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            return False
        if superuser:
            user = User.objects.create_superuser(username, f"{username}@fundfill.example", password)
        else:
            user = User.objects.create_user(username, f"{username}@fundfill.example", password, is_staff=True)
        if group:
            user.groups.add(Group.objects.get(name=group))
        return True
