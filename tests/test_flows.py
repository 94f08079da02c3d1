"""The Prefect flows: one real flow run on a temporary API, and the tasks' logic through `.fn`."""

import json

from flows import build_corpus as flow_module
from flows.deployments import earlier_builds
from pipeline.build import prepare
from pipeline.config import parse_config
from corpus import make_corpus
from test_build import TINY


def test_build_corpus_flow_runs_every_stage_and_publishes_the_report(prefect_harness, tmp_path):
    from prefect.client.orchestration import get_client

    corpus = tmp_path / "corpus"
    make_corpus(corpus, n_docs=12)
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps(TINY | {"ingest": {"workers": 1}}))
    out = tmp_path / "build"
    results = flow_module.build_corpus([str(corpus)], str(out), str(config), progress=False)
    assert set(results) == {"discover", "annotate", "dedup", "ledger", "tokenizer", "shards", "report"}
    assert (out / "manifest.json").is_file() and (out / "report.html").is_file()
    assert earlier_builds(tmp_path) == [str(out)]

    async def artifact_keys():
        async with get_client() as client:
            return [a.key for a in await client.read_artifacts()]

    import asyncio

    assert "data-quality-report" in asyncio.run(artifact_keys())


def test_tasks_resume_without_redoing_finished_stages(tmp_path):
    corpus = tmp_path / "corpus"
    make_corpus(corpus, n_docs=8)
    out = tmp_path / "build"
    config = parse_config(TINY | {"ingest": {"workers": 1}})
    prepare(out, config, [str(corpus)])
    first = flow_module.discover.fn(str(out), [str(corpus)])
    (out / "work" / "inputs.json").write_text((out / "work" / "inputs.json").read_text())
    assert flow_module.discover.fn(str(out), [str(corpus)]) == first  # recorded: not run again
    annotated = flow_module.annotate.fn(str(out), progress=False)
    part = out / "work" / "annotate" / "part-00000.parquet"
    stamp = part.stat().st_mtime_ns
    # A killed build: the stage record is gone but finished part files remain and are reused.
    (out / "work" / "stages" / "annotate.json").unlink()
    again = flow_module.annotate.fn(str(out), progress=False)
    assert part.stat().st_mtime_ns == stamp
    assert {k: again[k] for k in ("documents", "survivors")} == {k: annotated[k] for k in ("documents", "survivors")}
