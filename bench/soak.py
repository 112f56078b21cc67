"""Soak: the whole site under a mixed load for a set time, then proof that nothing went wrong.

    .venv/bin/python bench/soak.py --minutes 5

Starts its own PostgreSQL and Redis, migrates, seeds the demo site and funded backers with API
tokens (`bench.site_tasks seed`, as pledge_load.py does), signs `--sessions` of them in, gives
those a stake in a second fund and opens a claim on it (`claim_submit`, by a user who backed
nothing; a silent backer holding most of the weight keeps any vote from deciding it), then runs
the site as production does: gunicorn (production settings, Redis as cache and broker), one
`manage.py qcluster`, and the bare Django app (`bench/bareview.py`, `GET /ok`) on a gunicorn of
its own. wrk measures the bare view (and the site's middleware floor, `/bench/bare/`) for
`--bare-seconds` each; then Locust, headless, drives for `--minutes`:

- anonymous readers (most of the traffic): home, fund index, fund pages, news posts, the feeds,
  search, the site's bare view and the bare Django view (the floors, under the same load);
- seeded backers: the same pages with their session (never cached), their pledges, their
  wallet, and pledges to the hot fund through the API, each with an Idempotency-Key, ~10 %
  replaying a key they already sent; now and then a deposit with the test card; the signed-in
  ones vote (approve, or reject with a reason) through the claim page's form;
- `--newcomers` who sign up through the form, add money through the wallet's form and the
  local checkout (test card), and pledge to the hot fund through its pledge form, ~20 % of the
  forms sent twice with the same key (a double submit must pledge once); more money when the
  wallet runs short (402).

Then it waits for the worker to deliver every outbox row the run staged, runs `ledger_check`
(tallies equal votes among its invariants), compares every pledge the site confirmed (API 201,
or the form's redirect to the pledge) with the database (`bench.site_tasks verify`: nothing lost,
nothing doubled), and every vote the site confirmed with the vote rows. It prints the bare
views' wrk figures, then per endpoint req/s (and as a share of the bare view's), p50/p95/p99
(and p50 over the bare view's under the load), errors (5xx apart), writes the figures to
bench/results/soak-<time>.json, and exits 1 if any check failed.

Locust is a bench-only tool: pinned here and installed on first use into a virtualenv of its own
under ~/.cache/fundfill-bench/ (its dependencies, gevent and Flask among them, never touch the
project's .venv), never by `make test`. This file is also the locustfile: Locust imports it in
that virtualenv, where only the user classes below matter.
"""

import json
import os
import random
import re
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

try:  # in Locust's own virtualenv (as the locustfile); absent from the project's .venv
    from locust import HttpUser, between, events, task
except ImportError:
    HttpUser = None

LOCUST = "locust==2.47.0"
HOT_FUND = "audit-truecrypt"
SEARCH_WORDS = ("audit", "patch", "build", "bounty", "security", "reproducible")
TEST_CARD = "4242 4242 4242 4242"
BARE_NAME = "bare Django view (GET /ok)"
BARE_CLIENTS = 8  # wrk connections for the bare view's own pass

# --- the load (run by Locust) ----------------------------------------------------------------------

INPUT = r'name="{}" value="([^"]*)"'
PLEDGE_PAGE = re.compile(r"^(?:https?://[^/]+)?/pledges/(\d+)/$")


def form_value(html: str, name: str) -> str:
    """A hidden input's value as the page's form carries it (Django renders name before value)."""
    match = re.search(INPUT.format(re.escape(name)), html)
    return match[1] if match else ""


if HttpUser is not None:
    CONFIG = json.loads(os.environ.get("SOAK_CONFIG") or "{}")
    OUT = open(CONFIG["out"], "a", buffering=1) if CONFIG.get("out") else None  # noqa: SIM115
    STATUSES: dict[tuple[str, int], int] = {}
    _backer_slots = iter(range(len(CONFIG.get("backers", []))))
    _newcomers = iter(range(1, 1_000_000))

    @events.request.add_listener
    def _count_status(request_type, name, response, exception, **kwargs):
        status = getattr(response, "status_code", 0) or 0
        STATUSES[(name, status)] = STATUSES.get((name, status), 0) + 1

    @events.test_stop.add_listener
    def _write_statuses(**kwargs):
        if OUT:
            for (name, status), count in sorted(STATUSES.items()):
                OUT.write(f"code\t{name}\t{status}\t{count}\n")
            OUT.flush()

    class Browser(HttpUser):
        """A person with a browser's cookies, kept by hand.

        Production cookies are `Secure`, which `requests` never sends over the bench's plain
        http; so each response's cookies go into `jar` and every request carries them itself.
        Redirects are not followed: where a form leads is part of what is checked.
        """

        abstract = True
        jar: dict[str, str]

        def send(self, method, path, name, *, data=None, expect=(200,)):
            headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.jar.items())} if self.jar else {}
            if method == "POST":
                headers["Referer"] = self.host + path
            with self.client.request(
                method,
                path,
                data=data,
                headers=headers,
                name=name,
                allow_redirects=False,
                catch_response=True,
            ) as response:
                self.jar.update(response.cookies.get_dict())
                self.client.cookies.clear()
                if response.status_code in expect:
                    response.success()
                else:
                    response.failure(f"{response.status_code}: {response.text[:200]}")
                return response

        def form(self, path, name):
            """GET a form page: its HTML and CSRF token (the cookie's pair is in `jar`)."""
            response = self.send("GET", path, name)
            return response.text if response.status_code == 200 else "", form_value(
                response.text or "", "csrfmiddlewaretoken"
            )

    class Reader(HttpUser):
        """An anonymous reader: what most of a busy day's traffic is (served from the page cache)."""

        weight = 8
        wait_time = between(0.5, 2)

        @task(4)
        def home(self):
            self.client.get("/", name="home")

        @task(2)
        def fund_index(self):
            self.client.get("/funds/", name="fund index")

        @task(4)
        def fund_page(self):
            self.client.get(random.choice(CONFIG["funds"]), name="fund page")

        @task(2)
        def news(self):
            self.client.get(random.choice(CONFIG["news"]), name="news post")

        @task(1)
        def feed(self):
            self.client.get(random.choice(CONFIG["feeds"]), name="feed")

        @task(1)
        def search(self):
            self.client.get(f"/search/?q={random.choice(SEARCH_WORDS)}", name="search")

        @task(1)
        def bare(self):
            self.client.get("/bench/bare/", name="bare view (site middleware)")

        @task(1)
        def bare_django(self):
            # The bare Django app on its own gunicorn: the floor, under the same load.
            self.client.get(CONFIG["bare_url"], name=BARE_NAME)

    class Backer(Browser):
        """A seeded backer: pages with their session, pledges and deposits through the API, and votes.

        The signed-in ones (`--sessions`) also vote through the claim page's form on the vote
        fund's claim: they had money in that fund when the claim was submitted.
        """

        weight = 2
        wait_time = between(1, 3)

        def on_start(self):
            slot = next(_backer_slots, None)
            if slot is None:  # more Locust backers than seeded identities: read as a reader instead
                slot = random.randrange(len(CONFIG["backers"]))
            me = CONFIG["backers"][slot]
            self.index, cookie = me["index"], me.get("cookie", "")
            self.jar = dict([cookie.split("=", 1)]) if cookie else {}
            self.signed_in = bool(cookie)
            self.api = {"Authorization": f"Token {me['token']}"}
            self.sent: list[tuple[str, int]] = []

        def page(self, path, name):
            self.send("GET", path, f"{name}, signed in" if self.signed_in else name)

        @task(2)
        def browse(self):
            self.page("/", "home")
            self.page(random.choice(CONFIG["funds"]), "fund page")

        @task(1)
        def my_pledges(self):
            if self.signed_in:
                self.page("/pledges/", "my pledges")

        @task(1)
        def wallet(self):
            self.client.get("/api/v1/wallet/", headers=self.api, name="API wallet")

        @task(4)
        def pledge(self):
            if self.sent and random.random() < 0.10:
                key, amount = random.choice(self.sent)  # a retry of a pledge already sent
                name = "API pledge (replay)"
            else:
                key, amount = (
                    f"{CONFIG['run']}-{self.index}-{uuid.uuid4().hex[:12]}",
                    random.randint(100, 2_000),
                )
                self.sent.append((key, amount))
                OUT.write(f"sent {self.index} {key} {amount}\n")
                name = "API pledge"
            with self.client.post(
                f"/api/v1/funds/{CONFIG['fund_id']}/pledges/",
                json={"amount_cents": amount},
                headers={**self.api, "Idempotency-Key": key},
                name=name,
                catch_response=True,
            ) as response:
                if response.status_code == 201:
                    OUT.write(f"answered {response.json()['id']}\n")
                    response.success()
                else:
                    response.failure(f"{response.status_code}: {response.text[:200]}")

        @task(1)
        def deposit(self):
            if random.random() < 0.2:  # a few: most visits to the wallet add nothing
                self.client.post(
                    "/api/v1/wallet/deposits/",
                    json={"amount_cents": 5_000, "card": TEST_CARD},
                    headers={**self.api, "Idempotency-Key": uuid.uuid4().hex},
                    name="API deposit",
                )

        @task(1)
        def vote(self):
            if not self.signed_in or not CONFIG.get("claim_id"):
                return
            path = f"/claims/{CONFIG['claim_id']}/"
            html, csrf = self.form(path, "claim page (vote form), signed in")
            if 'name="decision"' not in html:
                return  # the page said why there is no form; a failure was recorded if it was not a 200
            approve = random.random() < 0.5
            data = {"csrfmiddlewaretoken": csrf, "decision": "approve" if approve else "reject"}
            if not approve:
                data["reason"] = f"soak {CONFIG['run']}: not yet ({uuid.uuid4().hex[:6]})"
            response = self.send("POST", f"{path}vote/", "vote (form POST)", data=data, expect=(302,))
            if response.status_code == 302:
                OUT.write(f"voted {self.index} {int(approve)}\n")

    class Newcomer(Browser):
        """Someone who signs up through the form, adds money by card and pledges through the web form.

        About one pledge form in five is sent twice (the same key: a double click, a resend after a
        lost answer): it must lead to the same pledge, and move the money once.
        """

        fixed_count = int(CONFIG.get("newcomers", 0))
        wait_time = between(1, 3)

        def on_start(self):
            self.jar = {}
            self.username = f"{CONFIG['run']}-n{next(_newcomers)}-{uuid.uuid4().hex[:4]}"
            self.ready = self.sign_up() and self.add_money(200)

        def sign_up(self) -> bool:
            _, csrf = self.form("/accounts/signup/", "sign-up form")
            password = uuid.uuid4().hex + "Aa1!"
            data = {
                "csrfmiddlewaretoken": csrf,
                "username": self.username,
                "email": f"{self.username}@soak.invalid",
                "password1": password,
                "password2": password,
            }
            response = self.send("POST", "/accounts/signup/", "sign-up (form POST)", data=data, expect=(302,))
            if response.status_code != 302:
                return False
            OUT.write(f"user {self.username}\n")
            return True

        def add_money(self, dollars: int) -> bool:
            """The wallet's add-money form, then the local gateway's checkout with the test card."""
            html, csrf = self.form("/wallet/add/", "add money form")
            data = {"csrfmiddlewaretoken": csrf, "amount": str(dollars), "key": form_value(html, "key")}
            response = self.send("POST", "/wallet/add/", "add money (form POST)", data=data, expect=(302,))
            checkout = urlsplit(response.headers.get("Location", "")).path
            if response.status_code != 302 or not checkout.startswith("/payments/local/checkout/"):
                return False
            _, csrf = self.form(checkout, "checkout page")
            data = {"csrfmiddlewaretoken": csrf, "card": TEST_CARD}
            response = self.send("POST", checkout, "checkout (test card POST)", data=data, expect=(302,))
            return response.status_code == 302

        @task(4)
        def pledge(self):
            if not self.ready:
                return
            path = f"/funds/{CONFIG['fund_id']}/pledge/"
            html, csrf = self.form(path, "pledge form")
            key = form_value(html, "key")
            if not key:
                return
            dollars = random.randint(1, 20)
            data = {"csrfmiddlewaretoken": csrf, "amount": str(dollars), "key": key}
            OUT.write(f"sentweb {self.username} {key} {dollars * 100}\n")
            first = self.pledge_post(path, data, "pledge (form POST)")
            if first == "short":
                self.add_money(200)
            elif first and random.random() < 0.2:
                again = self.pledge_post(path, data, "pledge (form POST, sent again)")
                if again and again != first:
                    OUT.write(f"resend_mismatch {first} {again}\n")

        def pledge_post(self, path, data, name) -> str | None:
            """The pledge's id if the site confirmed it (a redirect to the pledge), "short" on 402."""
            response = self.send("POST", path, name, data=data, expect=(302, 402))
            if response.status_code == 402:
                return "short"
            match = PLEDGE_PAGE.match(response.headers.get("Location", ""))
            if response.status_code == 302 and match:
                OUT.write(f"answered {match[1]}\n")
                return match[1]
            return None

        @task(2)
        def browse(self):
            self.send("GET", random.choice(CONFIG["funds"]), "fund page, signed in")

        @task(1)
        def my_pledges(self):
            self.send("GET", "/pledges/", "my pledges, signed in")

        @task(1)
        def wallet_page(self):
            self.send("GET", "/wallet/", "wallet page")


# --- the run (the project's .venv) -----------------------------------------------------------------


def locust_bin() -> Path:
    """Locust in its own virtualenv, made on first use (pinned: LOCUST)."""
    import subprocess

    from bench.common import log

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    venv = cache / "fundfill-bench" / LOCUST.replace("==", "-")
    tool = venv / "bin" / "locust"
    if not tool.exists():
        log(f"installing {LOCUST} into {venv} (bench only)")
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "ensurepip", "-q"], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", LOCUST], check=True)
    return tool


def parse_args(argv=None):
    import argparse

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=5, help="how long the load runs (default 5)")
    parser.add_argument("--users", type=int, default=50, help="concurrent Locust users (default 50)")
    parser.add_argument("--spawn-rate", type=float, default=10, help="users started a second (default 10)")
    parser.add_argument("--backers", type=int, default=40, help="seeded backers with tokens (default 40)")
    parser.add_argument(
        "--sessions", type=int, default=10, help="of them, signed in to the site (default 10)"
    )
    parser.add_argument(
        "--newcomers",
        type=int,
        default=5,
        help="Locust users who sign up, add money and pledge through the web forms (default 5)",
    )
    parser.add_argument(
        "--bare-seconds", type=float, default=15, help="the bare view's wrk pass before the load (default 15)"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, Locust's CSV)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.common import new_run_id, run_in_work_dir

    args = parse_args(argv)
    run_id = new_run_id("s")
    return run_in_work_dir(
        lambda work, cleanup: soak(args, work, run_id, cleanup), keep=args.keep, prefix="fundfill-soak-"
    )


class Cluster:
    """One `manage.py qcluster`, stopped by SIGTERM to its main pid (all its group hangs it: STYLE.md)."""

    def __init__(self, env, log_path):
        import subprocess

        from bench.common import BIN, REPO, log

        self._log = open(log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(BIN / "python"), "manage.py", "qcluster"],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log(f"worker: qcluster pid {self.proc.pid}")

    def stop(self):
        import signal
        import subprocess

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._log.close()


SESSIONS = """
import json
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
cookies = {}
for user in get_user_model().objects.filter(username__startswith="bench").order_by("username")[:COUNT]:
    client = Client()
    client.force_login(user)
    cookies[user.username] = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
print("@@" + json.dumps(cookies))
"""


VOTE_SEED = """
import json, uuid
from django.contrib.auth import get_user_model
from bench.site_tasks import ensure_open_funds
from bounties.models import FundPage
from bounties.payments.local_gateway import SUCCESS_CARD, LocalGateway
from bounties.services.claims import claim_submit
from bounties.services.deposits import deposit_create
from bounties.services.pledging import pledge_create

User = get_user_model()
hot = FundPage.objects.get(slug=HOT)
fund_id = ensure_open_funds(1, hot)[0]
voters = list(User.objects.filter(username__in=VOTERS).order_by("username"))
weights = 0
for i, user in enumerate(voters):
    pledge_create(user=user, fund_id=fund_id, amount_cents=500 + 100 * i, key=str(uuid.uuid4()))
    weights += 500 + 100 * i
# A backer who never votes and holds more than all the voters together: no vote can decide the
# claim (a majority of the weight either way), so it stays under vote for the whole run.
silent = User.objects.create_user("soak-silent", "soak-silent@soak.invalid")
gateway = LocalGateway()
deposit = deposit_create(user=silent, amount_cents=weights + 1_000, gateway=gateway.name)
gateway.pay(deposit, SUCCESS_CARD)
pledge_create(user=silent, fund_id=fund_id, amount_cents=weights + 1_000, key=str(uuid.uuid4()))
claimant = User.objects.create_user("soak-claimant", "soak-claimant@soak.invalid")  # backed nothing
claim = claim_submit(
    user=claimant,
    fund_id=fund_id,
    statement="The work is done: the soak's claim, under vote for the whole run.",
    url="https://example.org/soak/claim",
)
print("@@" + json.dumps({"claim_id": claim.pk, "vote_fund_id": fund_id, "voters": len(voters)}))
"""


def shell(script: str, env, what: str):
    """A `manage.py shell -c` script's `@@`-line, parsed (JSON)."""
    import subprocess

    from bench.common import BIN, REPO

    out = subprocess.run(
        [str(BIN / "python"), "manage.py", "shell", "-c", script],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{what} failed: {out.stderr[-2000:]}")
    return json.loads(next(line for line in out.stdout.splitlines() if line.startswith("@@"))[2:])


def discover(base_url: str) -> dict:
    """The demo's fund pages, news posts and feeds, read from the site as a crawler would."""
    import re
    import urllib.request

    def html(path):
        return urllib.request.urlopen(base_url + path, timeout=30).read().decode()

    funds = sorted(set(re.findall(r'href="(/funds/[a-z0-9-]+/)"', html("/funds/"))))
    news = sorted(
        {link for fund in funds for link in re.findall(rf'href="({re.escape(fund)}[a-z0-9-]+/)"', html(fund))}
        - {f"{fund}embed/" for fund in funds}
    )
    if not funds or not news:
        raise RuntimeError(
            f"the demo site has no funds or news to read ({len(funds)} funds, {len(news)} news)"
        )
    feeds = ["/funds/feed/", f"/funds/{HOT_FUND}/announcements.atom"]
    return {"funds": funds, "news": news, "feeds": feeds}


def soak(args, work: Path, run_id: str, cleanup) -> int:
    import subprocess
    import time

    from bench.common import (
        BIN,
        REPO,
        Gunicorn,
        Target,
        create_database,
        log,
        measure,
        run,
        services,
        start_postgres,
    )
    from bench.pledge_load import manage, site_environment

    locust = locust_bin()
    pg = start_postgres()
    database = create_database(pg, "fundfill")
    redis_url = services.start_redis()  # stopped at exit (atexit), like PostgreSQL
    port = services.free_port()
    env = site_environment(work, database, port)
    env.update(
        DJANGO_SETTINGS_MODULE="bench.pages_settings",  # production, plus /bench/bare/ behind the site's middleware
        REDIS_URL=redis_url,
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",  # receipts are delivered, to nowhere
    )
    log(f"PostgreSQL at {pg}, Redis at {redis_url}; work dir {work}")
    manage("migrate", "--noinput", env=env, work=work, what="migrate")
    manage("collectstatic", "--noinput", env=env, work=work, what="collectstatic")
    log(f"seed: load_demo, {args.backers} backers with API tokens and funded wallets")
    seed_file = work / "seed.json"
    run(
        [
            str(BIN / "python"),
            "-m",
            "bench.site_tasks",
            "seed",
            "--users",
            str(args.backers),
            "--out",
            str(seed_file),
        ],
        env=env,
        log_path=work / "site-tasks.log",
        what="seeding",
    )
    seeded = json.loads(seed_file.read_text())
    cookies = shell(f"COUNT = {args.sessions}\n{SESSIONS}", env, "signing the backers in")
    voting = shell(
        f"HOT = {HOT_FUND!r}\nVOTERS = {sorted(cookies)!r}\n{VOTE_SEED}", env, "seeding the claim under vote"
    )
    log(
        f"claim {voting['claim_id']} under vote on fund {voting['vote_fund_id']}: "
        f"{voting['voters']} signed-in backers with money in it may vote"
    )

    worker = Cluster(env, work / "qcluster.log")
    cleanup.add(worker.stop)
    site = Gunicorn(
        "fundfill.wsgi:application",
        env=env,
        port=port,
        workers=args.workers,
        log_path=str(work / "gunicorn-site.log"),
        name="site",
    )
    cleanup.add(site.stop)
    bare = Gunicorn(
        "bench.bareview:application",
        env=env,
        port=services.free_port(),
        workers=args.workers,
        log_path=str(work / "gunicorn-bare.log"),
        name="bare",
    )
    cleanup.add(bare.stop)
    site.wait_ready(f"/funds/{HOT_FUND}/")
    bare.wait_ready("/ok")
    paths = discover(site.url)
    staged_before = outbox_counts(database)

    # The bare Django view's own pass (wrk: what the same gunicorn answers with no site at all),
    # and the site's middleware floor beside it, before the load; Locust reads /ok during it too.
    baselines = []
    for target in (
        Target(BARE_NAME, f"{bare.url}/ok", "get", bare.proc.pid, drain_path="/ok", workers=args.workers),
        Target(
            "bare view (site middleware)",
            f"{site.url}/bench/bare/",
            "get",
            site.proc.pid,
            drain_path="/bench/bare/",
            workers=args.workers,
        ),
    ):
        log(f"wrk: {target.name}, {BARE_CLIENTS} connections, {args.bare_seconds:g}s")
        result = measure(
            target,
            driver="wrk",
            clients=BARE_CLIENTS,
            seconds=args.bare_seconds,
            threads=1,
            replay=0,
            run_id=run_id,
            out_file=str(work / f"wrk-{len(baselines)}.txt"),
        )
        baselines.append(
            {
                "name": target.name,
                "requests": result.requests,
                "rps": round(result.rps, 1),
                "p50_ms": round(result.p50_ms, 2),
                "p99_ms": round(result.p99_ms, 2),
                "errors": result.errors,
                "statuses": dict(result.statuses),
            }
        )

    load_file = work / "load.txt"
    backers = [
        {"index": u["index"], "token": u["token"], "cookie": cookies.get(f"bench{u['index']:05d}", "")}
        for u in seeded["users"]
    ]
    config = {
        **paths,
        "run": run_id,
        "fund_id": seeded["fund_id"],
        "backers": backers,
        "out": str(load_file),
        "bare_url": f"{bare.url}/ok",
        "claim_id": voting["claim_id"],
        "newcomers": min(args.newcomers, args.users),
    }
    seconds = round(args.minutes * 60)
    log(f"Locust: {args.users} users ({args.spawn_rate:g}/s), {seconds}s against {site.url}")
    started = time.monotonic()
    locust_run = subprocess.run(
        [
            str(locust),
            "-f",
            str(Path(__file__).resolve()),
            "--headless",
            "--users",
            str(args.users),
            "--spawn-rate",
            str(args.spawn_rate),
            "--run-time",
            f"{seconds}s",
            "--host",
            site.url,
            "--csv",
            str(work / "locust"),
            "--only-summary",
            "--stop-timeout",
            "10",
            "--loglevel",
            "WARNING",
            "Reader",
            "Backer",
            *(["Newcomer"] if config["newcomers"] else []),  # a fixed_count of 0 would mean "by weight"
        ],
        env={**os.environ, "SOAK_CONFIG": json.dumps(config)},
        cwd=REPO,
        stdout=(work / "locust.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    elapsed = time.monotonic() - started
    stats_file = work / "locust_stats.csv"
    if not stats_file.exists():
        tail = (work / "locust.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"Locust wrote no statistics (exit {locust_run.returncode}):\n{tail}")

    log("waiting for the worker to deliver the outbox")
    deadline = time.monotonic() + 180
    while True:
        outbox = outbox_counts(database)
        waiting = outbox.get("pending", 0) + outbox.get("sending", 0)
        if not waiting or time.monotonic() > deadline:
            break
        time.sleep(1)
    log("ledger_check")
    checked = subprocess.run(
        [str(BIN / "python"), "manage.py", "ledger_check"], env=env, cwd=REPO, capture_output=True, text=True
    )
    verify_file = work / "verify.json"
    run(
        [
            str(BIN / "python"),
            "-m",
            "bench.site_tasks",
            "verify",
            "--seed",
            str(seed_file),
            "--load",
            str(load_file),
            "--out",
            str(verify_file),
        ],
        env=env,
        log_path=work / "site-tasks.log",
        what="verify",
    )
    verified = json.loads(verify_file.read_text())
    rows = endpoint_rows(stats_file, load_file)
    votes = vote_counts(database, voting["claim_id"], load_file)
    result = {
        "minutes": args.minutes,
        "elapsed_seconds": round(elapsed, 1),
        "users": args.users,
        "workers": args.workers,
        "load_average": Path("/proc/loadavg").read_text().split()[:3],
        "newcomers": config["newcomers"],
        "bare_wrk": baselines,
        "endpoints": rows,
        "votes": votes,
        "resend_mismatches": load_file.read_text().count("resend_mismatch "),
        "outbox_before": staged_before,
        "outbox_after": outbox,
        "outbox_undelivered": waiting,
        "ledger_check_ok": checked.returncode == 0,
        "ledger_check": (checked.stdout + checked.stderr).strip()[-2000:],
        "verify": verified,
    }
    save(result)
    return report(result)


def outbox_counts(database: str) -> dict:
    import psycopg

    with psycopg.connect(database, autocommit=True) as conn:
        return dict(conn.execute("SELECT status, count(*) FROM bounties_outbox GROUP BY status").fetchall())


def vote_counts(database: str, claim_id: int, load_file: Path) -> dict:
    """The claim's votes and tally in the database, against the votes the site confirmed (302)."""
    import psycopg

    last: dict[str, bool] = {}  # each voter's last confirmed decision (one Locust user per backer)
    confirmed = 0
    for line in load_file.read_text().splitlines():
        if line.startswith("voted "):
            _, index, approve = line.split()
            last[f"bench{int(index):05d}"] = approve == "1"
            confirmed += 1
    with psycopg.connect(database, autocommit=True) as conn:
        status, approve_cents, reject_cents = conn.execute(
            "SELECT status, approve_cents, reject_cents FROM bounties_claim WHERE id = %s", [claim_id]
        ).fetchone()
        stored = dict(
            conn.execute(
                "SELECT u.username, v.approve FROM bounties_vote v JOIN auth_user u ON u.id = v.user_id "
                "WHERE v.claim_id = %s",
                [claim_id],
            ).fetchall()
        )
        approving, rejecting = conn.execute(
            "SELECT coalesce(sum(weight_cents) FILTER (WHERE approve), 0), "
            "coalesce(sum(weight_cents) FILTER (WHERE NOT approve), 0) FROM bounties_vote WHERE claim_id = %s",
            [claim_id],
        ).fetchone()
    return {
        "claim_status": status,
        "confirmed_votes": confirmed,
        "voters_confirmed": len(last),
        "vote_rows": len(stored),
        "not_as_last_confirmed": sorted(
            name for name, approve in last.items() if stored.get(name) != approve
        ),
        "unconfirmed_rows": sorted(set(stored) - set(last)),
        "tally_cents": [int(approve_cents), int(reject_cents)],
        "votes_cents": [int(approving), int(rejecting)],
    }


def endpoint_rows(stats_file: Path, load_file: Path) -> list[dict]:
    """Locust's per-endpoint figures, with the 5xx our listener counted for each."""
    import csv

    server_errors: dict[str, int] = {}
    for line in load_file.read_text().splitlines():
        if line.startswith("code\t"):
            _, name, status, count = line.split("\t")
            if int(status) >= 500 or int(status) == 0:  # 0: no answer at all
                server_errors[name] = server_errors.get(name, 0) + int(count)
    rows = []
    with stats_file.open() as f:
        for row in csv.DictReader(f):
            rows.append(
                {
                    "name": row["Name"],
                    "method": row["Type"],
                    "requests": int(row["Request Count"]),
                    "failures": int(row["Failure Count"]),
                    "server_errors": server_errors.get(row["Name"], 0)
                    if row["Name"] != "Aggregated"
                    else sum(server_errors.values()),
                    "rps": float(row["Requests/s"]),
                    "p50_ms": float(row["50%"] or 0),
                    "p95_ms": float(row["95%"] or 0),
                    "p99_ms": float(row["99%"] or 0),
                }
            )
    return rows


def save(result: dict):
    import time

    from bench.common import REPO, log

    folder = REPO / "bench" / "results"
    folder.mkdir(exist_ok=True)
    path = folder / f"soak-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2))
    log(f"results in {path}")


def report(result: dict) -> int:
    from bench.common import table

    rows = result["endpoints"]
    wrk = {b["name"]: b for b in result["bare_wrk"]}
    bare = wrk[BARE_NAME]
    print(f"Baselines, wrk, {BARE_CLIENTS} connections, before the load (same gunicorn workers, same run):")
    for b in result["bare_wrk"]:
        print(
            f"  {b['name']}: {b['rps']:.0f} req/s, p50 {b['p50_ms']:.1f} ms, p99 {b['p99_ms']:.1f} ms"
            f" ({b['requests']} requests, {b['errors']} not 2xx)"
        )
    under_load = next((r for r in rows if r["name"] == BARE_NAME), None)
    floor_p50 = under_load["p50_ms"] if under_load and under_load["p50_ms"] else None
    print(
        f"\nLocust, {result['users']} users ({result['newcomers']} of them signing up), "
        f"{result['elapsed_seconds']}s; 'of bare' = req/s as a share of the bare view's {bare['rps']:.0f} req/s "
        "above; 'x bare p50' = p50 over the bare view's p50 under this same load"
    )
    print(
        table(
            [
                [
                    f"{r['method']} {r['name']}".strip(),
                    r["requests"],
                    f"{r['rps']:.1f}",
                    f"{100 * r['rps'] / bare['rps']:.2f} %" if bare["rps"] else "-",
                    f"{r['p50_ms']:.0f}",
                    f"{r['p95_ms']:.0f}",
                    f"{r['p99_ms']:.0f}",
                    f"{r['p50_ms'] / floor_p50:.1f}" if floor_p50 and r["name"] != "Aggregated" else "-",
                    r["failures"],
                    r["server_errors"],
                ]
                for r in rows
            ],
            [
                "endpoint",
                "requests",
                "req/s",
                "of bare",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "x bare p50",
                "failures",
                "5xx",
            ],
        )
    )
    v = result["verify"]
    total = next((r for r in rows if r["name"] == "Aggregated"), {"server_errors": 0})
    lost_or_doubled = (
        bool(v["lost"])
        or v["doubled_transfers"] != 0
        or bool(v["phantom_rows"])
        or bool(v.get("unknown_usernames"))
        or result["resend_mismatches"] != 0
    )
    outflow = v["wallet_outflow_cents"] - v.get("outside_pledges_cents", 0)
    sums = [v["wallet_debits_cents"], outflow, v["active_pledges_cents"], v["fund_pledged_cents"]]
    sums.append(v["escrow_cents"])
    money_matches = len(set(sums)) == 1
    votes = result["votes"]
    votes_ok = (
        votes["claim_status"] == "voting"
        and votes["vote_rows"] == votes["voters_confirmed"]
        and not votes["not_as_last_confirmed"]
        and not votes["unconfirmed_rows"]
        and votes["tally_cents"] == votes["votes_cents"]
    )
    checks = [
        ("zero 5xx", total["server_errors"] == 0, f"{total['server_errors']} 5xx or no answer"),
        (
            "ledger_check",
            result["ledger_check_ok"],
            result["ledger_check"].splitlines()[-1:] or ["(no output)"],
        ),
        (
            "every confirmed pledge in the ledger once",
            not lost_or_doubled and money_matches,
            f"{v['answered_201']} confirmed (API 201 or the web form's redirect to the pledge) for "
            f"{v['keys_sent']} keys ({v.get('web_keys_sent', 0)} by web form from "
            f"{v.get('signed_up_users', 0)} users who signed up; {result['resend_mismatches']} resent "
            f"forms led elsewhere); {v['active_pledges']} pledges, {v['pledge_transfers']} transfers; "
            f"lost {len(v['lost'])}, doubled {v['doubled_transfers']}, phantom {len(v['phantom_rows'])}; "
            "cents: wallet debits = wallet outflow = pledges = fund total = escrow: "
            f"{' = '.join(map(str, sums))}",
        ),
        (
            "votes: every confirmed vote counted, tally = votes",
            votes_ok,
            f"claim {votes['claim_status']}; {votes['confirmed_votes']} votes confirmed from "
            f"{votes['voters_confirmed']} backers, {votes['vote_rows']} vote rows, "
            f"{len(votes['not_as_last_confirmed'])} not as last voted; tally approve/reject cents "
            f"{votes['tally_cents']}, votes {votes['votes_cents']}",
        ),
        (
            "every outbox row delivered",
            result["outbox_undelivered"] == 0 and not result["outbox_after"].get("failed"),
            f"{result['outbox_after']}",
        ),
    ]
    print()
    for name, ok, detail in checks:
        print(f"{'OK  ' if ok else 'FAIL'} {name}: {detail}")
    print(f"(load average {' '.join(result['load_average'])}; {result['elapsed_seconds']}s of load)")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
