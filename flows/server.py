"""A real Prefect server on 127.0.0.1, with its database in a folder the user chooses.

The temporary API that Prefect starts by itself runs no scheduler and keeps no history, so the
service (`gristmill serve`) needs this one. Facts this code relies on (Prefect 3.9): `--port`
does not change the API address the UI calls, so PREFECT_SERVER_UI_API_URL is set too; a fresh
SQLite database takes 20-30 s to start on 2 loaded cores.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

DEFAULT_PORT = 4200


def free_port() -> int:
    """A TCP port on the loopback address that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/api"


def server_env(data_dir: Path, port: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of `prefect server start` bound to loopback, with its database under data_dir."""
    data_dir = Path(data_dir).resolve()
    env = dict(os.environ if base is None else base)
    env.update({
        "PREFECT_HOME": str(data_dir),
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{data_dir / 'prefect.db'}",
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_SERVER_UI_API_URL": api_url(port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    })
    env.pop("PREFECT_API_URL", None)  # the server is the API; it must not talk to another one
    return env


def server_command(port: int) -> list[str]:
    prefect = Path(sys.executable).with_name("prefect")
    return [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)]


def start_server(data_dir: Path, port: int, log: Path | None = None) -> subprocess.Popen:
    """Start the server as a child process (its own process group, so it can be stopped alone)."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    out = open(log, "ab") if log else subprocess.DEVNULL
    return subprocess.Popen(server_command(port), env=server_env(Path(data_dir), port), stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)


def wait_until_healthy(port: int, timeout: float = 120.0, process: subprocess.Popen | None = None) -> float:
    """Seconds until GET /api/health answers; raises TimeoutError or RuntimeError (server exited)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"prefect server exited with code {process.returncode} before it answered")
        try:
            with urllib.request.urlopen(f"{api_url(port)}/health", timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"prefect server on port {port} did not answer within {timeout:.0f} s")


def stop_server(process: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM to the server's own process group, then SIGKILL if it lingers."""
    import signal

    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run_server(data_dir: Path, port: int) -> None:
    """`gristmill server start`: print the addresses, then become the server process (Ctrl-C stops it)."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    print(f"Prefect server for gristmill, database {Path(data_dir).resolve() / 'prefect.db'}", flush=True)
    print(f"UI:  http://127.0.0.1:{port}", flush=True)
    print(f"API: {api_url(port)}   (in another shell: export PREFECT_API_URL={api_url(port)})", flush=True)
    command = server_command(port)
    os.execvpe(command[0], command, server_env(Path(data_dir), port))


def api_request(port: int, path: str, body: dict | None = None, attempts: int = 20):
    """GET (or POST body to) the server's REST API; JSON in, JSON out. Retries 503, which Prefect
    answers while its SQLite database is locked by its own services (its client retries too)."""
    import json
    import urllib.error

    request = urllib.request.Request(api_url(port) + path, method="GET" if body is None else "POST",
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as e:
            if e.code != 503 or attempt == attempts - 1:
                raise
            time.sleep(0.5 + attempt * 0.25)
