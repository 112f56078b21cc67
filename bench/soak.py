"""Soak: the whole site under a mixed load for a set time, then proof that nothing went wrong.

    .venv/bin/python bench/soak.py --minutes 5

Starts its own PostgreSQL and Redis, migrates, seeds the demo site and funded backers with API
tokens (`bench.site_tasks seed`, as pledge_load.py does), then runs the site as production does:
gunicorn (production settings, Redis as cache and broker) and one `manage.py qcluster`. Locust,
headless, drives for `--minutes`:

- anonymous readers (most of the traffic): home, fund index, fund pages, news posts, the feeds,
  search, and the site's bare view (every middleware, no work: the floor, measured in the same run);
- signed-in backers: the same pages with their session (never cached), their pledges, their
  wallet, and pledges to the hot fund through the API, each with an Idempotency-Key, ~10 %
  replaying a key they already sent; now and then a deposit with the test card.

Then it waits for the worker to deliver every outbox row the run staged, runs `ledger_check`,
and compares every pledge Locust was told about with the database (`bench.site_tasks verify`:
nothing lost, nothing doubled). It prints per endpoint req/s, p50/p95/p99 and errors (5xx
apart), writes the figures to bench/results/soak-<time>.json, and exits 1 if any check failed.

Locust is a bench-only tool: pinned here and installed on first use into a virtualenv of its own
under ~/.cache/fundfill-bench/ (its dependencies, gevent and Flask among them, never touch the
project's .venv), never by `make test`. This file is also the locustfile: Locust imports it in
that virtualenv, where only the user classes below matter.
"""

import json
import os
import random
import sys
import uuid
from pathlib import Path

try:  # in Locust's own virtualenv (as the locustfile); absent from the project's .venv
    from locust import HttpUser, between, events, task
except ImportError:
    HttpUser = None

LOCUST = "locust==2.47.0"
HOT_FUND = "audit-truecrypt"
SEARCH_WORDS = ("audit", "patch", "build", "bounty", "security", "reproducible")
TEST_CARD = "4242 4242 4242 4242"

# --- the load (run by Locust) ----------------------------------------------------------------------

if HttpUser is not None:
    CONFIG = json.loads(os.environ.get("SOAK_CONFIG") or "{}")
    OUT = open(CONFIG["out"], "a", buffering=1) if CONFIG.get("out") else None  # noqa: SIM115
    STATUSES: dict[tuple[str, int], int] = {}
    _backer_slots = iter(range(len(CONFIG.get("backers", []))))

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

    class Backer(HttpUser):
        """A signed-in backer: pages with their session, and pledges and deposits through the API."""

        weight = 2
        wait_time = between(1, 3)

        def on_start(self):
            slot = next(_backer_slots, None)
            if slot is None:  # more Locust backers than seeded identities: read as a reader instead
                slot = random.randrange(len(CONFIG["backers"]))
            me = CONFIG["backers"][slot]
            self.index, self.cookie = me["index"], me.get("cookie", "")
            self.api = {"Authorization": f"Token {me['token']}"}
            self.sent: list[tuple[str, int]] = []

        def page(self, path, name):
            headers = {"Cookie": self.cookie} if self.cookie else {}
            self.client.get(path, headers=headers, name=f"{name}, signed in")

        @task(2)
        def browse(self):
            self.page("/", "home")
            self.page(random.choice(CONFIG["funds"]), "fund page")

        @task(1)
        def my_pledges(self):
            if self.cookie:
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
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, Locust's CSV)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    import secrets
    import shutil
    import tempfile
    import time

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.common import Cleanup, Stopped, install_signal_handlers, log

    args = parse_args(argv)
    install_signal_handlers()
    work = Path(tempfile.mkdtemp(prefix="fundfill-soak-"))
    run_id = f"s{int(time.time())}{secrets.token_hex(2)}"
    with Cleanup() as cleanup:
        if not args.keep:
            cleanup.add(shutil.rmtree, work, True)
        try:
            return soak(args, work, run_id, cleanup)
        except (KeyboardInterrupt, Stopped) as exc:
            log(f"interrupted ({exc or 'Ctrl-C'}): cleaning up")
            return 130
        except RuntimeError as exc:
            log(f"FAILED: {exc}")
            return 1
        finally:
            if args.keep:
                log(f"kept {work}")


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

    from bench.common import BIN, REPO, Gunicorn, create_database, log, run, services, start_postgres
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
    out = subprocess.run(
        [str(BIN / "python"), "manage.py", "shell", "-c", f"COUNT = {args.sessions}\n{SESSIONS}"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"could not sign the backers in: {out.stderr[-2000:]}")
    cookies = json.loads(next(line for line in out.stdout.splitlines() if line.startswith("@@"))[2:])

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
    site.wait_ready(f"/funds/{HOT_FUND}/")
    paths = discover(site.url)
    staged_before = outbox_counts(database)

    load_file = work / "load.txt"
    backers = [
        {"index": u["index"], "token": u["token"], "cookie": cookies.get(f"bench{u['index']:05d}", "")}
        for u in seeded["users"]
    ]
    config = {**paths, "run": run_id, "fund_id": seeded["fund_id"], "backers": backers, "out": str(load_file)}
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
    result = {
        "minutes": args.minutes,
        "elapsed_seconds": round(elapsed, 1),
        "users": args.users,
        "workers": args.workers,
        "load_average": Path("/proc/loadavg").read_text().split()[:3],
        "endpoints": rows,
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
    print(
        table(
            [
                [
                    f"{r['method']} {r['name']}".strip(),
                    r["requests"],
                    f"{r['rps']:.1f}",
                    f"{r['p50_ms']:.0f}",
                    f"{r['p95_ms']:.0f}",
                    f"{r['p99_ms']:.0f}",
                    r["failures"],
                    r["server_errors"],
                ]
                for r in rows
            ],
            ["endpoint", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "failures", "5xx"],
        )
    )
    v = result["verify"]
    bare = next((r for r in rows if r["name"].startswith("bare view")), None)
    if bare and bare["p50_ms"]:
        print(f"\np50 against the bare view ({bare['p50_ms']:.0f} ms, same run):")
        for r in rows:
            if r is not bare and r["name"] != "Aggregated" and r["p50_ms"]:
                print(f"  {r['name']}: {r['p50_ms'] / bare['p50_ms']:.1f}×")
    total = next((r for r in rows if r["name"] == "Aggregated"), {"server_errors": 0})
    lost_or_doubled = bool(v["lost"]) or v["doubled_transfers"] != 0 or bool(v["phantom_rows"])
    sums = [v[k] for k in ("wallet_debits_cents", "wallet_outflow_cents", "active_pledges_cents")]
    sums += [v["fund_pledged_cents"], v["escrow_cents"]]
    money_matches = len(set(sums)) == 1
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
            f"{v['answered_201']} answered 201 for {v['keys_sent']} keys; {v['active_pledges']} pledges, "
            f"{v['pledge_transfers']} transfers; lost {len(v['lost'])}, doubled {v['doubled_transfers']}, "
            f"phantom {len(v['phantom_rows'])}; cents: wallet debits = wallet outflow = pledges = fund "
            f"total = escrow: {' = '.join(map(str, sums))}",
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
