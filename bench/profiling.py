"""Where a web process spends its time under load: py-spy samples of each gunicorn worker, summed.

`pledge_load.py --profile` samples the site's workers for the measured run of the pledge API
(py-spy attaches from outside and does not stop the process: `--nonblocking`), then prints the
functions holding the most samples — inclusive (the function and what it calls) and self (its own
code) — grouped by function and file. py-spy is a bench-only tool: pinned here and installed into
the venv on first use, never by `make test`. Attaching needs ptrace (root, or
`kernel.yama.ptrace_scope=0`).
"""

import collections
import re
import subprocess
from pathlib import Path

from bench.common import BIN, log

PY_SPY = "py-spy==0.4.1"
RATE = 250  # samples a second per worker
TRUNK = 0.75
FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]+)(?::\d+)?\)$")


def ensure_py_spy() -> Path:
    tool = BIN / "py-spy"
    if not tool.exists():
        log(f"installing {PY_SPY} (bench only)")
        subprocess.run([str(BIN / "pip"), "install", "-q", PY_SPY], check=True)
    return tool


class Sampler:
    """One `py-spy record` per worker pid for `seconds`, writing collapsed stacks."""

    def __init__(self, pids: list[int], seconds: float, work: Path, name: str):
        tool = ensure_py_spy()
        self.files = [work / f"profile-{name}-{pid}.txt" for pid in pids]
        self.procs = [
            subprocess.Popen(
                [
                    str(tool),
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(max(1, int(seconds))),
                    "--rate",
                    str(RATE),
                    "--format",
                    "raw",
                    "--nonblocking",
                    "--output",
                    str(path),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for pid, path in zip(pids, self.files, strict=True)
        ]

    def wait(self) -> list[Path]:
        for proc in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        return [path for path in self.files if path.exists()]


def _site(frame: str) -> str:
    """`func (path/to/file.py:12)` → `func (to/file.py)`: lines merged, paths shortened."""
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "/work/main/", "/lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['func']} ({path})"


# Named parts of the pledge request, each the share of samples with a frame matching its pattern
# (a part inside another counts in both): what issue 14 asks to weigh, before and after a change.
PARTS = (
    # Issue 14 moved some of these: both token lookups, both fund locks and both ledger writes are
    # listed, the ORM path's (before) and the SQL path's (after), so old and new profiles compare.
    (
        "DRF token authentication (DRF's ORM lookup)",
        "authenticate_credentials (rest_framework/authentication.py)",
    ),
    (
        "token authentication (prepared statement)",
        "authenticate_credentials (bounties/api/authentication.py)",
    ),
    ("the view's public-fund check (exists)", "exists (django/db/models/query.py)"),
    ("pledge_create, all of it", "_pledge_create (bounties/services/pledging.py)"),
    ("  idempotency replay lookup", "_replay (bounties/services/pledging.py)"),
    ("  lock_fund (SELECT … FOR UPDATE, ORM)", "lock_fund (bounties/services/pledging.py)"),
    ("  pledge_lock (lock and read, one statement)", "pledge_lock (bounties/services/ledger.py)"),
    ("  move_into_escrow (ORM)", "move_into_escrow (bounties/services/pledging.py)"),
    ("    transfer_post (ledger, ORM)", "transfer_post (bounties/services/ledger.py)"),
    ("  pledge_post (the ledger write, one statement)", "pledge_post (bounties/services/ledger.py)"),
    ("  receipt staged in the outbox", "stage (bounties/services/announcing.py)"),
    ("COMMIT and the on-commit nudge", "run_and_clear_commit_hooks (django/db/backends/base/base.py)"),
    ("autocommit switches (atomic)", "set_autocommit (django/db/backends/base/base.py)"),
    ("waiting on PostgreSQL (psycopg wait)", "wait (psycopg/connection.py)"),
    ("query compilation (SQLCompiler.as_sql)", "as_sql (django/db/models/sql/compiler.py)"),
)


def top(files: list[Path], n: int = 15) -> dict:
    """{"samples": total, "inclusive": [(site, share)], "self": [(site, share)]} over every stack."""
    inclusive, own, total = collections.Counter(), collections.Counter(), 0
    for path in files:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit() or not stack:
                continue
            samples = int(count)
            frames = [_site(frame) for frame in stack.split(";") if frame.strip()]
            frames = [f for f in frames if not f.startswith(("process ", "thread "))]
            if not frames:
                continue
            total += samples
            for site in set(frames):
                inclusive[site] += samples
            own[frames[-1]] += samples
    if not total:
        return {"samples": 0, "inclusive": [], "self": [], "parts": []}

    def shares(counter):
        return [(site, count / total) for site, count in counter.most_common(n)]

    # The trunk every request runs through (gunicorn's loop, Django's handler) says nothing: leave
    # out frames in at least TRUNK of the samples, so the inclusive list names where time branches.
    branches = collections.Counter({site: c for site, c in inclusive.items() if c < TRUNK * total})
    parts = [
        (label, sum(c for site, c in inclusive.items() if site == pattern) / total)
        for label, pattern in PARTS
    ]
    return {"samples": total, "inclusive": shares(branches), "self": shares(own), "parts": parts}


def report(profile: dict, title: str) -> str:
    lines = [
        f"  Profile of {title}: {profile['samples']} samples of the site's workers "
        f"(inclusive leaves out frames in {TRUNK:.0%} or more of them: the server's trunk)"
    ]
    lines.append("  named parts (share of the workers' samples):")
    lines += [f"    {share * 100:5.1f} %  {label}" for label, share in profile["parts"]]
    for kind in ("inclusive", "self"):
        lines.append(f"  top by {kind} time:")
        lines += [f"    {share * 100:5.1f} %  {site}" for site, share in profile[kind]]
    return "\n".join(lines)
