"""The real django-q2 worker delivers the outbox (RELIABILITY §3.5), against local fakes of X, Mastodon
and Bluesky.

A `manage.py qcluster` subprocess (`tests.served_settings`, two workers, the ORM broker; Redis at the
end) runs on a database of its own on the harness's PostgreSQL, with every channel pointed at the fakes,
which run in this process and record every post. Events are made in another process, a `manage.py
shell` that stays up and runs each test's script through the services (a fund published, backers topped
up by signed deposits, pledges crossing milestones), so each row is nudged to the broker after its
commit, as in production; `deliver_outbox` (the sweep's pass) runs there too. Every check polls the
fakes and the outbox rows until a deadline; no sleep is an assertion.

Proved:
1. each event is posted once on every channel, and its row is `sent` with that post's id, by the
   cluster's own `outbox_deliver` tasks;
2. a cluster SIGKILLed while a post is in flight on each network (the fake made it and holds the answer)
   and restarted loses nothing and posts nothing twice: once the leases (`OUTBOX_LEASE_SECONDS`, short
   here) expire, the sweep's pass finds each post among the account's recent ones and records its id;
   Mastodon's POSTs carry the row's Idempotency-Key;
3. a 429 reschedules the row at the reset exactly (X and Bluesky), a pass before it sends nothing, and
   the retry after it posts once;
4. a 5xx (X and Mastodon) backs the row off; once the backoff has passed, the sweep's nudge has the
   worker post it once; X's duplicate-content 403 for a tweet the account already has is recorded
   as that tweet, and nothing is posted twice;
5. a pledge whose transaction fails after staging its milestone posts nothing;
6. two hundred concurrent pledges, each crossing 25% alone, post each milestone once per channel;
7. a claim through to its award (submitted, voted, accepted, the fund awarded) and the fund's news
   are each posted once on every channel;
8. a daily cap defers the rest to tomorrow and says so on the row, even while the day's last post is
   still in flight on another worker (it counts; that was a bug);
9. with the Redis broker, (1) again, and nothing goes through the ORM queue.
"""

import json
import os
import queue
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote_plus

import psycopg
import pytest

from tests.fakes.bluesky_server import APP_PASSWORD, HANDLE, FakeBluesky
from tests.fakes.mastodon_server import TOKEN, FakeMastodon
from tests.fakes.x_server import DUPLICATE_DETAIL, FakeX
from tests.integration.test_cross_process_publish import _with_path, environment

pytestmark = pytest.mark.xdist_group("worker_delivery")

ROOT = Path(__file__).resolve().parents[2]
CHANNELS = ("console", "mastodon", "twitter", "bluesky")
SOCIAL = CHANNELS[1:]
# Short, for the test's sake, yet longer than any one delivery here (a fresh worker's first call to a
# network, imports and login included): a lease shorter than the call lets a second worker post again.
LEASE_SECONDS = 8
# How long a wait for the worker may take before it fails: generous, since a loaded 2-core box
# (the whole suite on xdist) slows the cluster's start and each delivery; a passing wait returns at once.
DEADLINE_SECONDS = 60

SET_UP = """
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=0)
from tests.factories import build_site
build_site()
"""

# Run before every event script (`manage.py shell -c`): the services, as a request would call them.
PRELUDE = """
import json, uuid
from django.contrib.auth import get_user_model
from django.utils.text import slugify
from bounties.models import FundIndexPage, Outbox, Pledge
from bounties.services.pledging import pledge_create
from tests.factories import FundPageFactory, publish
from tests.money import top_up

def new_fund(title, goal_cents=100_000):
    page = FundPageFactory(
        parent=FundIndexPage.objects.get(), title=title, slug=slugify(title), goal_cents=goal_cents
    )
    publish(page)  # "fund_published"
    return page.pk

def backer(name, cents):
    user = get_user_model().objects.create_user(username=name)
    top_up(user, cents)
    return user

def pledge(user, fund, cents):
    return pledge_create(user=user, fund_id=fund, amount_cents=cents, key=uuid.uuid4().hex)
"""

# The events shell: PRELUDE once, then each script sent on stdin (a JSON string a line); a script's
# `result` comes back on a line of its own.
SERVER = """
import json, sys, traceback
base = {"__name__": "events"}
exec(@PRELUDE@, base)
for line in sys.stdin:
    space = dict(base)
    try:
        exec(json.loads(line), space)
        answer = {"result": space.get("result")}
    except BaseException:
        answer = {"error": traceback.format_exc()}
    print("@@RESULT " + json.dumps(answer, default=str), flush=True)
"""

DELIVER_OUTBOX = """
import io
from django.core.management import call_command
out = io.StringIO()
call_command("deliver_outbox", stdout=out)
result = out.getvalue().strip()
"""

PUBLISH_AND_CROSS = """
fund = new_fund(TITLE)
pledge(backer(TITLE + " backer", 25_000), fund, 25_000)  # 25% of $1,000
result = {"fund": fund}
"""

ROLLED_BACK = """
import bounties.services.pledging as pledging
fund = new_fund(TITLE)
user = backer(TITLE + " backer", 50_000)
real = pledging._announce  # stages the milestones, on the SQL and the ORM path alike

def then_fail(*args, **kwargs):  # the pledge and its milestone are staged, then the transaction fails
    real(*args, **kwargs)
    assert Outbox.objects.filter(dedupe_key__startswith=f"milestone:{fund}:").exists()
    raise RuntimeError("the pledge's transaction fails after staging its milestone")

pledging._announce = then_fail
try:
    pledge(user, fund, 50_000)
except RuntimeError:
    pass
pledging._announce = real
left = Outbox.objects.filter(dedupe_key__startswith=f"milestone:{fund}:").count()
pledges = Pledge.objects.filter(fund_id=fund).count()
marker = new_fund(MARKER)  # committed after the rollback: once it is posted, the worker had its turn
result = {"fund": fund, "marker": marker, "left": left, "pledges": pledges}
"""

CONCURRENT_PLEDGES = 200

# Two hundred threads, each with its own connection to PostgreSQL (the harness allows 300).
MANY_AT_ONCE = """
from tests.integration import errors_of, run_concurrently
fund = new_fund(TITLE)
pledge(backer(TITLE + " seed", 24_900), fund, 24_900)  # 24.9%: each pledge below crosses 25% alone
users = [backer(f"{TITLE} {i}", 1_000) for i in range(COUNT)]
results = run_concurrently([lambda u=u: pledge(u, fund, 1_000) for u in users])
staged = sorted(
    key.removesuffix(":console")
    for key in Outbox.objects.filter(fund_id=fund, channel="console").values_list("dedupe_key", flat=True)
)
result = {"fund": fund, "errors": [repr(e) for e in errors_of(results)], "staged": staged}
"""

# A fund's claim through to its award, then its news: each event through the services.
CLAIM_TO_AWARD = """
from bounties.models import FundPage
from bounties.services.claims import claim_submit, vote_cast
from tests.factories import FundUpdatePageFactory

fund = new_fund(TITLE)
backers = [backer(f"{TITLE} backer {n}", 10_000) for n in range(2)]
for person in backers:
    pledge(person, fund, 10_000)  # 20% of $1,000 together: no milestone, so only the claim's events follow
claimant = get_user_model().objects.create_user(username=CLAIMANT)
claim = claim_submit(
    user=claimant, fund_id=fund, statement="I did the work.", url="https://example.com/audit-report.pdf"
)  # "claim_submitted"
for person in backers:  # the second approval holds all the weight: accepted ("claim_decided"), then
    outcome = vote_cast(user=person, claim_id=claim.pk, approve=True)  # the award ("fund_awarded")
news = FundUpdatePageFactory(parent=FundPage.objects.get(pk=fund), title=NEWS, slug=slugify(NEWS))
publish(news)  # "news_published"
claim.refresh_from_db()
result = {"fund": fund, "claim": claim.pk, "status": claim.status, "news": news.pk}
"""

# The account already has the very tweet the fund's publication will post (an earlier post whose
# answer was lost and whose reconciliation missed it, or someone posting it by hand): the shell posts
# it through the row's own sender inside the publishing transaction, before the row is nudged.
ALREADY_ON_X = """
from django.db import transaction
from bounties.announcers.registry import sender_for

with transaction.atomic():
    fund = new_fund(TITLE)
    row = Outbox.objects.get(dedupe_key=f"fund:{fund}:published:twitter")
    existing = sender_for(row).send(row)
result = {"fund": fund, "existing": existing}
"""

# What the minute's sweep does (bounties.tasks.outbox_sweep): a delivery task on the broker for each
# row due, which the cluster runs.
SWEEP = """
from bounties.tasks import outbox_sweep
outbox_sweep()
"""

# A row's backoff, passed: due now, as it would be once its `next_attempt_at` came.
BACKOFF_PASSED = """
from django.utils import timezone
Outbox.objects.filter(pk__in=IDS, status="pending").update(next_attempt_at=timezone.now())
"""

CROSS_TWO = """
fund = new_fund(TITLE)
pledge(backer(TITLE + " backer", 50_000), fund, 50_000)  # 25% and 50% at once
result = {"fund": fund}
"""


def _title(label):
    return f"Worker {label} {secrets.token_hex(3)}"


def expected_texts(title, fund_id, events):
    """What each event of `events` says about the fund `title` (bounties/announcers/messages.py)."""
    texts = {}
    for event in events:
        if event == "published":
            texts[f"fund:{fund_id}:published"] = f"New bounty on Fundfill: {title}."
        elif event.startswith("milestone:"):
            percent = event.split(":")[1]
            texts[f"milestone:{fund_id}:{percent}"] = f"{title} has reached {percent}% of its"
        elif event.startswith("backers:"):
            count = event.split(":")[1]
            texts[f"backers:{fund_id}:{count}"] = f"{title} now has {count} backers."
        elif event == "awarded":
            texts[f"fund:{fund_id}:awarded"] = f"{title} is awarded: "
    return texts


def claim_texts(title, claimant, claim_id):
    """What a claim's submission and its acceptance say (bounties/announcers/messages.py)."""
    return {
        f"claim:{claim_id}:submitted": f"{claimant} has claimed the bounty {title}.",
        f"claim:{claim_id}:decided": f"The backers of {title} have accepted a claim on the bounty.",
    }


# --- the fakes, the database, the worker -----------------------------------------------------------


class Fakes:
    def __init__(self):
        self.x, self.mastodon, self.bluesky = FakeX(), FakeMastodon(), FakeBluesky()

    def __iter__(self):
        return iter((self.mastodon, self.x, self.bluesky))

    def named(self):
        return (("mastodon", self.mastodon), ("twitter", self.x), ("bluesky", self.bluesky))

    def posts(self, needle):
        """Each network's posts containing `needle`, as (provider id, text)."""
        return {
            "mastodon": [(s["id"], s["content"]) for s in self.mastodon.statuses if needle in s["content"]],
            "twitter": [(t["id"], t["_original"]) for t in self.x.tweets if needle in t["_original"]],
            "bluesky": [
                (p["uri"], p["record"]["text"]) for p in self.bluesky.posts if needle in p["record"]["text"]
            ],
        }

    def post_path(self, fake):
        return {
            self.x: "/2/tweets",
            self.mastodon: "/api/v1/statuses",
            self.bluesky: "/xrpc/com.atproto.repo.createRecord",
        }[fake]


@pytest.fixture(scope="module")
def fakes():
    found = Fakes()
    for fake in found:
        fake.start()
    yield found
    for fake in found:
        fake.release_holds()
        fake.stop()


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """Every process's output (the console channel's posts are its log lines)."""
    return tmp_path_factory.mktemp("worker_delivery")


@pytest.fixture(scope="module")
def database():
    """A database of its own on the harness's PostgreSQL (`events` migrates it)."""
    server = os.environ["FUNDFILL_TEST_DATABASE_URL"]
    name = f"fundfill_worker_{secrets.token_hex(4)}"
    with psycopg.connect(_with_path(server, "/postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_path(server, f"/{name}")
    finally:
        with psycopg.connect(_with_path(server, "/postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def base_env(database, fakes):
    env = environment(database, redis_url="")
    env.update(
        ANNOUNCERS=",".join(CHANNELS),
        TWITTER_API_BASE=fakes.x.url,
        TWITTER_CONSUMER_KEY="ck",
        TWITTER_CONSUMER_SECRET="cs",
        TWITTER_ACCESS_TOKEN="at",
        TWITTER_ACCESS_TOKEN_SECRET="ats",
        MASTODON_API_BASE=fakes.mastodon.url,
        MASTODON_ACCESS_TOKEN=TOKEN,
        BLUESKY_API_BASE=fakes.bluesky.url,
        BLUESKY_HANDLE=HANDLE,
        BLUESKY_APP_PASSWORD=APP_PASSWORD,
        OUTBOX_LEASE_SECONDS=str(LEASE_SECONDS),
        # The lease must outlast the task timeout (check fundfill.E012), and retry come after both.
        Q_TIMEOUT=str(LEASE_SECONDS - 3),
        Q_RETRY=str(LEASE_SECONDS * 4),
        Q_WORKERS="2",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",  # receipts: not our subject
        LOG_LEVEL="INFO",  # the console channel's posts are log lines
    )
    return env


class Events:
    """A `manage.py shell` that stays up and runs each script sent to it (after PRELUDE): the events are
    made through the services in another process, without a Django start-up for each."""

    def __init__(self, env, logs: Path, name: str):
        self.log_path = logs / f"{name}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-c", SERVER.replace("@PRELUDE@", repr(PRELUDE))],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        self.results = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        with self.log_path.open("w") as log:
            for line in self.proc.stdout:
                log.write(line)
                log.flush()
                if line.startswith("@@RESULT "):
                    self.results.put(json.loads(line.removeprefix("@@RESULT ")))
        self.results.put({"error": f"the shell ended: see {self.log_path}"})

    def run(self, script, **names):
        """Run `script` with `names` bound; its `result`."""
        bound = "".join(f"{name} = {value!r}\n" for name, value in names.items())
        self.proc.stdin.write(json.dumps(bound + script) + "\n")
        self.proc.stdin.flush()
        try:
            answer = self.results.get(timeout=120)
        except queue.Empty:
            raise AssertionError(f"the shell did not answer: {self.log_path}") from None
        assert "error" not in answer, answer["error"]
        return answer["result"]

    def deliver_outbox(self):
        """`manage.py deliver_outbox` (what the minute's sweep does, in this process, now)."""
        return self.run(DELIVER_OUTBOX)

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.reader.join(timeout=5)


@pytest.fixture(scope="module")
def redis_env(base_env):
    """The worker's broker on Redis (a database of the harness's Redis that the suite does not use)."""
    return {**base_env, "REDIS_URL": _with_path(os.environ["FUNDFILL_TEST_REDIS_URL"], "/8")}


@pytest.fixture(scope="module")
def events(base_env, redis_env, logs):
    """The events shell (ORM broker); its twin for the Redis test starts now, so it is up by then."""
    started = time.monotonic()
    shell = Events(base_env, logs, "events")
    shell.redis_twin = Events(redis_env, logs, "events-redis")
    shell.run(SET_UP)
    print(f"events shell up and database migrated in {time.monotonic() - started:.1f}s")
    yield shell
    shell.close()
    shell.redis_twin.close()


class Cluster:
    """One `manage.py qcluster` at a time, in its own process group (so SIGKILL takes every worker)."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.proc = None
        self.env = None
        self.runs = 0

    def ensure(self, env):
        if self.proc is not None and self.proc.poll() is None and env == self.env:
            return
        self.stop()
        self.start(env)

    def start(self, env):
        self.runs += 1
        log_path = self.logs / f"qcluster-{self.runs}.log"
        with log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.env = env
        started = time.monotonic()
        wait_for(lambda: "running." in log_path.read_text(errors="replace"), f"qcluster up ({log_path})", 40)
        print(f"qcluster {self.runs} up in {time.monotonic() - started:.1f}s")

    def kill(self):
        """SIGKILL the whole cluster: sentinel, pusher, workers, monitor; nothing runs a cleanup."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None

    def stop(self):
        """Between tests nothing is in flight (each test waits until its rows settle): no need to wait
        for a graceful stop."""
        if self.proc is not None:
            self.kill()

    def log_text(self):
        return "".join(path.read_text(errors="replace") for path in sorted(self.logs.glob("*.log")))


@pytest.fixture(scope="module")
def cluster(logs, events):
    running = Cluster(logs)
    yield running
    running.stop()


# --- helpers ---------------------------------------------------------------------------------------


def wait_for(predicate, what, timeout=DEADLINE_SECONDS):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.05)


def query(database, sql, *params):
    with psycopg.connect(database, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def outbox(database, keys):
    """{dedupe key: row} for the social rows of `keys` (an event key and ":channel")."""
    wanted = [f"{key}:{channel}" for key in keys for channel in CHANNELS]
    rows = query(
        database,
        "SELECT dedupe_key, channel, status, provider_message_id, attempts, next_attempt_at, lease_until,"
        " last_error, id FROM bounties_outbox WHERE dedupe_key = ANY(%s)",
        wanted,
    )
    names = (
        "key",
        "channel",
        "status",
        "provider_id",
        "attempts",
        "next_attempt_at",
        "lease_until",
        "error",
        "id",
    )
    return {row[0]: dict(zip(names, row, strict=True)) for row in rows}


def all_sent(database, keys):
    rows = outbox(database, keys)
    return (
        rows
        if len(rows) == len(keys) * len(CHANNELS) and all(r["status"] == "sent" for r in rows.values())
        else None
    )


def worker_tasks_done(database, rows):
    """Each row's `outbox_deliver` task ran in the cluster and succeeded (the cluster saves its results
    just after the task returns)."""
    names = {f"outbox-{row['id']}" for row in rows.values()}
    done = query(
        database, "SELECT DISTINCT name FROM django_q_task WHERE success AND name = ANY(%s)", list(names)
    )
    return {name for (name,) in done} == names


def assert_one_post_per_channel(fakes, cluster, rows, texts, *, console_log=True):
    """Each event's text posted exactly once on each network, and its row records that post's id."""
    for key, text in texts.items():
        posts = fakes.posts(text)
        for channel in SOCIAL:
            assert len(posts[channel]) == 1, (channel, key, posts[channel])
            assert rows[f"{key}:{channel}"]["provider_id"] == posts[channel][0][0], (channel, key)
        console = rows[f"{key}:console"]
        assert console["provider_id"] == f"console:{key}:console"
        if console_log:
            lines = re.findall(rf"announce {re.escape(key)}:console: ", cluster.log_text())
            assert len(lines) == 1, (key, lines)


# --- the tests -------------------------------------------------------------------------------------


def test_each_event_is_posted_once_on_every_channel_by_the_worker(fakes, database, base_env, events, cluster):
    cluster.ensure(base_env)
    started = time.monotonic()
    title = _title("one")
    fund = events.run(PUBLISH_AND_CROSS, TITLE=title)["fund"]
    texts = expected_texts(title, fund, ["published", "milestone:25"])

    rows = wait_for(lambda: all_sent(database, texts), "every row sent")
    print(f"worker delivered 2 events x 4 channels {time.monotonic() - started:.1f}s after the shell began")
    assert_one_post_per_channel(fakes, cluster, rows, texts)
    # The worker did it, row by row, from the nudges (no deliver_outbox ran here).
    wait_for(lambda: worker_tasks_done(database, rows), "the worker's task results saved")


def test_a_worker_killed_mid_delivery_loses_nothing_and_posts_nothing_twice(
    fakes, database, base_env, events, cluster
):
    cluster.ensure({**base_env, "Q_WORKERS": "3"})  # a worker for each network's call to be in flight at once
    # Each network makes the first post asked of it, and keeps the answer back.
    for fake in fakes:
        fake.hold_next(method="POST", path=fakes.post_path(fake))
    title = _title("killed")
    fund = events.run(PUBLISH_AND_CROSS, TITLE=title)["fund"]
    texts = expected_texts(title, fund, ["published", "milestone:25"])

    def held():
        return {
            name: [r for r in fake.held() if title in unquote_plus(r.body.decode())]
            for name, fake in fakes.named()
        }

    # Every worker is inside a provider call that the provider has carried out.
    wait_for(lambda: all(held().values()), "a post held on each network")
    cluster.kill()
    killed_at = time.monotonic()
    for fake in fakes:
        fake.release_holds()  # the answers go to a dead socket
    rows = outbox(database, texts)
    # On each network one row is in flight, the first one a worker took: the publication's or the
    # milestone's (the two events' tasks run side by side, in either order).
    sending = {key for key, row in rows.items() if row["status"] == "sending"}
    in_flight = {key.rsplit(":", 1)[1]: key for key in sending}
    assert len(sending) == len(SOCIAL) and set(in_flight) == set(SOCIAL), {
        k: r["status"] for k, r in rows.items()
    }
    assert {key.rsplit(":", 1)[0] for key in sending} <= set(texts)
    assert not any(rows[key]["provider_id"] for key in sending)  # nobody heard back
    answers = {name: requests[0].response for name, requests in held().items()}
    made = {
        "mastodon": answers["mastodon"]["id"],
        "twitter": answers["twitter"]["data"]["id"],
        "bluesky": answers["bluesky"]["uri"],
    }

    cluster.start(base_env)  # restarted; the dead one's nudges are lost (or locked in the queue for `retry`)
    lease_end = max(rows[key]["lease_until"] for key in sending)
    wait_for(lambda: datetime.now(UTC) > lease_end, "the dead worker's leases expired", LEASE_SECONDS + 5)
    out = events.deliver_outbox()  # the sweep's pass, without waiting for the minute

    rows = wait_for(lambda: all_sent(database, texts), "every row sent after the restart")
    print(f"recovered {time.monotonic() - killed_at:.1f}s after SIGKILL; deliver_outbox: {out}")
    assert_one_post_per_channel(fakes, cluster, rows, texts, console_log=False)
    for channel in SOCIAL:
        row = rows[in_flight[channel]]
        assert (row["provider_id"], row["attempts"]) == (made[channel], 2), channel  # found, not posted again
    # Found among the account's recent posts, read once the leases had expired.
    after = lease_end.timestamp()
    assert [r for r in fakes.x.calls("GET", "/2/users/") if r.at > after]
    assert [r for r in fakes.bluesky.xrpc_calls("app.bsky.feed.getAuthorFeed") if r.at > after]
    assert [r for r in fakes.mastodon.calls("GET", "/api/v1/accounts/") if r.at > after]
    # Mastodon: each of its rows' POSTs carried that row's own Idempotency-Key (had `find` missed the
    # status, a second POST would have been answered with the first).
    for key, text in texts.items():
        posts = [
            r for r in fakes.mastodon.calls("POST", "/api/v1/statuses") if text in r.form.get("status", "")
        ]
        assert posts and {r.header("Idempotency-Key") for r in posts} == {f"{key}:mastodon"}, key


def test_a_rate_limit_is_retried_at_its_reset_and_not_before(fakes, database, base_env, events, cluster):
    cluster.ensure(base_env)
    reset = datetime.fromtimestamp(int(time.time()) + 12, UTC)  # room for a loaded box before it
    fakes.x.rate_limit_next(reset, method="POST", path="/2/tweets")
    fakes.bluesky.rate_limit_next(reset, method="POST", path="/xrpc/com.atproto.repo.createRecord")
    title = _title("limited")
    fund = new_fund_only(events, title)
    texts = expected_texts(title, fund, ["published"])
    (key,) = texts

    def limited():
        rows = outbox(database, texts)
        return (
            rows
            if all(
                rows.get(f"{key}:{c}", {}).get("error", "").startswith("Rate limited")
                for c in ("twitter", "bluesky")
            )
            else None
        )

    rows = wait_for(limited, "X and Bluesky rate limited")
    for channel in ("twitter", "bluesky"):
        row = rows[f"{key}:{channel}"]
        assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("pending", 0, reset), channel
    # A pass over the outbox before the reset sends nothing to them.
    events.deliver_outbox()
    assert datetime.now(UTC) < reset, "the early pass ran past the reset: make the reset later"
    assert not fakes.posts(title)["twitter"] and not fakes.posts(title)["bluesky"]
    assert outbox(database, texts)[f"{key}:twitter"]["status"] == "pending"

    wait_for(lambda: datetime.now(UTC) >= reset, "the reset", 20)
    events.deliver_outbox()
    rows = wait_for(lambda: all_sent(database, texts), "sent after the reset")
    assert_one_post_per_channel(fakes, cluster, rows, texts)
    for fake, path in ((fakes.x, "/2/tweets"), (fakes.bluesky, "/xrpc/com.atproto.repo.createRecord")):
        attempts = [r for r in fake.calls("POST", path) if title in r.body.decode()]
        assert [r.status for r in attempts] == [429, 201 if fake is fakes.x else 200], path
        assert attempts[1].at >= reset.timestamp(), (path, attempts[1].at, reset)


def posted_text(request):
    """The text of a POST to X (JSON `text`) or Mastodon (form `status`)."""
    return request.form.get("text") or request.form.get("status") or ""


def new_fund_only(events, title):
    return events.run('result = {"fund": new_fund(TITLE)}', TITLE=title)["fund"]


def test_a_rolled_back_pledge_posts_nothing(fakes, database, base_env, events, cluster):
    cluster.ensure(base_env)
    title, marker = _title("rolled back"), _title("marker")
    result = events.run(ROLLED_BACK, TITLE=title, MARKER=marker)
    assert (result["left"], result["pledges"]) == (0, 0)  # nothing staged survived the rollback

    # The marker was committed after the rollback: once it is out everywhere, the worker had its turn.
    # The rolled-back pledge's fund was published (committed) before it: its rows settle too, so that
    # nothing of this test is still in flight when the next one counts the day's posts.
    marker_texts = expected_texts(marker, result["marker"], ["published"])
    published = expected_texts(title, result["fund"], ["published"])
    wait_for(lambda: all_sent(database, {**marker_texts, **published}), "the marker and the fund sent")
    reached = f"{title} has reached"
    assert fakes.posts(reached) == {"mastodon": [], "twitter": [], "bluesky": []}
    assert f"milestone:{result['fund']}:" not in cluster.log_text()
    assert not query(
        database, "SELECT 1 FROM bounties_outbox WHERE dedupe_key LIKE %s", f"milestone:{result['fund']}:%"
    )


def test_two_hundred_concurrent_pledges_crossing_a_milestone_post_it_once_per_channel(
    fakes, database, base_env, events, cluster
):
    cluster.ensure(base_env)
    started = time.monotonic()
    title = _title("two hundred")
    result = events.run(MANY_AT_ONCE, TITLE=title, COUNT=CONCURRENT_PLEDGES)
    assert result["errors"] == []
    pledged = time.monotonic() - started
    # $249 + 200 × $10 of $1,000: every percentage milestone, and 201 backers (10, 20, 40, 80, 160).
    milestones = [f"milestone:{percent}" for percent in (25, 50, 75, 100)]
    backers = [f"backers:{count}" for count in (10, 20, 40, 80, 160)]
    texts = expected_texts(title, result["fund"], ["published", *milestones, *backers])
    assert result["staged"] == sorted(texts)  # each event staged once (its dedupe key), nothing else

    rows = wait_for(lambda: all_sent(database, texts), "every milestone sent")
    print(
        f"{CONCURRENT_PLEDGES + 1} pledges (backers topped up first) in {pledged:.1f}s; {len(texts)} events x 4 channels delivered"
        f" {time.monotonic() - started:.1f}s after the shell began"
    )
    assert_one_post_per_channel(fakes, cluster, rows, texts)


def test_a_claim_through_to_its_award_and_the_funds_news_are_posted_once_on_every_channel(
    fakes, database, base_env, events, cluster
):
    cluster.ensure(base_env)
    started = time.monotonic()
    title, claimant = _title("award"), f"claimant-{secrets.token_hex(3)}"
    news_title = f"Audit report {secrets.token_hex(3)}"
    result = events.run(CLAIM_TO_AWARD, TITLE=title, CLAIMANT=claimant, NEWS=news_title)
    assert result["status"] == "accepted"
    texts = {
        **expected_texts(title, result["fund"], ["published", "awarded"]),
        **claim_texts(title, claimant, result["claim"]),
        f"news:{result['news']}:published": f"News from {title}: {news_title}",
    }

    rows = wait_for(lambda: all_sent(database, texts), "the claim's, the award's and the news's rows sent")
    print(f"claim to award and news: 5 events x 4 channels in {time.monotonic() - started:.1f}s")
    assert_one_post_per_channel(fakes, cluster, rows, texts)
    # By the cluster's own tasks, from the nudges (no deliver_outbox ran here).
    wait_for(lambda: worker_tasks_done(database, rows), "the worker's task results saved")


def test_a_5xx_backs_off_then_the_worker_posts_once(fakes, database, base_env, events, cluster):
    cluster.ensure(base_env)
    posts = {"twitter": (fakes.x, "/2/tweets"), "mastodon": (fakes.mastodon, "/api/v1/statuses")}
    for fake, path in posts.values():
        fake.fail_next(503, method="POST", path=path)
    title = _title("5xx")
    fund = new_fund_only(events, title)
    texts = expected_texts(title, fund, ["published"])
    (key,) = texts

    def backed_off():
        rows = outbox(database, texts)
        return (
            rows
            if all(
                rows.get(f"{key}:{c}", {}).get("status") == "pending" and rows[f"{key}:{c}"]["attempts"] == 1
                for c in posts
            )
            else None
        )

    rows = wait_for(backed_off, "X and Mastodon answered 503 and backed off")
    for channel in posts:
        row = rows[f"{key}:{channel}"]
        assert "server error" in row["error"] and "503" in row["error"], (channel, row["error"])
        assert row["next_attempt_at"] > datetime.now(UTC), channel  # not retried at once
    assert not fakes.posts(title)["twitter"] and not fakes.posts(title)["mastodon"]

    # The backoff (15-30 s for a first failure) has passed; the minute's sweep nudges the rows.
    events.run(BACKOFF_PASSED, IDS=[rows[f"{key}:{c}"]["id"] for c in posts])
    events.run(SWEEP)
    rows = wait_for(lambda: all_sent(database, texts), "sent by the worker after the backoff")
    assert_one_post_per_channel(fakes, cluster, rows, texts)
    for channel, (fake, path) in posts.items():
        tries = [r for r in fake.calls("POST", path) if title in posted_text(r)]
        assert [r.status for r in tries] == [503, 201 if fake is fakes.x else 200], channel
        assert rows[f"{key}:{channel}"]["attempts"] == 2, channel
    wait_for(lambda: worker_tasks_done(database, rows), "the worker's task results saved")


def test_xs_duplicate_content_refusal_records_the_existing_tweet(fakes, database, base_env, events, cluster):
    cluster.ensure(base_env)
    title = _title("duplicate")
    result = events.run(ALREADY_ON_X, TITLE=title)
    texts = expected_texts(title, result["fund"], ["published"])
    (key,) = texts

    rows = wait_for(lambda: all_sent(database, texts), "every row sent")
    assert_one_post_per_channel(fakes, cluster, rows, texts)
    # The worker's POST met X's duplicate-content 403; the row records the tweet that was there.
    tries = [r for r in fakes.x.calls("POST", "/2/tweets") if title in posted_text(r)]
    assert [r.status for r in tries] == [201, 403]  # the shell's post, then the worker's
    assert tries[1].response["detail"] == DUPLICATE_DETAIL
    assert rows[f"{key}:twitter"]["provider_id"] == result["existing"]
    assert len(fakes.posts(title)["twitter"]) == 1


def mastodon_posts_today(database):
    """The day's Mastodon posts as the cap counts them, once no Mastodon row is on its way or due (an
    earlier test's row still in flight would otherwise take the one post this test allows)."""

    def quiet():
        (busy,) = query(
            database,
            "SELECT count(*) FROM bounties_outbox WHERE channel = 'mastodon'"
            " AND (status = 'sending' OR (status = 'pending' AND next_attempt_at <= now()))",
        )[0]
        return busy == 0

    wait_for(quiet, "no Mastodon row on its way")
    return query(
        database,
        "SELECT count(*) FROM bounties_outbox WHERE channel = 'mastodon' AND status = 'sent' AND sent_at >= %s",
        datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0),
    )[0][0]


def test_a_daily_cap_defers_the_rest_and_says_so(fakes, database, base_env, events, cluster):
    sent_today = mastodon_posts_today(database)
    # One more Mastodon post today; leases long enough to outlast the held answer below.
    env = {**base_env, "ANNOUNCE_DAILY_CAP": f"mastodon={sent_today + 1}", "OUTBOX_LEASE_SECONDS": "30"}
    cluster.ensure(env)
    # The day's last Mastodon post is on its way (its answer held) while the other worker takes the
    # next Mastodon rows: they must count it, not only the posts already recorded as sent.
    fakes.mastodon.hold_next(method="POST", path="/api/v1/statuses")
    title = _title("capped")
    fund = events.run(CROSS_TWO, TITLE=title)["fund"]
    texts = expected_texts(title, fund, ["published", "milestone:25", "milestone:50"])

    def others_decided():
        held = [r for r in fakes.mastodon.held() if title in r.form.get("status", "")]
        if not held:
            return False
        rows = outbox(database, texts)
        others = [
            r
            for r in rows.values()
            if r["channel"] == "mastodon" and r["key"] != held[0].header("Idempotency-Key")
        ]
        return len(others) == 2 and all(
            r["status"] == "sent" or r["error"].startswith("Deferred") for r in others
        )

    try:
        wait_for(others_decided, "the other Mastodon rows decided while the first post is in flight")
    except AssertionError:
        states = {
            k: (r["status"], r["attempts"], r["error"][:40]) for k, r in outbox(database, texts).items()
        }
        raise AssertionError(f"the Mastodon rows not decided in time: {states}") from None
    finally:
        fakes.mastodon.release_holds()

    def settled():
        rows = outbox(database, texts)
        done = [r for r in rows.values() if r["status"] == "sent" or r["error"].startswith("Deferred")]
        return rows if len(rows) == len(done) == 12 else None

    rows = wait_for(settled, "sent or deferred")
    mastodon = [row for key, row in rows.items() if row["channel"] == "mastodon"]
    assert sorted(row["status"] for row in mastodon) == ["pending", "pending", "sent"]
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    for row in mastodon:
        if row["status"] == "pending":
            assert row["error"] == (
                f"Deferred to {tomorrow:%Y-%m-%d}: the daily cap of mastodon posts was reached."
            )
            assert (row["next_attempt_at"], row["attempts"]) == (tomorrow, 0)
    assert len(fakes.posts(title)["mastodon"]) == 1
    assert all(row["status"] == "sent" for row in rows.values() if row["channel"] != "mastodon")


def test_the_redis_broker_delivers_each_event_once_on_every_channel(
    fakes, database, redis_env, events, cluster
):
    import redis

    redis.Redis.from_url(redis_env["REDIS_URL"]).flushdb()
    cluster.ensure(redis_env)
    orm_before = query(database, "SELECT coalesce(max(id), 0) FROM django_q_ormq")[0][0]
    started = time.monotonic()
    title = _title("redis")
    fund = events.redis_twin.run(PUBLISH_AND_CROSS, TITLE=title)["fund"]  # its nudges go to Redis
    texts = expected_texts(title, fund, ["published", "milestone:25"])

    rows = wait_for(lambda: all_sent(database, texts), "every row sent through Redis")
    print(
        f"Redis worker delivered 2 events x 4 channels {time.monotonic() - started:.1f}s after the shell began"
    )
    assert_one_post_per_channel(fakes, cluster, rows, texts)
    assert query(database, "SELECT count(*) FROM django_q_ormq WHERE id > %s", orm_before)[0][0] == 0
    wait_for(lambda: worker_tasks_done(database, rows), "the worker's task results saved")
