"""Scale-out: two web nodes and two workers on one PostgreSQL and one Redis behave as one site.

Two gunicorns (production settings, `tests.served_settings`) and two `manage.py qcluster`
processes share a database of their own on the harness's PostgreSQL and one Redis database as
django-q2's broker and Django's cache (so the page cache, the pledge rate limit and the sessions
are shared; django-axes counts wrong passwords in the database). A site-wide webhook endpoint
points at a local receiver (`tests/fakes/webhook_receiver.py`) and the console channel logs each
post, so every delivery can be counted. Proved, as a backer, an editor and an operator see it:

1. pledges spread over both nodes, some keys replayed on the other node (and some sent to both
   at once), are each taken once: one pledge per key, the fund's total is their sum, the replay
   answers with the first pledge, and `ledger_check` is clean;
2. the pledge rate limit and the wrong-password lockout count across the nodes: requests split
   between A and B are stopped at the limit, though neither node alone reached it;
3. votes on a claim spread over both nodes (some changed on the other node, some sent to both at
   once, the deciding one too) are each counted once with the weight snapshotted when the claim
   opened: the tally is the sum of the votes' weights, both nodes answer the same tally and
   decision, and the approvals' early decision pays the whole escrow to the claimant once;
4. switching the incident notice on and unpublishing a fund through node A's admin purge the
   page cache: node B's very next page shows the notice and no longer serves the fund;
5. every outbox row staged by those pledges and that claim is delivered once, with both clusters
   running;
6. a cluster killed while it is sending loses nothing: the other cluster and the sweep deliver
   every row, the one in flight included, to the same webhook-id.
"""

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import requests

from tests.fakes.webhook_receiver import WebhookReceiver
from tests.harness.services import free_port
from tests.integration.test_cross_process_publish import _with_path, environment, manage
from tests.integration.test_worker_delivery import Cluster, query, wait_for

# One worker, in file order: each test builds on the site the ones before it left (pinned pytest: see
# requirements-dev.txt; the harness refuses a run where the group is not kept).
pytestmark = pytest.mark.xdist_group("scale_out")

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PASSWORD = "correct horse battery staple"
GOAL_CENTS = 10_000  # $100: the pledges below cross its milestones
BACKERS = 12  # 0-7 pledge in (1), 8-11 in (5)
RATE = 6  # pledges a backer may send an hour, over both nodes (replays count)
LEASE_SECONDS = 8
LOCAL_SECONDS = 0.1
# The voted fund: seven backers whose weights are powers of two, so each set of votes has its own
# sum (a vote counted twice, lost, or with the wrong weight shows in the tally); its goal is high
# enough that these pledges cross no milestone (fund one's are the ones counted in (5) and (6)).
VOTE_WEIGHTS = [100, 200, 400, 800, 1_600, 3_200, 6_400]
VOTE_GOAL_CENTS = 1_000_000
CLAIMANT_CENTS = 500  # the claimant backs the fund too: their pledge carries no weight on their claim
LATE_CENTS = 700  # pledged while the claim is under vote: in the escrow, not in the weights

SET_UP = """
import json
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.authtoken.models import Token
call_command("migrate", interactive=False, verbosity=0)
from tests.factories import build_site
build_site()
from bounties.announcers.webhook import new_secret
from bounties.models import FundIndexPage, WebhookEndpoint
from tests.factories import FundPageFactory, publish
from tests.money import top_up

User = get_user_model()
WebhookEndpoint.objects.create(url=RECEIVER + "/hooks/", secret=new_secret())

def fund(title, slug, goal=GOAL):
    page = FundPageFactory(parent=FundIndexPage.objects.get(), title=title, slug=slug, goal_cents=goal)
    publish(page)
    return page.pk

funds = [fund("Scale out one", "scale-out-one"), fund("Scale out two", "scale-out-two")]
tokens = []
for i in range(BACKERS + 1):
    user = User.objects.create_user(username=f"node{i}", email=f"node{i}@example.com")
    top_up(user, 100_000)
    tokens.append(Token.objects.create(user=user).key)
User.objects.create_superuser("ops", "ops@example.com", PASSWORD)
User.objects.create_user("lockme", password=PASSWORD)

from bounties.models import Fund
from tests.money import back

def person(name):
    user = User.objects.create_user(username=name, email=f"{name}@example.com")
    return user, Token.objects.create(user=user).key

voted = Fund.objects.get(pk=fund("Scale out votes", "scale-out-votes", goal=VOTE_GOAL))
voters = []
for i, cents in enumerate(VOTE_WEIGHTS):
    user, key = person(f"voter{i}")
    back(user, voted, cents)
    voters.append(key)
    if i == 0:
        top_up(user, LATE_CENTS)  # pledged once the claim is open
claimant, claimant_key = person("claimant")
back(claimant, voted, CLAIMANT)
latecomer, latecomer_key = person("latecomer")
top_up(latecomer, LATE_CENTS)
print("@@" + json.dumps({
    "funds": funds, "tokens": tokens, "voted": voted.pk, "voters": voters,
    "claimant": claimant_key, "latecomer": latecomer_key,
}))
"""


@pytest.fixture(scope="module")
def receiver():
    with WebhookReceiver() as fake:
        yield fake


@pytest.fixture(scope="module")
def site(receiver, tmp_path_factory):
    """The database, set up; the shared environment; two web nodes; two clusters (torn down after)."""
    server = os.environ["FUNDFILL_TEST_DATABASE_URL"]
    name = f"fundfill_scale_{secrets.token_hex(4)}"
    with psycopg.connect(_with_path(server, "/postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database = _with_path(server, f"/{name}")
    logs = tmp_path_factory.mktemp("scale_out")
    ports = [free_port(), free_port()]
    env = environment(
        database, redis_url=_with_path(os.environ["FUNDFILL_TEST_REDIS_URL"], "/10"), port=ports[0]
    )
    env.update(
        ANNOUNCERS="console",
        WEBHOOKS_ALLOW_PRIVATE="true",
        INSECURE_COOKIES="true",  # the admin over plain-HTTP loopback
        PLEDGE_RATE_LIMIT=f"{RATE}/h",
        OUTBOX_LEASE_SECONDS=str(LEASE_SECONDS),
        Q_TIMEOUT=str(LEASE_SECONDS - 3),
        Q_RETRY=str(LEASE_SECONDS * 4),
        Q_WORKERS="1",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",  # receipts: not the subject here
        LOG_LEVEL="INFO",  # the console channel's posts are log lines,
        PYTHONUNBUFFERED="1",  # written at once: a SIGKILLed cluster's buffer would lose its last posts
    )
    started = []
    try:
        script = "".join(
            f"{k} = {v!r}\n"
            for k, v in {
                "RECEIVER": receiver.url,
                "GOAL": GOAL_CENTS,
                "BACKERS": BACKERS,
                "PASSWORD": PASSWORD,
                "VOTE_WEIGHTS": VOTE_WEIGHTS,
                "VOTE_GOAL": VOTE_GOAL_CENTS,
                "CLAIMANT": CLAIMANT_CENTS,
                "LATE_CENTS": LATE_CENTS,
            }.items()
        )
        began = time.monotonic()
        out = manage(env, "shell", "-c", script + SET_UP)
        print(f"database migrated and seeded in {time.monotonic() - began:.1f}s")
        seeded = json.loads(next(line for line in out.splitlines() if line.startswith("@@"))[2:])
        nodes = [Node(env, port, logs / f"web-{label}.log") for port, label in zip(ports, "ab", strict=True)]
        started += nodes
        clusters = [Cluster(logs / label) for label in ("a", "b")]
        for cluster in clusters:
            cluster.logs.mkdir()
            cluster.start(env)
            started.append(cluster)
        for node in nodes:
            node.wait_ready()
        print(f"two nodes and two clusters up {time.monotonic() - began:.1f}s after the start")
        yield Site(database, env, nodes, clusters, seeded, logs)
    finally:
        for proc in reversed(started):
            proc.stop()
        with psycopg.connect(_with_path(server, "/postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Node:
    """One gunicorn (one worker: two nodes are the point, not their size), in its own session."""

    def __init__(self, env, port, log_path):
        self.port, self.url, self.log_path = port, f"http://127.0.0.1:{port}", log_path
        with log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [str(BIN / "gunicorn"), "fundfill.wsgi:application", "--workers", "1"]
                + ["--bind", f"127.0.0.1:{port}", "--no-control-socket", "--graceful-timeout", "2"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self):
        def up():
            try:
                return requests.get(self.url + "/static/css/fundfill.css", timeout=5).status_code == 200
            except requests.ConnectionError:
                assert self.proc.poll() is None, self.log_path.read_text()[-3000:]
                return False

        wait_for(up, f"gunicorn on {self.port} ({self.log_path})", 40)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=20)


class Site:
    def __init__(self, database, env, nodes, clusters, seeded, logs):
        self.database, self.env, self.nodes, self.clusters, self.logs = database, env, nodes, clusters, logs
        self.funds, self.tokens = seeded["funds"], seeded["tokens"]
        self.voted, self.voters = seeded["voted"], seeded["voters"]
        self.claimant, self.latecomer = seeded["claimant"], seeded["latecomer"]

    def api(self, node, method, path, token, **kwargs):
        """A request to `node`'s API as the user holding `token`."""
        headers = {"Authorization": f"Token {token}", **kwargs.pop("headers", {})}
        return requests.request(method, self.nodes[node].url + path, headers=headers, timeout=30, **kwargs)

    def pledge(self, node, backer, fund, cents, key):
        return self.pledge_as(node, self.tokens[backer], fund, cents, key)

    def pledge_as(self, node, token, fund, cents, key):
        path = f"/api/v1/funds/{fund}/pledges/"
        return self.api(
            node, "post", path, token, json={"amount_cents": cents}, headers={"Idempotency-Key": key}
        )

    def ledger_check(self):
        return subprocess.run(
            [sys.executable, "manage.py", "ledger_check"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def deliver_outbox(self):
        """`manage.py deliver_outbox`: the minute's sweep, now (its log counts as a worker's)."""
        swept = subprocess.run(
            [sys.executable, "manage.py", "deliver_outbox"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert swept.returncode == 0, swept.stdout + swept.stderr
        (self.logs / f"sweep-{time.monotonic_ns()}.log").write_text(
            swept.stdout + swept.stderr
        )  # logs: stderr

    def worker_logs(self):
        return "".join(p.read_text(errors="replace") for p in sorted(self.logs.rglob("*.log")))


def pledges_of(site, fund):
    return query(site.database, "SELECT id, key, amount_cents FROM bounties_pledge WHERE fund_id = %s", fund)


def test_pledges_spread_over_both_nodes_are_each_taken_once(site):
    fund = site.funds[0]
    # Each backer (0-7): key 1 to both nodes at the same moment, key 2 to B then replayed on A,
    # keys 3 and 4 to A and B. Amounts differ per key, so a doubled or lost pledge shows in the sum.
    plan, amounts = [], {}
    for backer in range(8):
        keys = [f"scale-{backer}-{n}-{uuid.uuid4().hex[:8]}" for n in range(4)]
        for n, key in enumerate(keys):
            amounts[key] = 150 + 10 * backer + n
        plan.append(
            [
                [(0, backer, keys[0]), (1, backer, keys[0])],  # concurrently
                [(1, backer, keys[1])],
                [(0, backer, keys[1])],  # the replay, on the other node
                [(0, backer, keys[2]), (1, backer, keys[3])],
            ]
        )

    answers = []

    def run_backer(steps):
        for step in steps:
            with ThreadPoolExecutor(len(step)) as pool:
                answers.extend(
                    pool.map(lambda s: (s[2], site.pledge(s[0], s[1], fund, amounts[s[2]], s[2])), step)
                )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(run_backer, plan))

    assert len(answers) == 8 * 6
    assert {r.status_code for _, r in answers} == {201}, [r.text for _, r in answers if r.status_code != 201]
    ids_by_key = {}
    for key, response in answers:
        ids_by_key.setdefault(key, set()).add(response.json()["id"])
    assert all(len(ids) == 1 for ids in ids_by_key.values()), ids_by_key  # a replay names the first pledge
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for _, r in answers) == 8 * 2

    rows = pledges_of(site, fund)
    assert sorted(key for _, key, _ in rows) == sorted(amounts)
    assert {key: cents for _, key, cents in rows} == amounts
    (pledged,) = query(site.database, "SELECT pledged_cents FROM bounties_fund WHERE page_id = %s", fund)[0]
    assert pledged == sum(amounts.values())
    checked = site.ledger_check()
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_rate_limit_and_a_lockout_counted_on_one_node_hold_on_the_other(site):
    # The last backer pledges alternately to A and B: RATE pass, the next is refused on either node,
    # though each node alone saw fewer than RATE.
    eager, fund = BACKERS, site.funds[1]
    statuses = [site.pledge(n % 2, eager, fund, 100, f"eager-{n}").status_code for n in range(RATE + 2)]
    assert statuses == [201] * RATE + [429, 429]
    assert len(pledges_of(site, fund)) == RATE

    # Five wrong passwords, three on A and two on B; then the right one on A is refused as well.
    def token(node, password):
        return requests.post(
            f"{site.nodes[node].url}/api/v1/auth/token/",
            json={"username": "lockme", "password": password},
            timeout=30,
        )

    assert token(1, PASSWORD).status_code == 200  # the account works before
    wrong = [token(node, "wrong").status_code for node in (0, 1, 0, 1, 0)]
    assert wrong[:4] == [400] * 4
    locked = token(1, PASSWORD)
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "locked_out"
    assert token(0, PASSWORD).status_code == 429


def test_votes_spread_over_both_nodes_are_counted_once_and_award_the_escrow_once(site):
    A, B = 0, 1
    fund, voter = site.voted, site.voters
    why = "The link shows no tests for the fix."

    def vote(node, token, approve, reason=""):
        body = {"approve": approve} | ({"reason": reason} if reason else {})
        return site.api(node, "post", f"/api/v1/claims/{claim}/vote/", token, json=body)

    def to_both(token, approve, reason=""):
        """The same vote sent to A and B at the same moment (a double click, a retry by the client)."""
        with ThreadPoolExecutor(2) as pool:
            return list(pool.map(lambda node: vote(node, token, approve, reason), (A, B)))

    def detail(node):
        response = requests.get(f"{site.nodes[node].url}/api/v1/claims/{claim}/", timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    submitted = site.api(
        A,
        "post",
        f"/api/v1/funds/{fund}/claims/",
        site.claimant,
        json={"statement": "Fixed, with tests.", "url": "https://example.com/pull/1"},
    )
    assert submitted.status_code == 201, submitted.text
    claim = submitted.json()["id"]
    eligible = sum(VOTE_WEIGHTS)
    assert submitted.json()["eligible_cents"] == eligible  # the claimant's own pledge carries no weight

    # Round one, every voter at once, alternating nodes. Whatever order the votes land in, neither
    # side can reach half of the weight: approvals at most 2,300 and rejections at most 4,300 of 12,700.
    def voter0():  # pledges more on B, then approves on A and changes to reject on B
        more = site.pledge_as(B, voter[0], fund, LATE_CENTS, f"vote-late-{uuid.uuid4().hex[:8]}")
        return [more, vote(A, voter[0], True), vote(B, voter[0], False, why)]

    scripts = {
        0: voter0,
        1: lambda: [vote(B, voter[1], False, why), vote(A, voter[1], True)],  # reject, then approve
        2: lambda: to_both(voter[2], True),
        3: lambda: [vote(A, voter[3], False), *to_both(voter[3], False, why)],  # no reason, then twice
        4: lambda: [vote(B, voter[4], True)],
        5: lambda: [vote(A, voter[5], False, why)],
        "claimant": lambda: [vote(B, site.claimant, True)],
        "latecomer": lambda: [
            site.pledge_as(A, site.latecomer, fund, LATE_CENTS, "latecomer"),
            vote(B, site.latecomer, True),
        ],
    }
    with ThreadPoolExecutor(len(scripts)) as pool:
        done = dict(zip(scripts, pool.map(lambda script: script(), scripts.values()), strict=True))

    def ok(response, approve, changed):
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "voting", body
        assert (body["vote"]["approve"], body["vote"]["changed"]) == (approve, changed), body["vote"]
        return body["vote"]["weight_cents"]

    def error(response, status):
        assert response.status_code == status, response.text
        return response.json()["error"]["code"]

    more, first, changed = done[0]
    # A fund under vote still takes pledges, which weigh nothing on the claim.
    assert more.status_code == 201, more.text
    assert ok(first, True, False) == ok(changed, False, True) == VOTE_WEIGHTS[0]
    assert [ok(r, a, c) for r, a, c in zip(done[1], (False, True), (False, True), strict=True)] == [200, 200]
    assert sorted(ok(r, True, False) for r in done[2]) == [400, 400]  # the same vote twice is no change
    assert error(done[3][0], 400) == "reason_required"
    assert sorted(ok(r, False, False) for r in done[3][1:]) == [800, 800]
    assert ok(done[4][0], True, False) == 1_600
    assert ok(done[5][0], False, False) == 3_200
    assert error(done["claimant"][0], 403) == "own_claim"
    assert done["latecomer"][0].status_code == 201, done["latecomer"][0].text
    assert error(done["latecomer"][1], 403) == "not_a_backer"  # no money in the fund when the claim opened

    votes = query(
        site.database,
        "SELECT u.username, v.approve, v.weight_cents FROM bounties_vote v"
        " JOIN auth_user u ON u.id = v.user_id WHERE v.claim_id = %s ORDER BY u.username",
        claim,
    )
    approving = {1, 2, 4}
    assert votes == [(f"voter{i}", i in approving, VOTE_WEIGHTS[i]) for i in range(6)]  # one row each
    tally = (sum(VOTE_WEIGHTS[i] for i in approving), sum(VOTE_WEIGHTS[i] for i in (0, 3, 5)))
    assert tally == (2_200, 4_100)
    for node in (A, B):
        body = detail(node)
        assert (body["status"], body["approve_cents"], body["reject_cents"]) == ("voting", *tally), node

    # Round two: the 3,200 backer changes their mind on the other node. 5,400 of 12,700 decides nothing.
    turned = vote(B, voter[5], True)
    assert ok(turned, True, True) == 3_200
    assert (turned.json()["approve_cents"], turned.json()["reject_cents"]) == (5_400, 900)

    # Round three: the 6,400 backer approves on both nodes at once. 11,800 is past half: the first vote
    # decides the claim and pays the escrow; the other finds it decided and moves nothing.
    answers = sorted(to_both(voter[6], True), key=lambda r: r.status_code)
    assert [r.status_code for r in answers] == [200, 409], [r.text for r in answers]
    deciding = answers[0].json()
    assert (deciding["status"], deciding["approve_cents"], deciding["reject_cents"]) == (
        "accepted",
        11_800,
        900,
    )
    assert error(answers[1], 409) == "claim_closed"
    assert error(vote(A, voter[0], True), 409) == "claim_closed"  # on either node

    seen_by = [detail(A), detail(B)]
    assert seen_by[0] == seen_by[1]  # the same claim, tally, decision and timeline from either node
    assert (seen_by[0]["status"], seen_by[0]["approve_cents"], seen_by[0]["reject_cents"]) == (
        "accepted",
        11_800,
        900,
    )
    escrowed = eligible + CLAIMANT_CENTS + 2 * LATE_CENTS  # everything in the fund, late pledges too
    wallet = site.api(B, "get", "/api/v1/wallet/", site.claimant)
    assert wallet.json()["payout_cents"] == escrowed, wallet.text
    assert query(site.database, "SELECT status FROM bounties_fund WHERE page_id = %s", fund) == [("awarded",)]
    assert query(
        site.database, "SELECT balance FROM bounties_account WHERE kind = 'escrow' AND fund_id = %s", fund
    ) == [(0,)]
    awards = query(
        site.database,
        "SELECT e.amount FROM bounties_transfer t JOIN bounties_entry e ON e.transfer_id = t.id"
        " WHERE t.kind = 'award' AND t.fund_id = %s ORDER BY e.amount",
        fund,
    )
    assert awards == [(-escrowed,), (escrowed,)]  # one award: the whole escrow to the claimant's payout
    checked = site.ledger_check()  # the tallies against the votes' weights, too
    assert checked.returncode == 0, checked.stdout + checked.stderr


def admin_session(node):
    """An editor signed in to `node`'s Wagtail admin through its login form."""
    session = requests.Session()
    login = session.get(f"{node.url}/admin/login/", timeout=30)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
    signed_in = session.post(
        f"{node.url}/admin/login/",
        data={"username": "ops", "password": PASSWORD, "csrfmiddlewaretoken": csrf, "next": "/admin/"},
        timeout=30,
    )
    assert signed_in.status_code == 200 and "/admin/login/" not in signed_in.url, signed_in.url
    return session


def post_form(session, url, **fields):
    """Submit the admin form at `url` with its CSRF token and `fields`; the response."""
    page = session.get(url, timeout=30)
    assert page.status_code == 200, (url, page.status_code)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return session.post(url, data={"csrfmiddlewaretoken": csrf, **fields}, timeout=30, allow_redirects=False)


def test_a_change_through_node_a_is_on_node_b_at_once(site):
    a, b = site.nodes
    fund_url = f"{b.url}/funds/scale-out-two/"
    for url in (f"{b.url}/", fund_url, f"{b.url}/funds/"):
        requests.get(url, timeout=30)
        cached = requests.get(url, timeout=30)
        assert cached.headers.get("X-Page-Cache") == "hit", url  # B holds these pages

    editor = admin_session(a)
    message = f"Card payments are slow right now ({secrets.token_hex(2)})."
    (site_id,) = query(site.database, "SELECT id FROM wagtailcore_site WHERE is_default_site")[0]
    saved = post_form(
        editor,
        f"{a.url}/admin/settings/home/incidentnotice/{site_id}/",
        active="on",
        level="warning",
        message=message,
    )
    assert saved.status_code == 302
    time.sleep(LOCAL_SECONDS + 0.05)  # how long a process may trust its last look at the purge generation
    for url in (f"{b.url}/", fund_url):
        assert message in requests.get(url, timeout=30).text, url

    (page_id,) = query(site.database, "SELECT id FROM wagtailcore_page WHERE slug = 'scale-out-two'")[0]
    unpublished = post_form(editor, f"{a.url}/admin/pages/{page_id}/unpublish/")
    assert unpublished.status_code == 302
    time.sleep(LOCAL_SECONDS + 0.05)
    assert requests.get(fund_url, timeout=30).status_code == 404
    assert "/funds/scale-out-two/" not in requests.get(f"{b.url}/funds/", timeout=30).text


def outbox_rows(site):
    return query(
        site.database,
        "SELECT id, dedupe_key, channel, status, attempts, provider_message_id FROM bounties_outbox ORDER BY id",
    )


def delivered(site, receiver):
    """Each row's deliveries: webhook rows by webhook-id at the receiver, console rows by log line."""
    logs = site.worker_logs()
    received = [r.headers.get("webhook-id") or r.headers.get("Webhook-Id") for r in receiver.requests]
    counts = {}
    for _, key, channel, _, _, provider_id in outbox_rows(site):
        if channel == "webhook":
            counts[key] = received.count(provider_id) if provider_id else 0
        elif channel == "console":
            counts[key] = logs.count(f"announce {key}: ")
    return counts


def milestones_in(rows):
    """The milestone events among outbox rows (`milestone:<fund>:<percent>`, whatever the channel)."""
    return {m.group() for _, key, *_ in rows if (m := re.match(r"milestone:\d+:\d+", key))}


def all_sent(site):
    rows = outbox_rows(site)
    return rows and all(status == "sent" for _, _, _, status, _, _ in rows)


def test_every_announcement_is_delivered_once_by_two_clusters(site, receiver):
    wait_for(lambda: all_sent(site), "every outbox row sent")
    rows = outbox_rows(site)
    channels = {channel for _, _, channel, _, _, _ in rows}
    assert {"console", "webhook", "email"} <= channels  # posts, the endpoint, the pledges' receipts
    # The milestones the spread pledges crossed (fund one: $59.68 of $100, so 25% and 50%) and the
    # funds' publications, each posted once on the console and sent once to the endpoint. (This
    # module's tests build on each other, in order, on one xdist worker: `xdist_group`.)
    milestones = milestones_in(rows)
    assert milestones == {f"milestone:{site.funds[0]}:25", f"milestone:{site.funds[0]}:50"}, milestones
    # The voted claim's submission and decision and its fund's award, posted and sent like them.
    (claim,) = query(site.database, "SELECT id FROM bounties_claim WHERE fund_id = %s", site.voted)[0]
    events = [f"claim:{claim}:submitted", f"claim:{claim}:decided", f"fund:{site.voted}:awarded"]
    staged = {
        (event, channel) for _, key, channel, *_ in rows for event in events if key.startswith(f"{event}:")
    }
    assert {(event, channel) for event in events for channel in ("console", "webhook")} <= staged, staged
    counts = delivered(site, receiver)
    assert counts and set(counts.values()) == {1}, {k: n for k, n in counts.items() if n != 1}


def test_a_cluster_killed_while_sending_loses_nothing(site, receiver):
    a, b = site.clusters
    fund = site.funds[0]
    # B pauses (its workers take nothing), so A takes the next rows; the receiver holds the first
    # webhook it gets, so A is mid-send when it is killed.
    os.killpg(b.proc.pid, signal.SIGSTOP)
    holding, release = threading.Event(), threading.Event()

    def hold(request):
        if not holding.is_set():
            holding.set()
            release.wait(30)

    receiver.on_request = hold
    try:
        before = len(outbox_rows(site))
        # Four more backers on both nodes take fund one from 59.68% past 75% and 100%.
        responses = [site.pledge(i % 2, 8 + i, fund, 1_100, f"late-{i}") for i in range(4)]
        assert [r.status_code for r in responses] == [201] * 4
        assert holding.wait(30), "cluster A sent nothing"
        a.kill()  # SIGKILL to its process group, mid-send
    finally:
        os.killpg(b.proc.pid, signal.SIGCONT)
        release.set()
        receiver.on_request = None

    staged = outbox_rows(site)[before:]
    assert milestones_in(staged) == {f"milestone:{fund}:75", f"milestone:{fund}:100"}
    # Cluster B works off what was queued; once the held row's lease is over, the sweep sends it again.
    time.sleep(LEASE_SECONDS + 1)
    site.deliver_outbox()
    wait_for(lambda: all_sent(site), "every row sent after the kill (cluster B and the sweep)")
    counts = delivered(site, receiver)
    assert all(n >= 1 for n in counts.values()), {k: n for k, n in counts.items() if not n}
    # Only a row whose first attempt the kill cut short went out again (a webhook under the same
    # webhook-id, which receivers fold); the held one is such a row.
    attempts = {key: tries for _, key, _, _, tries, _ in outbox_rows(site)}
    again = {key for key, n in counts.items() if n > 1}
    assert again and all(attempts[key] > 1 for key in again), {key: attempts[key] for key in again}
    checked = site.ledger_check()
    assert checked.returncode == 0, checked.stdout + checked.stderr
