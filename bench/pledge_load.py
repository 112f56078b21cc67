"""Pledge load bench: the site's pledge API under N concurrent clients, against bare baselines.

    .venv/bin/python bench/pledge_load.py --clients 32 --seconds 10

Starts its own PostgreSQL and two gunicorns (the site with production settings, and
bench/bareview.py), seeds funded backers through the real deposit path, drives
`POST /api/v1/funds/<id>/pledges/` with unique Idempotency-Keys and ~10 % replays, on one
hot fund and then spread over --funds (20) open funds, then proves from the database that
nothing was lost or doubled and runs `manage.py ledger_check`. Everything it started is
stopped on exit, Ctrl-C or error. See bench/README.md for what the numbers mean.
"""

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import bareview, profiling  # noqa: E402
from bench.common import (  # noqa: E402
    BIN,
    REPO,
    Cleanup,
    Gunicorn,
    Target,
    combine,
    create_database,
    descendants,
    log,
    measure,
    new_run_id,
    run,
    run_in_work_dir,
    services,
    start_postgres,
    table,
)

GOAL_RATIO = 0.20
GOAL_P99_MS = 250.0
# Issue 14: the pledge path at the speed of the database.
GOAL_14_HOT_RATIO = 0.15
GOAL_14_HOT_P99_MS = 150.0
GOAL_14_SPREAD_RATIO = 0.20


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent connections (default 32)")
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per target (default 10)")
    parser.add_argument(
        "--warmup", type=float, default=2, help="unmeasured seconds per target first (default 2)"
    )
    parser.add_argument("--users", type=int, default=400, help="funded backers to pledge from (default 400)")
    parser.add_argument(
        "--balance-cents", type=int, default=1_000_000, help="each wallet's deposit (default $10k)"
    )
    parser.add_argument(
        "--replay", type=float, default=0.10, help="share of requests that replay a key (0.10)"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server (default 2)")
    parser.add_argument(
        "--driver", choices=["wrk", "python"], default="wrk", help="load generator (default wrk)"
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="split --seconds into this many turns per target (default 1)"
    )
    parser.add_argument(
        "--funds",
        type=int,
        default=20,
        help="open funds the 'pledge API, N funds' target spreads pledges over (default 20; 0 skips it)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, result files)")
    parser.add_argument(
        "--redis",
        action="store_true",
        help="run the site with REDIS_URL (cache, sessions and the django-q2 broker in Redis), as scaled out",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the site's workers with py-spy during the 1-hot-fund pledge target's measured run "
        "(bench/profiling.py)",
    )
    args = parser.parse_args(argv)
    if args.funds < 0:
        parser.error("--funds must be 0 or more")
    return args


def site_environment(work: Path, database_url: str, port: int) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "FUNDFILL_", "STRIPE_", "REDIS_", "DATABASE_", "PAYMENT_", "PLEDGE_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",  # fundfill.settings.production + STATIC_ROOT in `work`
        SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=database_url,
        SECURE_SSL_REDIRECT="false",
        ALLOWED_HOSTS="127.0.0.1",
        DEBUG="false",
        PAYMENT_GATEWAY="local",
        ALLOW_LOCAL_PAYMENTS="true",  # seeding uses the test-card gateway; pledges never touch it
        PLEDGE_RATE_LIMIT="",  # each backer pledges faster than a person would: measure the pledge, not the limit
        SITE_URL=f"http://127.0.0.1:{port}",
        MEDIA_ROOT=str(work / "media"),
        BENCH_STATIC_ROOT=str(work / "static"),
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(REPO),
    )
    return env


def manage(*args, env, work, what):
    return run(
        [str(BIN / "python"), "manage.py", *args], env=env, log_path=work / "site-tasks.log", what=what
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    run_id = new_run_id("b")
    return run_in_work_dir(
        lambda work, cleanup: bench(args, work, run_id, cleanup), keep=args.keep, prefix="fundfill-bench-"
    )


def bench(args, work: Path, run_id: str, cleanup: Cleanup) -> int:
    log(f"work dir {work}")
    pg = start_postgres()
    site_db = create_database(pg, "fundfill")
    bare_db = create_database(pg, "bare")
    log(f"PostgreSQL at {pg}")

    site_port, bare_port = services.free_port(), services.free_port()
    env = site_environment(work, site_db, site_port)
    if args.redis:
        # As a site scaled out runs (docs/operating.md): the cache, sessions and the worker's broker
        # in Redis, so a pledge's nudge is a Redis push instead of a row in the database's queue.
        env["REDIS_URL"] = services.start_redis()  # stopped at exit (atexit)
        log(f"Redis at {env['REDIS_URL']}")
    log("migrate (production settings)")
    manage("migrate", "--noinput", env=env, work=work, what="migrate")
    log("collectstatic")
    manage("collectstatic", "--noinput", env=env, work=work, what="collectstatic")
    log(f"seed: load_demo, {args.users} backers with API tokens, wallets funded by signed deposit events")
    t0 = time.monotonic()
    seed_file = work / "seed.json"
    run(
        [
            str(BIN / "python"),
            "-m",
            "bench.site_tasks",
            "seed",
            "--users",
            str(args.users),
            "--balance-cents",
            str(args.balance_cents),
            "--funds",
            str(args.funds),
            "--out",
            str(seed_file),
        ],
        env=env,
        log_path=work / "site-tasks.log",
        what="seeding",
    )
    seeded = json.loads(seed_file.read_text())
    tokens_file = work / "tokens.txt"
    tokens_file.write_text("".join(f"{u['token']}\n" for u in seeded["users"]))
    fund_id = seeded["fund_id"]
    fund_ids = seeded.get("fund_ids") or []
    log(
        f"seeded in {time.monotonic() - t0:.1f}s; hot fund audit-truecrypt is fund {fund_id}"
        + (f"; {len(fund_ids)} funds to spread over: {', '.join(map(str, fund_ids))}" if fund_ids else "")
    )
    bareview.setup(bare_db, users=args.users, balance_cents=args.balance_cents)

    site = Gunicorn(
        "fundfill.wsgi:application",
        env=env,
        port=site_port,
        workers=args.workers,
        log_path=str(work / "gunicorn-site.log"),
        name="site",
    )
    cleanup.add(site.stop)
    bare_env = {**env, "BENCH_BARE_DATABASE_URL": bare_db}
    bare = Gunicorn(
        "bench.bareview:application",
        env=bare_env,
        port=bare_port,
        workers=args.workers,
        log_path=str(work / "gunicorn-bare.log"),
        name="bare",
    )
    cleanup.add(bare.stop)
    auth = {"Authorization": f"Token {seeded['users'][0]['token']}"}
    api_status = site.wait_ready(f"/api/v1/funds/{fund_id}/", headers=auth)
    bare.wait_ready("/ok")

    targets = [
        Target(
            "bare Django view (GET /ok)",
            f"{bare.url}/ok",
            "get",
            bare.proc.pid,
            drain_path="/ok",
            workers=args.workers,
        ),
        Target(
            "bare UPDATE+INSERT view (PG)",
            f"{bare.url}/pledge",
            "bare",
            bare.proc.pid,
            db_url=bare_db,
            users=args.users,
            drain_path="/ok",
            workers=args.workers,
        ),
    ]
    if api_status == 200:
        pledge_target = Target(
            "pledge API, 1 hot fund",
            f"{site.url}/api/v1/funds/{fund_id}/pledges/",
            "pledge",
            site.proc.pid,
            db_url=site_db,
            tokens_file=str(tokens_file),
            drain_path="/api/v1/bench-drain-probe/",  # the API's JSON 404: no page rendering
            workers=args.workers,
        )
    else:
        log(
            f"!! GET /api/v1/funds/{fund_id}/ answered {api_status}: the pledge API is not there; "
            "benchmarking the fund's web page instead (no pledges, no money checks)"
        )
        pledge_target = Target(
            f"fund page GET {seeded['fund_url']}",
            f"{site.url}{seeded['fund_url']}",
            "get",
            site.proc.pid,
            db_url=site_db,
            drain_path="/api/v1/bench-drain-probe/",
            workers=args.workers,
        )
    targets.append(pledge_target)
    # The same pledges spread over many open funds, so no fund row is hot: wrk_load.lua picks a
    # fund at random for each new request (BENCH_FUND_IDS); a replay goes to the same fund.
    funds_target = None
    spread_env = {}
    skipped = []
    if pledge_target.mode == "pledge" and fund_ids:
        if args.driver == "wrk":
            funds_target = Target(
                f"pledge API, {len(fund_ids)} funds",
                f"{site.url}/api/v1/funds/{fund_ids[0]}/pledges/",  # wrk's host; the path is per request
                "pledge",
                site.proc.pid,
                db_url=site_db,
                tokens_file=str(tokens_file),
                drain_path="/api/v1/bench-drain-probe/",
                workers=args.workers,
            )
            spread_env = {
                "BENCH_FUND_IDS": ",".join(map(str, fund_ids)),
                "BENCH_PATH": "/api/v1/funds/{fund}/pledges/",
            }
            targets.append(funds_target)
        else:
            # The Python driver (bench/common.py) sends every request to its URL's one path.
            skipped.append(
                f"pledge API, {len(fund_ids)} funds: not measured, the Python driver loads one URL; "
                "use --driver wrk (or --funds 0 to silence this)"
            )
            log(f"!! {skipped[-1]}")
    elif args.funds and pledge_target.mode == "pledge":
        skipped.append(f"pledge API, {args.funds} funds: the seed made no funds to spread over")
        log(f"!! {skipped[-1]}")

    load_files = {t.name: [] for t in targets}

    profiles = []

    def load(target, phase, seconds):
        out = str(work / f"load-{sum(map(len, load_files.values()))}-{target.mode}-{phase}.txt")
        log(f"{phase}: {target.name}, {args.clients} clients, {seconds:g}s ({args.driver})")
        sampler = None
        if args.profile and target is pledge_target and phase.startswith("m"):
            sampler = profiling.Sampler(descendants(site.proc.pid), seconds, work, phase)
        # common.measure hands wrk its environment: the spread target's fund list goes in there.
        extra = spread_env if target is funds_target else {}
        os.environ.update(extra)
        try:
            result = measure(
                target,
                driver=args.driver,
                clients=args.clients,
                seconds=seconds,
                threads=args.threads,
                replay=args.replay,
                # Keys unique per run, phase and target (both pledge targets draw from the same backers).
                run_id=f"{run_id}{phase}{'s' if target is funds_target else ''}",
                out_file=out,
            )
        finally:
            for name in extra:
                os.environ.pop(name, None)
        load_files[target.name].append(out)
        if sampler is not None:
            profiles.append(profiling.top(sampler.wait()))
        return result

    if args.warmup > 0:
        for target in targets:
            load(target, "w", args.warmup)
    # Targets take turns (round-robin when --rounds > 1), so load from elsewhere on the box
    # falls on all of them alike; ratios compare figures from the same run.
    rounds = [
        [load(target, f"m{i}", args.seconds / args.rounds) for target in targets] for i in range(args.rounds)
    ]

    log("ledger_check")
    checked = subprocess.run(
        [str(BIN / "python"), "manage.py", "ledger_check"], env=env, cwd=REPO, capture_output=True, text=True
    )
    ledger_ok = checked.returncode == 0
    violations = [line for line in (checked.stdout + checked.stderr).splitlines() if "VIOLATION" in line]
    ledger_text = (
        "OK" if ledger_ok else f"FAILED (exit {checked.returncode}): " + "; ".join(violations)[:2000]
    )
    verified = None
    if pledge_target.mode == "pledge":
        verify_file = work / "verify.json"
        run(
            [
                str(BIN / "python"),
                "-m",
                "bench.site_tasks",
                "verify",
                "--seed",
                str(seed_file),
                *[arg for f in load_files[pledge_target.name] for arg in ("--load", f)],
                *[
                    arg
                    for f in load_files.get(getattr(funds_target, "name", None), [])
                    for arg in ("--funds-load", f)
                ],
                "--out",
                str(verify_file),
            ],
            env=env,
            log_path=work / "site-tasks.log",
            what="verify",
        )
        verified = json.loads(verify_file.read_text())
    bare_check = bareview.verify(bare_db, users=args.users, balance_cents=args.balance_cents)

    return report(
        args,
        rounds,
        verified,
        bare_check,
        ledger_ok,
        ledger_text,
        profiles,
        pledge_target,
        funds_target,
        skipped,
    )


def _rows(results):
    baseline = results[0].rps
    return [
        [
            r.target.name,
            f"{r.rps:,.0f}",
            f"{r.p50_ms:.1f}",
            f"{r.p99_ms:.1f}",
            str(r.errors),
            f"{r.rps / baseline:.3f}" if baseline else "-",
            f"{r.client_cpu:.2f}/{r.server_cpu:.2f}/{r.db_cpu:.2f}/{r.other_cpu:.2f}",
        ]
        for r in results
    ]


HEADER = ["target", "req/s", "p50 ms", "p99 ms", "errors", "ratio vs bare view", "CPU load/web/db/other"]


def _money_checks(name: str, v: dict, *, spread: bool) -> tuple[list, int, int]:
    """One pledge target's checks (text, ok) from site_tasks.verify, and its lost and doubled counts."""
    lost = len(v["lost"])
    doubled = v["doubled_transfers"] + max(0, v["wallet_debits_cents"] - v["active_pledges_cents"])
    unanswered = len(v["unanswered_rows"])
    funds = len(v.get("fund_ids") or [None])
    unbalanced = v.get("funds_unbalanced", [])
    checks = [
        (
            f"distinct pledges answered 201: {v['answered_201']}; pledge rows: {v['pledge_rows']}; pledge "
            f"transfers: {v['pledge_transfers']}"
            + (
                f" ({unanswered} rows committed for requests the client "
                "abandoned at its deadline: never answered, so not lost)"
                if unanswered
                else ""
            ),
            v["answered_201"] + unanswered
            == v["pledge_rows"]
            == v["pledge_transfers"]
            == v["active_pledges"],
        ),
        (f"answered 201 but missing or not holding money (lost): {lost}", lost == 0),
        (
            f"pledge rows no request asked for: {len(v['phantom_rows'])}; wrong amount: "
            f"{len(v['amount_mismatch'])}"
            + (f"; in another fund than the request's: {len(v.get('wrong_fund', []))}" if spread else ""),
            not v["phantom_rows"] and not v["amount_mismatch"] and not v.get("wrong_fund"),
        ),
        (
            f"wallet debits {v['wallet_debits_cents']} = active pledges {v['active_pledges_cents']} = "
            f"fund.pledged_cents {v['fund_pledged_cents']} = escrow {v['escrow_cents']}"
            + (
                f"{' (sums)' if spread else ''}; each fund's pledged_cents = escrow = its active pledges: "
                f"{funds - len(unbalanced)} of {funds} funds"
                if spread
                else ""
            ),
            len(
                {
                    v["wallet_debits_cents"],
                    v["active_pledges_cents"],
                    v["fund_pledged_cents"],
                    v["escrow_cents"],
                }
            )
            == 1
            and not unbalanced,
        ),
    ]
    return [(f"{name}: {text}", ok) for text, ok in checks], lost, doubled


def report(
    args,
    rounds,
    verified,
    bare_check,
    ledger_ok,
    ledger_text,
    profiles=(),
    pledge_target=None,
    funds_target=None,
    skipped=(),
) -> int:
    results = [combine([turn[i] for turn in rounds]) for i in range(len(rounds[0]))]
    baseline = results[0].rps
    print()
    print(
        f"Fundfill pledge bench: {args.clients} clients, {args.seconds:g}s per target"
        f"{f' in {args.rounds} turns' if args.rounds > 1 else ''}, gunicorn --workers {args.workers}, "
        f"driver {results[0].driver}, {os.cpu_count()} CPUs, {args.replay:.0%} replays, {args.users} backers, "
        + (
            "site on Redis (cache, sessions, broker)"
            if args.redis
            else "site without Redis (database cache and broker)"
        )
    )
    print()
    print(table(_rows(results), HEADER))
    if args.rounds > 1:
        print()
        print("  by turn (p99 above is the worst turn's; p50 the median turn's):")
        for i, turn in enumerate(rounds, 1):
            print("  " + table(_rows(turn), [f"turn {i}", *HEADER[1:]]).replace("\n", "\n  "))
    print()
    for r in results:
        codes = ", ".join(f"{status}: {count}" for status, count in sorted(r.statuses.items()))
        socket = ", ".join(f"{name}: {count}" for name, count in r.socket_errors.items())
        print(
            f"  {r.target.name}: {r.requests} responses ({codes}){'; socket errors ' + socket if socket else ''}"
        )
    print(
        f"  bare UPDATE+INSERT check: {bare_check['rows']} rows, fund {bare_check['fund']} = rows "
        f"{bare_check['pledged_rows']} = wallets debited {bare_check['debited']}: "
        f"{'OK' if bare_check['ok'] else 'MISMATCH'}"
    )

    notes = list(skipped)
    for r in results:
        if r.other_cpu >= 0.25:
            notes.append(
                f"{r.target.name}: other processes on this box used {r.other_cpu:.2f} cores meanwhile; "
                "absolute figures are depressed and noisy (compare ratios, or rerun on a quiet box)"
            )
        if r.client_cpu >= 0.9 and r.driver.startswith("python"):
            notes.append(
                f"{r.target.name}: the Python load generator used {r.client_cpu:.2f} cores (one is its "
                "limit); the server was not the bottleneck, so its figures are a lower bound"
            )
        elif r.client_cpu > r.server_cpu:
            notes.append(
                f"{r.target.name}: the load generator used more CPU ({r.client_cpu:.2f} cores) than the "
                f"web server ({r.server_cpu:.2f}); on this {os.cpu_count()}-CPU box it limits the figure"
            )
    failures = []
    lost = doubled = 0
    if verified is not None:
        pledge = next(r for r in results if r.target is pledge_target)
        v = verified
        checks, lost, doubled = _money_checks(pledge.target.name, v, spread=False)
        spread = v.get("funds")
        if spread is not None:
            more, spread_lost, spread_doubled = _money_checks(funds_target.name, spread, spread=True)
            checks += more
            lost += spread_lost
            doubled += spread_doubled
        # What left the backers' wallets (deposits - balances) is what every target's pledges hold.
        all_debits = v.get("wallet_debits_all_cents", v["wallet_debits_cents"])
        all_active = v.get("active_pledges_all_cents", v["active_pledges_cents"])
        checks += [
            (
                f"wallet outflow {v['wallet_outflow_cents']} = wallet debits {all_debits} = active pledges "
                f"{all_active}" + (" (all targets)" if spread is not None else ""),
                v["wallet_outflow_cents"] == all_debits == all_active,
            ),
            (f"ledger_check: {ledger_text}", ledger_ok),
        ]
        print()
        print("  Money checks (warm-up and measured runs together):")
        for text, ok in checks:
            print(f"  [{'OK' if ok else 'FAIL'}] {text}")
            if not ok:
                failures.append(text)
        ratio = pledge.rps / baseline if baseline else 0
        print()
        print(f"  Goals (issue 3, {pledge.target.name}):")
        for text, ok in [
            (f"pledges at >= {GOAL_RATIO:.0%} of the bare view's req/s: {ratio:.1%}", ratio >= GOAL_RATIO),
            (
                f"p99 under {GOAL_P99_MS:.0f} ms at {args.clients} clients: {pledge.p99_ms:.1f} ms",
                pledge.p99_ms < GOAL_P99_MS,
            ),
            (f"no errors: {pledge.errors}", pledge.errors == 0),
        ]:
            print(f"  [{'met' if ok else 'MISSED'}] {text}")
        goals = [
            (
                f"pledge API, 1 hot fund at >= {GOAL_14_HOT_RATIO:.0%} of the bare view: {ratio:.1%}, p99 under "
                f"{GOAL_14_HOT_P99_MS:.0f} ms: {pledge.p99_ms:.1f} ms, errors {pledge.errors}",
                ratio >= GOAL_14_HOT_RATIO and pledge.p99_ms < GOAL_14_HOT_P99_MS and pledge.errors == 0,
            )
        ]
        spread_result = next((r for r in results if funds_target and r.target is funds_target), None)
        if spread_result is not None:
            spread_ratio = spread_result.rps / baseline if baseline else 0
            goals.append(
                (
                    f"{spread_result.target.name} at >= {GOAL_14_SPREAD_RATIO:.0%} of the bare view: "
                    f"{spread_ratio:.1%}",
                    spread_ratio >= GOAL_14_SPREAD_RATIO,
                )
            )
        print()
        print("  Goals (issue 14):")
        for text, ok in goals:
            print(f"  [{'met' if ok else 'MISSED'}] {text}")
    else:
        notes.append("the pledge API was not available: no pledges were made and no money was checked")
    if notes:
        print()
        for note in notes:
            print(f"  note: {note}")
    for profile in profiles:
        print()
        print(profiling.report(profile, "the pledge API, 1 hot fund"))
    print()
    if verified is not None:
        print(f"lost: {lost}, doubled: {doubled}, ledger_check: {'OK' if ledger_ok else 'FAILED'}")
    else:
        print(f"lost: n/a, doubled: n/a (no pledges), ledger_check: {'OK' if ledger_ok else 'FAILED'}")
    save(args, results, verified, bare_check, ledger_ok)
    return 0 if not failures and bare_check["ok"] and ledger_ok else 1


def _without_lists(data: dict) -> dict:
    """verify's figures without its id lists (nested parts too): counts, not rows."""
    return {
        k: _without_lists(v) if isinstance(v, dict) else v for k, v in data.items() if not isinstance(v, list)
    }


def save(args, results, verified, bare_check, ledger_ok):
    """Keep the figures in bench/results/ (git-ignored) to compare runs."""
    folder = REPO / "bench" / "results"
    folder.mkdir(exist_ok=True)
    data = {
        "args": vars(args),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "results": [
            {
                "target": r.target.name,
                "driver": r.driver,
                "rps": r.rps,
                "p50_ms": r.p50_ms,
                "p99_ms": r.p99_ms,
                "requests": r.requests,
                "statuses": dict(r.statuses),
                "socket_errors": dict(r.socket_errors),
                "cpu": {"load": r.client_cpu, "web": r.server_cpu, "db": r.db_cpu, "other": r.other_cpu},
            }
            for r in results
        ],
        "verify": verified and _without_lists(verified),
        "bare_check": bare_check,
        "ledger_check_ok": ledger_ok,
    }
    path = folder / f"pledge_load-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(data, indent=2))
    log(f"figures saved to {path.relative_to(REPO)}")


if __name__ == "__main__":
    sys.exit(main())
