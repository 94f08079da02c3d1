"""The service on real text: 3 inbox drops → 3 versions, each trained on and evaluated by events.

    .venv/bin/python benchmarks/service.py            # about 10 minutes on 2 shared cores

Starts a fresh `prefect server start` on a free loopback port and `gristmill serve --train-on-fresh`
against it, then drops three files into the inbox, one after the other: the prose of
../shared/data/prose/prose_dev.jsonl split by book; drops 2 and 3 also carry 10 documents the
version before kept (5 exact copies, 5 with one word changed). Each drop is followed by one run of
the build deployment (what a cron tick does; a real schedule adds the wait until its next tick). Prints, per drop, the
seconds from the file landing to its version published and to its model evaluated, and checks
the issue's done-when: each version's ledger holds only its drop's file, every planted copy is
marked duplicate_of_build, one tokenizer sha256, one model trained on all three versions.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from flows.server import api_request, api_url, free_port, start_server, stop_server, wait_until_healthy  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "prose" / "prose_dev.jsonl"
CONFIG = {
    "tokenizer": {"vocab_size": 2048},
    "shards": {"seq_len": 128, "val_fraction": 0.1},
    "model": {"n_layer": 2, "n_head": 2, "n_embd": 64},
    "train": {"max_steps": 60, "batch_size": 8, "eval_interval": 30, "eval_batches": 4, "log_interval": 10,
              "checkpoint_interval": 60, "warmup_steps": 5},
}


def books(records: list[dict]) -> list[tuple[str, list[dict]]]:
    """The three drops' own documents, by book."""
    def book(*prefixes: str) -> list[dict]:
        return [{"id": r["id"], "text": r["text"]} for r in records if r["id"].split("-")[0] in prefixes]

    return [("drop1.jsonl", book("pg1342")), ("drop2.jsonl", book("pg11", "pg84")),
            ("drop3.jsonl", book("tinyshakespeare", "the"))]


def planted(previous: Path, tag: str) -> list[dict]:
    """10 documents the previous version kept, again: 5 exact copies and 5 with one word changed.
    (A copy of a document that a filter dropped is dropped by the same filter: it is no duplicate
    of anything published.)"""
    kept = [r for r in pq.read_table(previous / "ledger.parquet", columns=["doc_id", "kept"]).to_pylist() if r["kept"]]
    ids = {r["doc_id"] for r in kept[:10]}
    texts = {}
    for part in sorted((previous / "work" / "kept").glob("part-*.parquet")):
        for row in pq.read_table(part, columns=["doc_id", "text"]).to_pylist():
            if row["doc_id"] in ids:
                texts[row["doc_id"]] = row["text"]
    chosen = sorted(texts)
    return ([{"id": f"{tag}-copy-{i}", "text": texts[i]} for i in chosen[:5]]
            + [{"id": f"{tag}-edit-{i}", "text": texts[i].replace(" the ", " that ", 1)} for i in chosen[5:10]])


def wait(what: str, check, timeout: float, process: subprocess.Popen) -> float:
    started = time.monotonic()
    while not check():
        if process.poll() is not None or time.monotonic() - started > timeout:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.5)
    return time.monotonic()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=None, help="folder to work in (default: a temporary one)")
    args = parser.parse_args()
    if not DATA.is_file():
        raise SystemExit(f"{DATA} is missing: this benchmark reads the dev data beside the repository")
    work = args.work or Path(tempfile.mkdtemp(prefix="gristmill-service-"))
    inbox, root, config = work / "inbox", work / "dataset", work / "config.yaml"
    inbox.mkdir(parents=True)
    config.write_text(yaml.safe_dump(CONFIG))
    records = [json.loads(line) for line in DATA.read_text().splitlines()]
    port = free_port()
    started = time.monotonic()
    server = start_server(work / "prefect-server", port, log=work / "server.log")
    serve = None
    try:
        server_seconds = wait_until_healthy(port, timeout=300, process=server)
        env = {**os.environ, "PREFECT_API_URL": api_url(port), "PREFECT_RUNNER_POLL_FREQUENCY": "2",
               "PREFECT_HOME": str(work / "client-home"), "PYTHONPATH": str(REPO)}
        with open(work / "serve.log", "wb") as log:
            serve = subprocess.Popen([sys.executable, "-m", "flows.cli", "serve", str(inbox), "--out-root", str(root),
                                      "--config", str(config), "--train-on-fresh"], cwd=REPO, env=env, stdout=log,
                                     stderr=subprocess.STDOUT)

        def deployment():
            try:
                return api_request(port, "/deployments/name/publish_version/gristmill-build", attempts=1)
            except OSError:
                return None

        wait("the deployments", deployment, 180, serve)
        build = deployment()
        catalog = lambda: json.loads((root / "catalog.json").read_text()) if (root / "catalog.json").is_file() else {"versions": [], "runs": []}  # noqa: E731
        rows, planted_ids = [], []
        for number, (name, docs) in enumerate(books(records), start=1):
            copies = planted(root / f"v{number - 1:04d}", f"d{number}") if number > 1 else []
            docs = docs + copies
            dropped = time.monotonic()
            tmp = inbox / f".{name}.tmp"
            tmp.write_text("".join(json.dumps(d) + "\n" for d in docs))
            tmp.replace(inbox / name)
            api_request(port, f"/deployments/{build['id']}/create_flow_run", {})
            published = wait(f"v{number}", lambda: len(catalog()["versions"]) >= number, 900, serve)
            evaluated = wait(f"run {number} evaluated", lambda: any(number == len(r["versions"]) and r.get("eval")
                                                                   for r in catalog()["runs"]), 1800, serve)
            version = catalog()["versions"][number - 1]
            rows.append((version["id"], len(docs), version["documents_kept"], version["duplicates_of_earlier_versions"],
                         version["train_tokens"] + version["val_tokens"], published - dropped, evaluated - dropped))
            planted_ids.append({d['id'] for d in copies})
    finally:
        if serve is not None:
            serve.send_signal(signal.SIGINT)
            try:
                serve.wait(30)
            except subprocess.TimeoutExpired:
                serve.kill()
        stop_server(server)

    data = catalog()
    print(f"\nprefect server start (fresh database): {server_seconds:.1f} s; whole benchmark {time.monotonic() - started:.0f} s\n")
    print("| version | docs in | kept | duplicates of earlier versions | tokens | drop → published (s) | drop → evaluated (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row[0]} | {row[1]:,} | {row[2]:,} | {row[3]} | {row[4]:,} | {row[5]:.1f} | {row[6]:.1f} |")
    print()
    checks = {}
    ledgers = [pq.read_table(root / v["folder"] / "ledger.parquet").to_pylist() for v in data["versions"]]
    checks["3 versions"] = [v["id"] for v in data["versions"]] == ["v0001", "v0002", "v0003"]
    checks["each ledger holds only its drop's file"] = all(
        {r["source"] for r in ledger} == {f"drop{i}.jsonl"} for i, ledger in enumerate(ledgers, start=1))
    checks["every planted copy marked duplicate_of_build (the version before)"] = all(
        {r["doc_id"]: r["duplicate_of_build"] for r in ledger if r["doc_id"] in p} == {i: f"v{n - 1:04d}" for i in p}
        for n, (p, ledger) in enumerate(zip(planted_ids, ledgers), start=1))
    checks["one tokenizer sha256"] = len({v["tokenizer_sha256"] for v in data["versions"]}) == 1
    checks["a model trained on all three"] = any(r["versions"] == ["v0001", "v0002", "v0003"] and r.get("eval")
                                                 for r in data["runs"])
    for name, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
    for r in data["runs"]:
        print(f"{Path(r['run']).name}: versions {','.join(r['versions'])}, from {Path(r['init_from']).name if r['init_from'] else '-'}, "
              f"eval val loss {r['eval']['val_loss']:.3f}, bits/byte {r['eval']['bits_per_byte']:.3f}")
    print(f"\nindex: {root / 'index.html'}")
    sys.exit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()
