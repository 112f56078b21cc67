"""Plumbing for the benches: processes that always get cleaned up, CPU accounting, load drivers.

Two load drivers produce the same result file format (the one `wrk_load.lua` writes):
`wrk` (C, the default: it leaves the CPU to the server) and a Python asyncio driver
with keep-alive connections (`--driver python`), which finishes every request it
starts and so maps each key to its answer exactly, but costs much more CPU per request.
"""

import asyncio
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WRK_SCRIPT = Path(__file__).resolve().parent / "wrk_load.lua"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

sys.path.insert(0, str(REPO))
from tests.harness import services  # noqa: E402


def log(message: str):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- signals and cleanup -------------------------------------------------------------------------


class Stopped(Exception):
    pass


def _raise_stopped(signum, frame):
    raise Stopped(f"signal {signal.Signals(signum).name}")


def install_signal_handlers():
    """SIGTERM and SIGHUP unwind like Ctrl-C does, so `finally` blocks stop what we started."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_stopped)


class Cleanup:
    """Callbacks run in reverse order, each once, even if one of them fails."""

    def __init__(self):
        self._callbacks = []

    def add(self, callback, *args):
        self._callbacks.append((callback, args))

    def run(self):
        while self._callbacks:
            callback, args = self._callbacks.pop()
            try:
                callback(*args)
            except Exception as exc:  # keep cleaning up
                log(f"cleanup step {getattr(callback, '__name__', callback)} failed: {exc}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        # From here on the process only cleans up and exits (atexit then stops PostgreSQL):
        # a second Ctrl-C or SIGTERM must not cut that short.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        self.run()


def run_in_work_dir(body, *, keep: bool, prefix: str) -> int:
    """A bench's main: `body(work, cleanup)` in a new temp dir (kept with --keep), with SIGTERM and
    SIGHUP unwinding like Ctrl-C and everything started stopped on every way out. Its exit status:
    body's, 130 when interrupted, 1 when it raised RuntimeError (said in one line)."""
    import tempfile

    install_signal_handlers()
    work = Path(tempfile.mkdtemp(prefix=prefix))
    with Cleanup() as cleanup:
        if not keep:
            cleanup.add(shutil.rmtree, work, True)
        try:
            return body(work, cleanup)
        except (KeyboardInterrupt, Stopped) as exc:
            log(f"interrupted ({exc or 'Ctrl-C'}): cleaning up")
            return 130
        except RuntimeError as exc:
            log(f"FAILED: {exc}")
            return 1
        finally:
            if keep:
                log(f"kept {work}")


def new_run_id(letter: str) -> str:
    """A prefix that makes one run's idempotency keys its own."""
    import secrets

    return f"{letter}{int(time.time())}{secrets.token_hex(2)}"


# --- PostgreSQL ----------------------------------------------------------------------------------


def start_postgres() -> str:
    """A throwaway cluster (the test harness's); stopped at exit. Returns a URL without a database."""
    if not services.pg_bin("initdb"):
        services.ensure_packages()
    url = services.start_postgres()  # registers its own stop with atexit
    return with_database(url, "postgres")


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def create_database(url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(url, name)


def postgres_pids(url: str) -> list[int]:
    """The cluster's postmaster (found by its port) and its children."""
    port = str(urlsplit(url).port)
    for pid in _all_pids():
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"/postgres") and b"-p" in argv:
            if argv[argv.index(b"-p") + 1].decode() == port:
                return [pid, *descendants(pid)]
    return []


# --- processes and CPU ---------------------------------------------------------------------------


def _all_pids():
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from 3 (state) on


def descendants(pid: int) -> list[int]:
    children = {}
    for other in _all_pids():
        fields = _stat(other)
        if fields:
            children.setdefault(int(fields[1]), []).append(other)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_seconds(pids) -> float:
    """User + system CPU of these processes, including their reaped children."""
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields:
            total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / CLOCK_TICKS


def system_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:9]]
    return (sum(values) - values[3] - values[4]) / CLOCK_TICKS  # minus idle and iowait


def run(cmd, *, env, log_path, what: str):
    """Run a step to completion, its output to log_path; on failure show the log's tail and stop."""
    with open(log_path, "ab") as out:
        result = subprocess.run(cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        tail = Path(log_path).read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{what} failed (exit {result.returncode}); end of {log_path}:\n{tail}")
    return result


class Gunicorn:
    """One gunicorn master in its own session (Ctrl-C reaches us, not it); stopped with SIGTERM."""

    def __init__(self, app: str, *, env: dict, port: int, workers: int, log_path: str, name: str):
        self.name, self.port, self.log_path = name, port, log_path
        cmd = [
            str(BIN / "gunicorn"),
            app,
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--no-control-socket",
            "--graceful-timeout",
            "10",
        ]
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            cmd, env=env, cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log(f"{name}: gunicorn pid {self.proc.pid} on 127.0.0.1:{port}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        return [self.proc.pid, *descendants(self.proc.pid)]

    def wait_ready(self, path: str, headers=None, timeout: float = 60.0) -> int:
        """Poll until the path answers (any status but 5xx and connection errors); return the status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("GET", path, headers=headers or {})
                status = conn.getresponse().status
                conn.close()
                if status < 500:
                    return status
            except OSError:
                pass
            time.sleep(0.2)
        tail = Path(self.log_path).read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{self.name} did not come up (exit {self.proc.poll()}); end of its log:\n{tail}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the master: graceful stop of its workers
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                log(f"{self.name}: no exit after SIGTERM; SIGKILL to its process group")
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._log.close()
        log(f"{self.name}: stopped (exit {self.proc.returncode})")


# --- load ----------------------------------------------------------------------------------------


@dataclass
class Target:
    """What to load. mode: `get` (plain GET), `pledge` (the site's API, with tokens) or `bare` (SQL view)."""

    name: str
    url: str  # full URL including the path
    mode: str
    server_pid: int | None = None  # the gunicorn master: it and its workers are counted as "web" CPU
    db_url: str | None = None
    tokens_file: str | None = None
    users: int = 0
    drain_path: str = "/"  # a cheap path on the same server, used to wait out its backlog
    workers: int = 2
    cookie: str = ""  # get mode (wrk only): a Cookie header, e.g. a signed-in session


@dataclass
class LoadResult:
    target: Target
    driver: str
    seconds: float
    requests: int
    statuses: Counter
    socket_errors: Counter
    p50_ms: float
    p99_ms: float
    out_file: str
    client_cpu: float = 0.0  # cores used by the load generator
    server_cpu: float = 0.0  # cores used by gunicorn
    db_cpu: float = 0.0  # cores used by PostgreSQL
    other_cpu: float = 0.0  # cores used by everything else on the box meanwhile (noise)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        ok = sum(count for status, count in self.statuses.items() if 200 <= int(status) < 300)
        return self.requests - ok + sum(self.socket_errors.values())


def measure(
    target: Target,
    *,
    driver: str,
    clients: int,
    seconds: float,
    threads: int,
    replay: float,
    run_id: str,
    out_file: str,
) -> LoadResult:
    def db_cpu():  # pids looked up each time: backends come and go (their CPU stays in the postmaster's)
        return cpu_seconds(postgres_pids(target.db_url)) if target.db_url else 0.0

    def web_cpu():
        pid = target.server_pid
        return cpu_seconds([pid, *descendants(pid)]) if pid else 0.0

    before = (web_cpu(), db_cpu(), system_busy_seconds())
    if driver == "wrk":
        result = _run_wrk(target, clients, seconds, threads, replay, run_id, out_file)
    else:
        result = _run_python(target, clients, seconds, replay, run_id, out_file)
    result.server_cpu = (web_cpu() - before[0]) / result.seconds
    result.db_cpu = (db_cpu() - before[1]) / result.seconds
    busy = (system_busy_seconds() - before[2]) / result.seconds
    result.other_cpu = max(0.0, busy - result.client_cpu - result.server_cpu - result.db_cpu)
    drain(target)
    return result


def drain(target: Target, timeout: float = 120.0):
    """Wait until the server has worked off requests the driver gave up on at its deadline.

    gunicorn's sync workers still serve connections the client has closed; a probe per
    worker, queued behind them, returns when they are done, so they don't spill into the
    next target's measurement.
    """
    parts = urlsplit(target.url)

    def probe(_):
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        try:
            conn.request("GET", target.drain_path)
            conn.getresponse().read()
        except OSError:
            pass
        finally:
            conn.close()

    with ThreadPoolExecutor(target.workers) as pool:
        list(pool.map(probe, range(target.workers)))


def combine(results: list[LoadResult]) -> LoadResult:
    """One target's turns as one figure: totals over total time, the median p50, the worst p99."""
    if len(results) == 1:
        return results[0]
    seconds = sum(r.seconds for r in results)

    def cores(attr):
        return sum(getattr(r, attr) * r.seconds for r in results) / seconds

    return LoadResult(
        target=results[0].target,
        driver=results[0].driver,
        seconds=seconds,
        requests=sum(r.requests for r in results),
        statuses=sum((r.statuses for r in results), Counter()),
        socket_errors=sum((r.socket_errors for r in results), Counter()),
        p50_ms=sorted(r.p50_ms for r in results)[len(results) // 2],
        p99_ms=max(r.p99_ms for r in results),
        out_file=results[-1].out_file,
        client_cpu=cores("client_cpu"),
        server_cpu=cores("server_cpu"),
        db_cpu=cores("db_cpu"),
        other_cpu=cores("other_cpu"),
    )


def _run_wrk(target, clients, seconds, threads, replay, run_id, out_file) -> LoadResult:
    env = {
        **os.environ,
        "BENCH_MODE": target.mode,
        "BENCH_TOKENS": target.tokens_file or "",
        "BENCH_USERS": str(target.users),
        "BENCH_REPLAY": str(replay),
        "BENCH_RUN": run_id,
        "BENCH_OUT": out_file,
        "BENCH_COOKIE": target.cookie,
    }
    if not shutil.which("wrk"):  # a fresh machine: Debian's wrk, as the test set-up installs its packages
        services.ensure_packages({"wrk": lambda: bool(shutil.which("wrk"))})
    wrk = shutil.which("wrk")
    cmd = [
        wrk,
        "-t",
        str(threads),
        "-c",
        str(clients),
        "-d",
        f"{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(WRK_SCRIPT),
        target.url,
    ]
    start = os.times()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    end = os.times()
    if proc.returncode != 0 or not Path(out_file).exists():
        raise RuntimeError(f"wrk failed (exit {proc.returncode}): {cmd}\n{proc.stdout}\n{proc.stderr}")
    values, statuses = {}, Counter()
    for line in Path(out_file).read_text().splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "status":
            status, count = rest.split()
            statuses[status] += int(count)
        elif kind not in ("sent", "answered", "replays"):
            values[kind] = float(rest)
    wall = values["duration_us"] / 1e6
    errors = Counter({name: int(values[f"error_{name}"]) for name in ("connect", "read", "write", "timeout")})
    result = LoadResult(
        target=target,
        driver=f"wrk -t{threads}",
        seconds=wall,
        requests=int(values["requests"]),
        statuses=statuses,
        socket_errors=+errors,
        p50_ms=values["latency_p50_us"] / 1000,
        p99_ms=values["latency_p99_us"] / 1000,
        out_file=out_file,
    )
    result.client_cpu = (
        (end.children_user - start.children_user) + (end.children_system - start.children_system)
    ) / wall
    return result


class _Requests:
    """The Python driver's request maker: the same keys, replays and bodies as wrk_load.lua."""

    def __init__(self, target: Target, replay: float, run_id: str, host_header: str):
        self.target, self.replay, self.run_id = target, replay, run_id
        self.path = urlsplit(target.url).path
        self.host = host_header
        self.tokens = []
        if target.mode == "pledge":
            self.tokens = [t for t in Path(target.tokens_file).read_text().split() if t]
        self.users = len(self.tokens) or target.users
        self.history, self.sent, self.seq = [], [], 0

    def next(self) -> bytes:
        if self.target.mode == "get":
            return f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode()
        if self.history and random.random() < self.replay:
            entry = random.choice(self.history)
        else:
            self.seq += 1
            entry = (
                random.randint(1, self.users),
                f"{self.run_id}-py-{self.seq}",
                100 + random.randint(0, 400),
            )
            self.history.append(entry)
            self.sent.append(entry)
        user, key, amount = entry
        headers = f"Host: {self.host}\r\nContent-Type: application/json\r\nIdempotency-Key: {key}\r\n"
        if self.target.mode == "pledge":
            body = json.dumps({"amount_cents": amount}).encode()
            headers += f"Authorization: Token {self.tokens[user - 1]}\r\n"
        else:
            body = json.dumps({"user": user, "amount_cents": amount}).encode()
        return f"POST {self.path} HTTP/1.1\r\n{headers}Content-Length: {len(body)}\r\n\r\n".encode() + body


async def _read_response(reader) -> tuple[int, bool, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    close = headers.get("connection", "").lower() == "close"
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            body += await reader.readexactly(size + 2)
            if size == 0:
                body = body[:-2]
                break
    else:
        body, close = await reader.read(), True
    return status, close, body


def _run_python(target, clients, seconds, replay, run_id, out_file) -> LoadResult:
    parts = urlsplit(target.url)
    maker = _Requests(target, replay, run_id, parts.netloc)
    statuses, errors, latencies, answered = Counter(), Counter(), [], []
    id_pattern = re.compile(rb'"id"\s*:\s*(\d+)')

    async def client(deadline):
        reader = writer = None
        while time.perf_counter() < deadline:  # never abandons a request it started
            raw = maker.next()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
                started = time.perf_counter()
                writer.write(raw)
                status, close, body = await asyncio.wait_for(_read_response(reader), timeout=10)
            except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
                errors[type(exc).__name__] += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
                continue
            latencies.append(time.perf_counter() - started)
            statuses[str(status)] += 1
            if status == 201 and (match := id_pattern.search(body)):
                answered.append(int(match[1]))
            if close:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    async def main():
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(client(deadline) for _ in range(clients)))

    cpu0, wall0 = time.process_time(), time.perf_counter()
    asyncio.run(main())
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] * 1000 if latencies else 0.0

    with open(out_file, "w") as f:
        for status, count in statuses.items():
            f.write(f"status {status} {count}\n")
        f.writelines(f"answered {pk}\n" for pk in answered)
        f.writelines(f"sent {user} {key} {amount}\n" for user, key, amount in maker.sent)
    return LoadResult(
        target=target,
        driver="python asyncio",
        seconds=wall,
        requests=sum(statuses.values()),
        statuses=statuses,
        socket_errors=errors,
        p50_ms=pct(50),
        p99_ms=pct(99),
        out_file=out_file,
        client_cpu=cpu / wall,
    )


# --- output --------------------------------------------------------------------------------------


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells):
        return "  ".join(
            str(c).rjust(w) if i else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])
