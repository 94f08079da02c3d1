"""Thin Prefect flows over `pipeline/` and `model/`.

Prefect runs a flow on a temporary local API by itself; these defaults keep it from trying to
reach anything outside the machine (telemetry off) unless the user has configured otherwise.
"""

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# Prefect's temporary API gets 20 s to start by default: not enough on a loaded 2-core machine
# (see flows/prefect_api.py, which also retries a build once).
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
# Idle OpenMP threads that spin steal the cores a shared 2-core machine needs (see model/__init__.py);
# it must be set before torch is first imported, which the CLI does through these flows.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
