"""Starting Prefect's temporary local API on a loaded machine.

Prefect starts a temporary API server in a subprocess when no server is configured, and gives it
20 seconds by default (counting only its sleeps). On a 2-core machine shared with other jobs it
took longer, and builds failed before their first stage ("Timed out while attempting to connect
to ephemeral Prefect API server"). gristmill gives it STARTUP_SECONDS unless the user set
PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, and tries once more with twice that (at least 180 s).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

STARTUP_SECONDS = 90  # the default flows/__init__.py sets
T = TypeVar("T")


def is_startup_timeout(error: BaseException) -> bool:
    return "ephemeral Prefect API server" in str(error) or "ephemeral Prefect API" in str(error)


def with_api_retry(call: Callable[[], T]) -> T:
    """call(); if Prefect's temporary API did not start in time, stop it and call once more with
    twice the startup time."""
    try:
        return call()
    except RuntimeError as e:
        if not is_startup_timeout(e):
            raise
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, temporary_settings

    first = PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()
    second = 2 * max(first, STARTUP_SECONDS)
    print(f"Prefect's temporary API did not start within {first} s; trying once more with {second} s "
          "(or run with --no-prefect)", file=sys.stderr, flush=True)
    SubprocessASGIServer().stop()  # the slow one, so that it does not linger beside the new one
    with temporary_settings({PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: second}):
        return call()
