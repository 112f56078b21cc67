"""pytest plugin (loaded with -p before Django): start the run's services once.

The controller process starts one PostgreSQL and one Redis for the whole run and
exports their URLs; xdist workers inherit them. It also installs the pinned axe-core
(services.ensure_axe) before any worker starts. A skipped test fails the run:
nothing is silently skipped.
"""

import os

import pytest

from tests.harness import services

if "PYTEST_XDIST_WORKER" not in os.environ:
    services.ensure_packages()
    services.ensure_axe()
    if not os.environ.get("FUNDFILL_TEST_DATABASE_URL"):
        os.environ["FUNDFILL_TEST_DATABASE_URL"] = services.start_postgres()
    if not os.environ.get("FUNDFILL_TEST_REDIS_URL"):
        os.environ["FUNDFILL_TEST_REDIS_URL"] = services.start_redis()

_skipped = []


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if _skipped and "PYTEST_XDIST_WORKER" not in os.environ and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if _skipped:
        terminalreporter.write_line(
            f"FAILED: {len(_skipped)} test(s) skipped; a skipped test is a failure here:", red=True
        )
        for nodeid in _skipped:
            terminalreporter.write_line(f"  {nodeid}", red=True)
