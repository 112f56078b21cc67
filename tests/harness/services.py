"""Throwaway PostgreSQL and Redis servers on loopback for one test run.

Missing Debian packages are installed when running as root (CI); otherwise we
stop with the exact command to run. PostgreSQL refuses to run as root, so as
root the cluster belongs to the `postgres` user.
"""

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time

PACKAGES = {
    "postgresql": lambda: bool(pg_bin("initdb")),
    "redis-server": lambda: bool(shutil.which("redis-server")),
    "chromium": lambda: os.path.exists("/usr/bin/chromium"),
    "chromium-driver": lambda: os.path.exists("/usr/bin/chromedriver"),
}


def pg_bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_packages():
    missing = [name for name, present in PACKAGES.items() if not present()]
    if not missing:
        return
    command = ["apt-get", "install", "-y", "-q", *missing]
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit(
            f"The tests need system packages that are missing. Install them with:\n  sudo {' '.join(command)}"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"[harness] installing {' '.join(missing)}", file=sys.stderr)
    if subprocess.run(command, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL, check=True)
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=True)


def _as_postgres(args):
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


def start_postgres():
    """initdb a scratch cluster tuned for tests (no fsync) and return its URL."""
    base = tempfile.mkdtemp(prefix="fundfill-pg-")
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)
    data = os.path.join(base, "data")
    port = free_port()
    subprocess.run(
        _as_postgres([pg_bin("initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8"]),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    options = (
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=300 -c shared_buffers=128MB"
    )
    subprocess.run(
        _as_postgres(
            [pg_bin("pg_ctl"), "-D", data, "-o", options, "-l", os.path.join(base, "log"), "-w", "start"]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )

    def stop():
        subprocess.run(
            _as_postgres([pg_bin("pg_ctl"), "-D", data, "-m", "immediate", "stop"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(base, ignore_errors=True)

    atexit.register(stop)
    return f"postgres://postgres@127.0.0.1:{port}/fundfill"


def start_redis():
    base = tempfile.mkdtemp(prefix="fundfill-redis-")
    port = free_port()
    pidfile = os.path.join(base, "redis.pid")
    subprocess.run(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--daemonize",
            "yes",
            "--pidfile",
            pidfile,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            base,
            "--logfile",
            os.path.join(base, "log"),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)

    def stop():
        try:
            with open(pidfile) as f:
                pid = int(f.read().strip())
            os.kill(pid, 15)
            for _ in range(100):  # wait for it to exit before removing its directory
                os.kill(pid, 0)
                time.sleep(0.05)
        except (OSError, ValueError):
            pass
        shutil.rmtree(base, ignore_errors=True)

    atexit.register(stop)
    return f"redis://127.0.0.1:{port}/0"
