"""Throwaway PostgreSQL and Redis servers on loopback for one test run.

Missing Debian packages are installed when running as root (CI); otherwise we
stop with the exact command to run. PostgreSQL refuses to run as root, so as
root the cluster belongs to the `postgres` user.

axe-core (the accessibility checks in tests/ui/a11y.py) is installed the same way, by the
machine's npm, once per pinned version into the git-ignored tests/ui/.axe/; nothing is
downloaded while a test runs.
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
from pathlib import Path

PACKAGES = {
    "postgresql": lambda: bool(pg_bin("initdb")),
    "redis-server": lambda: bool(shutil.which("redis-server")),
    "chromium": lambda: os.path.exists("/usr/bin/chromium"),
    "chromium-driver": lambda: os.path.exists("/usr/bin/chromedriver"),
}


# The one pin of axe-core; bump it here (the next run installs it beside the old one).
AXE_VERSION = "4.14.1"
AXE_DIR = Path(__file__).resolve().parents[1] / "ui" / ".axe" / f"axe-core-{AXE_VERSION}"
AXE_SCRIPT = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"


def pg_bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_packages(packages=None):
    """Install the Debian packages of `packages` (name -> "is it there?"; default PACKAGES) that are missing."""
    missing = [name for name, present in (packages or PACKAGES).items() if not present()]
    if not missing:
        return
    _apt_install(missing)


def _apt_install(missing):
    command = ["apt-get", "install", "-y", "-q", *missing]
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit(
            f"This needs system packages that are missing. Install them with:\n  sudo {' '.join(command)}"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"[harness] installing {' '.join(missing)}", file=sys.stderr)
    if subprocess.run(command, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL, check=True)
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=True)


def ensure_axe():
    """axe-core at AXE_VERSION in AXE_DIR, by npm (itself apt-installed as root if missing).

    Installed into a scratch directory beside AXE_DIR and renamed into place, so two runs
    starting at once in one working tree never see half an install.
    """
    if AXE_SCRIPT.is_file():
        return
    spec = f"axe-core@{AXE_VERSION}"
    flags = ["--no-audit", "--no-fund", "--no-package-lock"]
    by_hand = " ".join(["npm", "install", "--prefix", str(AXE_DIR), *flags, spec])
    if not shutil.which("npm"):
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            sys.exit(
                f"The UI tests need axe-core, and npm is missing. Install them with:\n  sudo apt-get install -y npm\n  {by_hand}"
            )
        _apt_install(["npm"])
    AXE_DIR.parent.mkdir(parents=True, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix=f"{AXE_DIR.name}-", dir=AXE_DIR.parent)
    os.chmod(scratch, 0o755)
    command = ["npm", "install", "--prefix", scratch, *flags, spec]
    print(f"[harness] installing {spec} into {AXE_DIR}", file=sys.stderr)
    try:
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0 or not (Path(scratch) / "node_modules" / "axe-core" / "axe.min.js").is_file():
            sys.exit(
                f"Could not install {spec} (npm said: {done.stderr.strip()[-500:]}). Install it with:\n  {by_hand}"
            )
        try:
            os.rename(scratch, AXE_DIR)
        except OSError:  # another run put it there first
            if not AXE_SCRIPT.is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


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
