"""pytest plugin (loaded with -p before Django): start the run's services once.

The controller process starts one PostgreSQL and one Redis for the whole run and
exports their URLs; xdist workers inherit them. It also installs the pinned axe-core
(services.ensure_axe) before any worker starts. A skipped test fails the run:
nothing is silently skipped.
"""

import os
import sys

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
def pytest_collection_modifyitems(config, items):
    """Each xdist worker, after xdist's own hook: `--dist loadgroup` must have grouped the marked tests.

    A module whose tests share a module-scoped site and run in order (tests/integration/test_scale_out.py)
    breaks when its tests are spread over two workers. pytest 9.2 with pytest-xdist 3.8 silently
    stopped grouping (pytest-xdist#1386); say so instead of flaking.
    """
    if "PYTEST_XDIST_WORKER" not in os.environ or not config.getvalue("loadgroup"):
        return
    ungrouped = [
        item.nodeid for item in items if item.get_closest_marker("xdist_group") and "@" not in item.nodeid
    ]
    if ungrouped:
        message = (
            f"--dist loadgroup did not group {len(ungrouped)} marked tests (e.g. {ungrouped[0]}): "
            "this pytest and pytest-xdist do not work together (see requirements-dev.txt)."
        )
        print(f"[harness] {message}", file=sys.__stderr__, flush=True)  # a worker's exception loses its words
        raise pytest.UsageError(message)


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
