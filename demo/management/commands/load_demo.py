"""Build the demo site: homepage, fund index, funds with news, an admin and an editor,
backers and their pledges, and the claim cycle: a fund with a claim under vote (votes
cast, one a rejection with its reason) and a fund whose claim was accepted and whose
escrow was paid to the winner's payout balance; a creator's proposal waiting in
"Fund review"; and the site's own pages (How it works, Terms, Privacy, Contact), which the
footer and the claim and vote forms link to. Money moves only through the services.

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
from content.models import ContentPage
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


def heading(text, anchor):
    return ("heading", {"text": text, "level": "h2", "anchor": anchor})


def paragraph(html):
    return ("paragraph", html)


def question(text, answer_html):
    return ("question", {"question": text, "answer": answer_html})


def call_to_action(text, url):
    return ("call_to_action", {"text": text, "page": None, "url": url})


# The site's own pages, under the homepage by slug. The footer links to them by URL and the
# claim and vote forms to How it works' anchors (#claims, #voting): keep slugs and anchors.
# What How it works says follows bounties/services/ (pledging, claims, settlement, cashouts).
CONTENT_PAGES = [
    {
        "slug": "how-it-works",
        "title": "How it works",
        "intro": "Backers pledge money to a bounty. It waits in escrow until someone claims the bounty and "
        "the backers accept the claim by a vote weighted by money, or until the fund's escrow date passes.",
        "body": [
            heading("Pledges wait in escrow", "escrow"),
            paragraph(
                "<p>Add money to your wallet by card, then pledge it to a fund, or pledge by card in one "
                "step. A pledge moves the money from your wallet into the fund's escrow, where it stays "
                "until a claim is accepted or the pledge's escrow date passes.</p>"
                "<p>Each pledge keeps the terms the fund had when you made it: its escrow date and what "
                "happens to the money if nobody wins. Later edits to the fund do not change them.</p>"
                "<p>While the fund is open and before its pledge deadline you can withdraw a pledge back "
                "to your wallet, except while a claim on the fund is under vote: withdrawals are frozen "
                "then, so nobody can vote and then take their money out. After the pledge deadline the "
                "money stays in escrow until the fund is settled.</p>"
            ),
            heading("Claiming a bounty", "claims"),
            paragraph(
                "<p>If you did the work, claim the bounty: say what you did and link to the work. You can "
                "claim together with other registered users and give each a share; the shares add up to "
                "the whole award. A fund takes claims while it is open, also while another claim is "
                "under vote, until its escrow date.</p>"
                "<p>A claim is put to the fund's backers at once. Claimants cannot vote on their own "
                "claim, and their own pledges are left out of it. Whoever submitted a claim can "
                "withdraw it while it is under vote; no money moves.</p>"
            ),
            heading("How backers vote", "voting"),
            paragraph(
                "<p>When a claim is submitted, each backer's money in the fund's escrow at that moment "
                "becomes the weight of their vote: a backer with $100 in escrow weighs twice one with "
                "$50. Money pledged after the claim was submitted carries no weight on it. The claim "
                "also keeps the fund's voting window and quorum as they were when it was submitted.</p>"
                "<p>Vote to approve or to reject. A rejection must say why. Votes are public: the "
                "claim's page shows who voted which way, with what weight, and every reason. You can "
                "change your vote until the claim is decided.</p>"
            ),
            heading("When a claim is decided", "decisions"),
            paragraph(
                "<ul>"
                "<li><b>Early:</b> a claim is accepted as soon as approvals are more than half of the "
                "weight that can vote, and rejected as soon as rejections reach half. The result can "
                "no longer change then.</li>"
                "<li><b>When voting closes:</b> a claim is accepted if approvals are more than "
                "rejections and enough weight voted to reach the fund's quorum (a share of the weight "
                "that can vote). Otherwise it is rejected: a tie rejects, and silence is not "
                "consent.</li>"
                "<li><b>A late swing:</b> a vote in the last quarter of the window (at most its last 24 "
                "hours) that changes the result the close would give extends the window once, by that "
                "much.</li>"
                "</ul>"
                "<p>Accepted: the whole escrow, pledges made during the vote included, goes to the "
                "claimants' payout balances by their shares, the fund's other claims are closed and "
                "the fund is awarded. Rejected: the money stays in escrow and the fund carries on.</p>"
            ),
            heading("If nobody wins", "nobody-wins"),
            paragraph(
                "<p>When a pledge's escrow date has passed and its fund has no accepted claim and no "
                "claim under vote, the pledge leaves escrow once, to where you chose. You can choose, "
                "or change your choice, until then:</p>"
                "<ul>"
                "<li>back to your wallet (what happens if you choose nothing and the terms say "
                "refund);</li>"
                "<li>back to your card;</li>"
                "<li>to the beneficiary the fund's terms name, if they name one (what happens if you "
                "choose nothing);</li>"
                "<li>pledged on to another open fund.</li>"
                "</ul>"
                "<p>If the card refund cannot be made, or the other fund no longer takes pledges, the "
                "money stays in your wallet and the pledge says so. Once every pledge is settled the "
                "fund is marked as failed.</p>"
            ),
            heading("Getting money back to your card", "cash-out"),
            paragraph(
                "<p>Money in your wallet can go back to the card it came from at any time: a cash-out. "
                "The amount leaves your wallet at once and is split into refunds of your card "
                "payments, newest first, each no more than that payment has left to refund. If a "
                "refund is refused, its money comes back to your wallet. Your wallet always shows "
                "where the money is: in the wallet, or on its way to a card.</p>"
            ),
            heading("Being paid a bounty", "payouts"),
            paragraph(
                "<p>An award arrives in the winners' payout balances. It is held there for a few days "
                "before it can be paid out, because a card payment behind it can still be disputed; "
                "your payouts page says when. Then it is paid to your own Stripe account, or by hand "
                "by our finance staff.</p>"
            ),
            heading("Questions", "questions"),
            question(
                "Can I get my pledge back?",
                "<p>Yes, while the fund is open, before its pledge deadline, and while no claim is under "
                "vote: withdraw it to your wallet, then cash out to your card. After that it stays in "
                "escrow until a claim is accepted or its escrow date passes.</p>",
            ),
            question(
                "Can I pledge while a claim is under vote?",
                "<p>Yes. Your pledge carries no weight on that claim, and if that claim is accepted your "
                "pledge is paid to its claimants with the rest of the escrow.</p>",
            ),
            question(
                "Do I have to vote?",
                "<p>No. But not voting is not approving: a claim that has not reached the quorum when "
                "voting closes is rejected.</p>",
            ),
            question(
                "Who decides whether the work is done?",
                "<p>The backers, by their votes and the rules above, against what the fund's page says "
                "counts as done.</p>",
            ),
            call_to_action("See the open funds", "/funds/"),
        ],
    },
    {
        "slug": "terms",
        "title": "Terms",
        "intro": "The rules for using Fundfill, in plain words. This is a demonstration site: these terms "
        "are an example, not a contract, and no real money moves.",
        "body": [
            heading("Your account", "account"),
            paragraph(
                "<p>Keep your password to yourself. Your username is public: it is shown on the "
                "claims you make and the votes you cast.</p>"
            ),
            heading("Pledges", "pledges"),
            paragraph(
                "<p>A pledge is held in escrow under the terms the fund had when you made it, and "
                'leaves escrow only as <a href="/how-it-works/">How it works</a> describes: to the '
                "winners of an accepted claim, back to you or where you chose if nobody wins, or back "
                "to your wallet when you withdraw it while that is allowed.</p>"
            ),
            heading("Claims and votes", "claims"),
            paragraph(
                "<p>Claim only work you and your co-claimants did, and describe it truthfully. Vote on "
                "what the fund's page says counts as done. Reasons you give for a rejection are "
                "published on the claim.</p>"
            ),
            heading("What we do", "what-we-do"),
            paragraph(
                "<p>We hold the money, count the votes by the published rules and pay out what they "
                "decide. We may unpublish a fund or remove content that breaks the law or these "
                "terms.</p>"
            ),
        ],
    },
    {
        "slug": "privacy",
        "title": "Privacy",
        "intro": "What Fundfill keeps about you, what it shows, and why.",
        "body": [
            heading("What we keep", "what-we-keep"),
            paragraph(
                "<ul>"
                "<li>Your username, email address and a hash of your password.</li>"
                "<li>Your wallet, pledges, claims, votes and payouts: the record of where money went.</li>"
                "<li>Failed log-in attempts with the address they came from, to stop password "
                "guessing.</li>"
                "</ul>"
                "<p>We do not store card details: the card payment provider (Stripe) handles them "
                "and tells us whether a payment succeeded.</p>"
            ),
            heading("What is public", "public"),
            paragraph(
                "<p>Your username on the claims you make and on the votes you cast, with each vote's "
                "weight (the money you had in the fund when the claim was submitted) and any reason "
                "you give. A fund shows its total and how many backers it has.</p>"
            ),
            heading("Email", "email"),
            paragraph(
                "<p>We email you receipts for money you move and news about funds you follow. Each "
                "email about a followed fund has a link to stop it.</p>"
            ),
            heading("Cookies", "cookies"),
            paragraph(
                "<p>Only the ones the site needs to work, such as keeping you logged in and "
                "protecting forms against forgery. No advertising or tracking cookies.</p>"
            ),
        ],
    },
    {
        "slug": "contact",
        "title": "Contact",
        "intro": "How to reach the people who run Fundfill.",
        "body": [
            paragraph(
                '<p>Write to <a href="mailto:hello@fundfill.example">hello@fundfill.example</a>. '
                "For a question about a pledge, a claim or a payout, say which fund it is about.</p>"
                '<p>If you think a claim or a fund breaks the <a href="/terms/">terms</a>, tell us '
                "and link to it.</p>"
            ),
        ],
    },
]

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
            for spec in CONTENT_PAGES:
                self.ensure_content_page(home, spec)
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

    def ensure_content_page(self, home, spec):
        """One of the site's own pages under the homepage, made once: an existing page at its slug
        (whatever an editor has done to it) is kept."""
        if home.get_children().filter(slug=spec["slug"]).exists():
            return
        page = ContentPage(
            title=spec["title"],
            slug=spec["slug"],
            intro=spec["intro"],
            search_description=spec["intro"],
            body=spec["body"],
        )
        home.add_child(instance=page)
        page.save_revision().publish()

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
