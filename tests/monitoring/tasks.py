"""A task for the worker-log tests: it logs one line, as a real task's service would."""

import logging

logger = logging.getLogger("fundfill.tests.task")


def log_a_line():
    logger.warning("delivering")
