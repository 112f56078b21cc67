"""Page bench: what reading the site costs, cached and uncached, against a bare Django view.

    .venv/bin/python bench/pages.py                  # wrk -t2 -c32 -d10s per target
    .venv/bin/python bench/pages.py --rounds 3       # targets take turns: noise falls on all alike

Starts its own PostgreSQL and Redis, loads the demo content with production settings,
collects static files, and runs gunicorns (`--workers 2 --no-control-socket`):
bench/bareview.py (`GET /ok`, the ceiling), the site with the page cache on, the same
site with `PAGE_CACHE=off` ("uncached": every request renders, as for a signed-in
reader, with what only a publish changes remembered per process, pagecache/memo.py), and
with `PAGE_MEMO=off` too ("cold": every render reads everything, as the first render
after a publish does). Two more serve the site without `REDIS_URL`, where the shared
cache is the database (pagecache/backends.py), cached and uncached: rows "…, no Redis".
The uncached figures come from other servers, not from a
cache-busting parameter a visitor could use too. Each target is loaded with wrk
and reported as req/s, p50 and p99, and as a ratio of the bare view's req/s measured in
the same run.

The live-figures section compares the ways of keeping pledged totals fresh on cached
pages, under the same load: the shipped design (entries fresh for PAGE_CACHE_SECONDS,
then re-rendered by one request), a long-lived page plus `/funds/live.json` on every
page view (two requests per view, from the measured figures), and purging on every
pledge (the generation bumped N times a second while the fund page is loaded).
"""

import argparse
import json
import os
import secrets
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    BIN,
    Cleanup,
    Gunicorn,
    Target,
    combine,
    create_database,
    log,
    measure,
    run,
    run_in_work_dir,
    services,
    start_postgres,
    table,
)

GOAL_CACHED_RATIO = 0.80
GOAL_CACHED_P99_MS = 50.0
GOAL_UNCACHED_FUND_RATIO = 0.12
# Issue 14: signed-in readers get the cached page with their own parts (pagecache/personal.py).
GOAL_SIGNED_IN_FUND_RATIO = 0.40
GOAL_SIGNED_IN_HOME_RATIO = 0.30

BARE = "bare Django view"
SITE_BARE = "bare view, site middleware"
NO_REDIS = "no Redis (database cache)"
FUND = "/funds/audit-truecrypt/"
ROUTE_FLOOR = "Wagtail's route to the fund page only, uncached"
DRAIN = "/static/css/fundfill.css"  # served by WhiteNoise: a cheap probe to wait out a backlog
PAGES = [
    ("homepage", "/"),
    ("fund page", FUND),
    ("fund index", "/funds/"),
    ("search", "/search/?q=audit"),
    ("feed", "/funds/feed/"),
]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent connections (default 32)")
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per target (default 10)")
    parser.add_argument(
        "--warmup", type=float, default=2, help="unmeasured seconds per target first (default 2)"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="split --seconds into turns per target (default 1)"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server (default 2)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--pledges-per-second",
        type=float,
        default=20,
        help="purge-on-pledge scenario: generation bumps a second (default 20)",
    )
    parser.add_argument("--only", help="'|'-separated target names to run (after the bare view)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, result files)")
    return parser.parse_args(argv)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def site_environment(work: Path, database_url: str, redis_url: str, port: int, **extra) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("DJANGO_", "FUNDFILL_", "STRIPE_", "REDIS_", "DATABASE_", "PAYMENT_", "PAGE_CACHE")
        )
    }
    env.update(
        # fundfill.settings.production, STATIC_ROOT in `work`, and /bench/bare/ in the site's URLs
        DJANGO_SETTINGS_MODULE="bench.pages_settings",
        SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECURE_SSL_REDIRECT="false",
        ALLOWED_HOSTS="127.0.0.1",
        DEBUG="false",
        PAYMENT_GATEWAY="local",
        ALLOW_LOCAL_PAYMENTS="true",
        SITE_URL=f"http://127.0.0.1:{port}",
        MEDIA_ROOT=str(work / "media"),
        BENCH_STATIC_ROOT=str(work / "static"),
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(Path(__file__).resolve().parent.parent),
        **extra,
    )
    return env


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_in_work_dir(
        lambda work, cleanup: bench(args, work, cleanup), keep=args.keep, prefix="fundfill-pages-bench-"
    )


class GenerationBumper:
    """Purge on pledge, simulated: INCR the page cache's generation `rate` times a second."""

    def __init__(self, redis_url: str, rate: float):
        import redis

        self.client = redis.Redis.from_url(redis_url)
        # Django's cache key: KEY_PREFIX ("fundfill", base.py) : version : key.
        self.key = "fundfill:1:pagecache:generation"
        self.rate = rate
        self.stop = threading.Event()
        self.bumps = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.wait(1 / self.rate):
            self.client.incr(self.key)
            self.bumps += 1

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def bench(args, work: Path, cleanup: Cleanup) -> int:
    log(f"work dir {work}; load average {load_average()}")
    pg = start_postgres()
    site_db = create_database(pg, "fundfill")
    redis_url = services.start_redis()  # stopped at exit (atexit)
    log(f"PostgreSQL at {pg}, Redis at {redis_url}")

    cached_port, uncached_port, bare_port = services.free_port(), services.free_port(), services.free_port()
    env = site_environment(work, site_db, redis_url, cached_port)
    for step in (["migrate", "--noinput"], ["collectstatic", "--noinput"], ["load_demo"]):
        log(" ".join(step))
        run(
            [str(BIN / "python"), "manage.py", *step], env=env, log_path=work / "site-tasks.log", what=step[0]
        )

    def gunicorn(app, env, port, name):
        server = Gunicorn(
            app,
            env=env,
            port=port,
            workers=args.workers,
            log_path=str(work / f"gunicorn-{name}.log"),
            name=name,
        )
        cleanup.add(server.stop)
        return server

    bare = gunicorn("bench.bareview:application", env, bare_port, "bare")
    cached = gunicorn("fundfill.wsgi:application", env, cached_port, "cached")
    uncached_env = site_environment(work, site_db, redis_url, uncached_port, PAGE_CACHE="off")
    uncached = gunicorn("fundfill.wsgi:application", uncached_env, uncached_port, "uncached")
    cold_port = services.free_port()
    cold_env = site_environment(work, site_db, redis_url, cold_port, PAGE_CACHE="off", PAGE_MEMO="off")
    cold = gunicorn("fundfill.wsgi:application", cold_env, cold_port, "cold")
    # Without REDIS_URL the shared cache is the database (pagecache/backends.py): the same site on it.
    db_cached_port, db_uncached_port = services.free_port(), services.free_port()
    db_cached_env = site_environment(work, site_db, "", db_cached_port)
    db_cached = gunicorn("fundfill.wsgi:application", db_cached_env, db_cached_port, "cached-db")
    db_uncached_env = site_environment(work, site_db, "", db_uncached_port, PAGE_CACHE="off")
    db_uncached = gunicorn("fundfill.wsgi:application", db_uncached_env, db_uncached_port, "uncached-db")
    bare.wait_ready("/ok")
    for server in (cached, uncached, cold, db_cached, db_uncached):
        status = server.wait_ready(FUND)
        if status != 200:
            raise RuntimeError(f"{server.name}: {FUND} answered {status}")
    fund_ids = fund_ids_from(cached.url)
    cookie = signed_in_cookie(env, work, cached.url + FUND)

    def target(name, server, path):
        return Target(
            name, f"{server.url}{path}", "get", server.proc.pid, drain_path=DRAIN, workers=args.workers
        )

    targets = [Target(BARE, f"{bare.url}/ok", "get", bare.proc.pid, drain_path="/ok", workers=args.workers)]
    # The site's own floors: a view that does nothing behind all the site's middleware, and a
    # static file (WSGI handler and the outer middleware only).
    targets.append(target(SITE_BARE, cached, "/bench/bare/"))
    targets.append(target("static file (WhiteNoise)", cached, DRAIN))
    targets += [target(f"{name}, cached", cached, path) for name, path in PAGES]
    targets += [target(f"{name}, uncached", uncached, path) for name, path in PAGES]
    # Wagtail's routing alone on the uncached server: what every page view pays before rendering.
    targets.append(target(ROUTE_FLOOR, uncached, f"/bench/route{FUND}"))
    targets += [target(f"{name}, cold", cold, path) for name, path in PAGES[:2]]
    targets += [target(f"{name}, cached, {NO_REDIS}", db_cached, path) for name, path in PAGES[:2]]
    targets += [target(f"{name}, uncached, {NO_REDIS}", db_uncached, path) for name, path in PAGES[:2]]
    # A signed-in backer (no editor): the cached page with their own header (pagecache/personal.py).
    for name, path in PAGES[:2]:
        signed_in = target(f"{name}, signed in", cached, path)
        signed_in.cookie = cookie
        targets.append(signed_in)
    targets.append(target("live.json (figures of 3 funds)", cached, f"/funds/live.json?ids={fund_ids}"))
    purge_name = f"fund page, cached, purged {args.pledges_per_second:g}×/s"
    targets.append(target(purge_name, cached, FUND))
    if args.only:
        wanted = {name.strip() for name in args.only.split("|")}
        targets = [targets[0], *[t for t in targets[1:] if t.name in wanted or t.name == SITE_BARE]]

    count = [0]

    def load(t, phase, seconds):
        count[0] += 1
        out = str(work / f"load-{count[0]}-{phase}.txt")
        log(f"{phase}: {t.name}, {args.clients} clients, {seconds:g}s")
        kwargs = dict(driver="wrk", clients=args.clients, seconds=seconds, threads=args.threads, replay=0)
        if t.name == purge_name:
            with GenerationBumper(redis_url, args.pledges_per_second):
                return measure(t, run_id=phase, out_file=out, **kwargs)
        return measure(t, run_id=phase, out_file=out, **kwargs)

    started_load = load_average()
    if args.warmup > 0:
        for t in targets:
            load(t, "w", args.warmup)
    rounds = [[load(t, f"m{i}", args.seconds / args.rounds) for t in targets] for i in range(args.rounds)]
    results = [combine([turn[i] for turn in rounds]) for i in range(len(targets))]
    save(results, started_load, load_average())
    return report(args, results, started_load, load_average(), purge_name)


def save(results, load_before, load_after):
    """The figures as JSON in bench/results/ (git-ignored), as the other benches do."""
    out = Path(__file__).resolve().parent / "results" / f"pages-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    baseline = results[0].rps
    rows = [
        {
            "target": r.target.name,
            "url": r.target.url,
            "rps": round(r.rps, 1),
            "p50_ms": round(r.p50_ms, 2),
            "p99_ms": round(r.p99_ms, 2),
            "errors": r.errors,
            "ratio": round(r.rps / baseline, 4) if baseline else None,
            "cpu": {"load": r.client_cpu, "web": r.server_cpu, "other": r.other_cpu},
        }
        for r in results
    ]
    out.write_text(json.dumps({"load_before": load_before, "load_after": load_after, "rows": rows}, indent=2))
    log(f"saved {out}")


def signed_in_cookie(env: dict, work: Path, url: str) -> str:
    """A demo backer's cookies, as their browser sends them: the session (`bench.site_tasks
    session`) and the CSRF cookie the first signed-in page set."""
    import subprocess
    import urllib.request

    proc = subprocess.run(
        [str(BIN / "python"), "-m", "bench.site_tasks", "session", "--user", "ada"],
        env=env,
        capture_output=True,
        text=True,
        cwd=str(Path(__file__).resolve().parent.parent),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"could not sign in a demo backer: {proc.stderr[-2000:]}")
    cookie = proc.stdout.strip()
    response = urllib.request.urlopen(urllib.request.Request(url, headers={"Cookie": cookie}), timeout=10)
    if b"Log out" not in response.read():
        raise RuntimeError(f"{url} with the demo backer's session is not a signed-in page")
    csrf = [
        c.split(";")[0] for c in response.headers.get_all("Set-Cookie") or [] if c.startswith("csrftoken=")
    ]
    return "; ".join([cookie, *csrf])


def fund_ids_from(base_url: str) -> str:
    """The demo funds' ids, from the cached fund index's progress bars (data-fund)."""
    import re
    import urllib.request

    html = urllib.request.urlopen(f"{base_url}/funds/", timeout=10).read().decode()
    ids = sorted(set(re.findall(r'data-fund="(\d+)"', html)), key=int)
    if not ids:
        raise RuntimeError("no funds on /funds/: did load_demo run?")
    return ",".join(ids)


HEADER = [
    "target",
    "req/s",
    "p50 ms",
    "p99 ms",
    "errors",
    "ratio vs bare",
    "vs site bare",
    "CPU load/web/other",
]


def report(args, results, load_before, load_after, purge_name) -> int:
    by_name = {r.target.name: r for r in results}
    baseline = results[0].rps
    site_baseline = by_name[SITE_BARE].rps if SITE_BARE in by_name else 0.0

    def ratio(r):
        return r.rps / baseline if baseline else 0.0

    rows = [
        [
            r.target.name,
            f"{r.rps:,.0f}",
            f"{r.p50_ms:.1f}",
            f"{r.p99_ms:.1f}",
            str(r.errors),
            f"{ratio(r):.3f}",
            f"{ratio_of(r.rps, site_baseline):.3f}",
            f"{r.client_cpu:.2f}/{r.server_cpu:.2f}/{r.other_cpu:.2f}",
        ]
        for r in results
    ]
    print()
    print(
        f"Fundfill page bench: wrk -t{args.threads} -c{args.clients}, {args.seconds:g}s per target"
        f"{f' in {args.rounds} turns' if args.rounds > 1 else ''}, gunicorn --workers {args.workers}, "
        f"{os.cpu_count()} CPUs; load average {load_before} before, {load_after} after"
    )
    print()
    print(table(rows, HEADER))

    page = by_name.get("fund page, cached")
    live = by_name.get("live.json (figures of 3 funds)")
    purged = by_name.get(purge_name)
    if page and live:
        print()
        print("  Live figures on cached pages, page views a second under this load:")
        per_view = 1 / (1 / page.rps + 1 / live.rps)
        lines = [
            ("short freshness (PAGE_CACHE_SECONDS=2, shipped)", page.rps, "1 request a view"),
            ("long-lived page + live.json each view", per_view, "2 requests a view (computed)"),
        ]
        if purged:
            lines.append((f"purge on every pledge ({args.pledges_per_second:g}/s)", purged.rps, "measured"))
        for name, views, how in lines:
            print(f"    {name:<45} {views:>8,.0f} views/s  ({ratio_of(views, baseline):.3f} of bare; {how})")

    checks = []
    for name in ("homepage, cached", "fund page, cached"):
        r = by_name.get(name)
        if r:
            checks.append(
                (
                    f"{name}: {ratio(r):.1%} of the bare view (goal {GOAL_CACHED_RATIO:.0%}), "
                    f"p99 {r.p99_ms:.1f} ms (goal < {GOAL_CACHED_P99_MS:g})",
                    ratio(r) >= GOAL_CACHED_RATIO and r.p99_ms < GOAL_CACHED_P99_MS,
                )
            )
    r = by_name.get("fund page, uncached")
    if r:
        checks.append(
            (
                f"fund page, uncached: {ratio(r):.1%} of the bare view (goal {GOAL_UNCACHED_FUND_RATIO:.0%}); "
                f"{ratio_of(r.rps, site_baseline):.1%} of the bare view behind the site's middleware",
                ratio(r) >= GOAL_UNCACHED_FUND_RATIO,
            )
        )
    print()
    print("  Goals (issue 4):")
    for text, ok in checks:
        print(f"  [{'OK' if ok else 'SHORT'}] {text}")
    signed_in = []
    for name, goal in (
        ("fund page, signed in", GOAL_SIGNED_IN_FUND_RATIO),
        ("homepage, signed in", GOAL_SIGNED_IN_HOME_RATIO),
    ):
        r = by_name.get(name)
        if r:
            signed_in.append((f"{name}: {ratio(r):.1%} of the bare view (goal {goal:.0%})", ratio(r) >= goal))
    print("  Goals (issue 14):")
    for text, ok in signed_in:
        print(f"  [{'OK' if ok else 'SHORT'}] {text}")
    checks += signed_in
    noisy = [r.target.name for r in results if r.other_cpu >= 0.25]
    if noisy:
        print()
        print(
            f"  Note: other processes used >= 0.25 cores during {len(noisy)} of {len(results)} targets "
            "(column 'other'): absolute figures are depressed; compare ratios, or rerun on a quiet box."
        )
    errors = [r.target.name for r in results if r.errors]
    if errors:
        print(f"  Errors during: {', '.join(errors)}")
    return 0 if all(ok for _, ok in checks) and not errors else 1


def ratio_of(value, baseline):
    return value / baseline if baseline else 0.0


if __name__ == "__main__":
    sys.exit(main())
