"""The committed schema files are what the code says, and they describe the files the code writes."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import Config
from pipeline.ledger_schema import LEDGER_SCHEMA, check_ledger

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "schemas"
# The ledger columns docs/contracts promise, in order (the schema may add columns after them).
CONTRACT_COLUMNS = ["doc_id", "source", "kept", "drop_reason", "language", "language_score", "toxicity_score",
                    "flagged_word_ratio", "pii_email", "pii_ip", "pii_phone", "duplicate_of", "first_line",
                    "duplicate_of_build", "n_chars", "split"]


def _generate_module():
    spec = importlib.util.spec_from_file_location("schemas_generate", SCHEMAS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["config.schema.json", "ledger.arrow-schema.json", "manifest.schema.json",
                                  "report.schema.json", "shard.arrow-schema.json"])
def test_committed_schema_matches_the_code(name):
    expected = _generate_module().render()[name]
    committed = (SCHEMAS / name).read_text(encoding="utf-8")
    assert committed == expected, f"schemas/{name} is out of date: run `python schemas/generate.py`"


def test_generate_check_mode_agrees():
    result = subprocess.run([sys.executable, str(SCHEMAS / "generate.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_config_schema_accepts_the_defaults_and_refuses_typos():
    schema = json.loads((SCHEMAS / "config.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(Config().model_dump(mode="json"))
    validator.validate({"toxicity": {"threshold": 0.5}, "language": {"allowed": ["en"]}})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"toxicity": {"treshold": 0.5}})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"shards": {"val_fraction": 1.5}})


def test_report_schema_is_a_valid_json_schema():
    schema = json.loads((SCHEMAS / "report.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate({"schema_version": 1})


def test_ledger_schema_json_describes_every_contract_column():
    described = json.loads((SCHEMAS / "ledger.arrow-schema.json").read_text())
    names = [f["name"] for f in described["fields"]]
    assert names[: len(CONTRACT_COLUMNS)] == CONTRACT_COLUMNS
    assert all(f["description"] and f["type"] for f in described["fields"])
    by_name = {f["name"]: f for f in described["fields"]}
    assert by_name["kept"] == {**by_name["kept"], "type": "bool", "nullable": False}
    assert by_name["drop_reason"]["nullable"] and by_name["language_score"]["type"] == "double"


def _ledger_rows() -> list[dict]:
    return [
        {"doc_id": "a.jsonl:1", "source": "a.jsonl", "kept": True, "first_line": "hello", "n_chars": 5, "split": "train",
         "language": "en", "language_score": 0.99, "pii_email": 0},
        {"doc_id": "a.jsonl:2", "source": "a.jsonl", "kept": False, "drop_reason": "exact_duplicate", "first_line": "hello",
         "n_chars": 5, "duplicate_of": "a.jsonl:1"},
    ]


def test_ledger_schema_survives_parquet(tmp_path):
    table = pa.Table.from_pylist(_ledger_rows(), schema=LEDGER_SCHEMA)
    check_ledger(table)
    pq.write_table(table, tmp_path / "ledger.parquet")
    back = pq.read_table(tmp_path / "ledger.parquet")
    assert back.schema.equals(LEDGER_SCHEMA, check_metadata=True)  # types, nullability and descriptions
    check_ledger(back)


def test_check_ledger_names_every_problem():
    table = pa.Table.from_pylist(_ledger_rows(), schema=LEDGER_SCHEMA)
    broken = (table.drop_columns(["split"])
              .set_column(table.schema.get_field_index("n_chars"), "n_chars", pa.array(["5", "5"]))
              .append_column("extra", pa.array([1, 2]))
              .set_column(0, pa.field("doc_id", pa.string()), pa.array(["x", None])))
    with pytest.raises(ValueError) as excinfo:
        check_ledger(broken)
    message = str(excinfo.value)
    for part in ("missing column 'split'", "'n_chars' is string, expected int64", "unexpected column 'extra'",
                 "'doc_id' holds nulls"):
        assert part in message
