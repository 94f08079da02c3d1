"""Regenerate the JSON schema files in this folder from the code that defines them.

    python schemas/generate.py          # rewrite the files
    python schemas/generate.py --check  # exit 1 and name the stale files (what tests/test_schemas.py checks)

catalog.schema.json       pipeline.catalog.CATALOG_SCHEMA (OUT_ROOT/catalog.json of `gristmill serve`)
config.schema.json        pipeline.config.Config (pydantic)
ledger.arrow-schema.json  pipeline.ledger_schema.LEDGER_SCHEMA (pyarrow)
manifest.schema.json      pipeline.shard_schema.MANIFEST_SCHEMA
report.schema.json        pipeline.report.schema.REPORT_SCHEMA
shard.arrow-schema.json   pipeline.shard_schema.shard_schema_json()
finetune, eval_*, generation, fewshot_task   model.task_schemas.SCHEMAS (fine-tuning and task metrics)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _dump(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render() -> dict[str, str]:
    """File name → the text it should hold."""
    from pipeline.catalog import CATALOG_SCHEMA
    from pipeline.config import Config
    from pipeline.ledger_schema import ledger_schema_json
    from pipeline.report.schema import REPORT_SCHEMA
    from model.task_schemas import SCHEMAS
    from pipeline.shard_schema import MANIFEST_SCHEMA, shard_schema_json

    config = {"$schema": "https://json-schema.org/draft/2020-12/schema", **Config.model_json_schema()}
    return {
        "catalog.schema.json": _dump(CATALOG_SCHEMA),
        "config.schema.json": _dump(config),
        "ledger.arrow-schema.json": _dump(ledger_schema_json()),
        "manifest.schema.json": _dump(MANIFEST_SCHEMA),
        "report.schema.json": _dump(REPORT_SCHEMA),
        "shard.arrow-schema.json": _dump(shard_schema_json()),
        **{name: _dump(schema) for name, schema in SCHEMAS.items()},
    }


def stale() -> list[str]:
    return [name for name, text in render().items()
            if not (HERE / name).is_file() or (HERE / name).read_text(encoding="utf-8") != text]


def main(argv: list[str]) -> int:
    if "--check" in argv:
        names = stale()
        for name in names:
            print(f"schemas/{name} is out of date: run `python schemas/generate.py`", file=sys.stderr)
        return 1 if names else 0
    for name, text in render().items():
        (HERE / name).write_text(text, encoding="utf-8")
        print(f"wrote schemas/{name}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))  # run from anywhere without installing the package
    sys.exit(main(sys.argv[1:]))
