"""JSON schemas of what fine-tuning and task evaluation write (rendered into schemas/ by schemas/generate.py)."""

from __future__ import annotations

from typing import Any

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_NUMBER = {"type": "number"}
_COUNT = {"type": "integer", "minimum": 0}
_RATE = {"type": "number", "minimum": 0, "maximum": 1}
_SKIPPED = {"type": "object", "additionalProperties": _COUNT,
            "description": "rows not used, by reason: invalid:json, invalid:not_a_record, invalid:choices, missing:<field>, too_long"}


def _object(title: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"$schema": DRAFT, "title": title, "type": "object", "properties": properties, "required": required}


FINETUNE_RECORD = _object("RUN/finetune.json: how a fine-tuned run was made", {
    "task": {"enum": ["classify", "instruct"]},
    "settings": {"type": "object", "description": "model.finetune.FinetuneSettings"},
    "steps": _COUNT, "loss": {"type": ["number", "null"]}, "seconds": _NUMBER,
    "trainable_params": _COUNT, "total_params": _COUNT, "peak_rss_mb": _NUMBER,
    "rows": _COUNT, "skipped": _SKIPPED,
    "label_counts": {"type": "object", "additionalProperties": _COUNT},
    "classifier": {"type": "object", "properties": {"labels": {"type": "array", "items": {"type": "string"}},
                                                    "text_field": {"type": "string"}, "label_field": {"type": "string"}}},
    "truncated": _COUNT,
}, ["task", "settings", "steps", "seconds", "trainable_params", "total_params", "rows", "skipped"])

EVAL_CLASSIFY = _object("RUN/eval_classify.json (the confusion matrix picture beside it as .png)", {
    "accuracy": _RATE, "macro_f1": _RATE,
    "per_class": {"type": "object", "additionalProperties": {
        "type": "object", "properties": {"precision": _RATE, "recall": _RATE, "f1": _RATE, "support": _COUNT},
        "required": ["precision", "recall", "f1", "support"]}},
    "labels": {"type": "array", "items": {"type": "string"}},
    "confusion_matrix": {"type": "array", "items": {"type": "array", "items": _COUNT},
                         "description": "rows: true labels, columns: predicted, in the order of labels"},
    "majority_baseline": {"type": "object", "properties": {"label": {"type": "string"}, "accuracy": _RATE, "macro_f1": _RATE}},
    "rows": _COUNT, "skipped": _SKIPPED, "data": {"type": "string"}, "step": _COUNT,
}, ["accuracy", "macro_f1", "per_class", "labels", "confusion_matrix", "majority_baseline", "rows", "skipped"])

EVAL_GENERATE = _object("RUN/eval_generate.json", {
    "bleu": {"type": "number", "minimum": 0, "maximum": 100, "description": "sacrebleu corpus BLEU, 13a tokenisation"},
    "rouge1": _RATE, "rouge2": _RATE, "rougeL": _RATE, "exact_match": _RATE, "items": _COUNT,
    "skipped": _SKIPPED, "data": {"type": "string"}, "step": _COUNT, "max_new_tokens": _COUNT,
}, ["bleu", "rouge1", "rouge2", "rougeL", "exact_match", "items", "skipped"])

GENERATION_LINE = _object("RUN/eval_generate.generations.jsonl: one line per test record", {
    "instruction": {"type": "string"}, "input": {"type": "string"}, "reference": {"type": "string"},
    "generation": {"type": "string"},
}, ["instruction", "reference", "generation"])

EVAL_FEWSHOT = _object("RUN/eval_fewshot_<task>_<K>shot.json", {
    "task": {"type": "string"}, "shots": _COUNT, "items": _COUNT, "acc": _RATE, "acc_norm": _RATE,
    "majority_baseline": _RATE, "skipped": _SKIPPED, "step": _COUNT, "seed": {"type": "integer"},
}, ["task", "shots", "items", "acc", "acc_norm", "majority_baseline", "skipped"])

FEWSHOT_ITEM = _object("a line of a few-shot task file (JSONL), e.g. model/tasks/sms_spam.jsonl", {
    "context": {"type": "string"},
    "choices": {"type": "array", "items": {"type": "string"}, "minItems": 2,
                "description": "continuations of the context, each with its leading space"},
    "answer": {"type": "integer", "minimum": 0, "description": "index of the right choice"},
}, ["context", "choices", "answer"])

EVAL_MLM = _object("RUN/eval.json of a masked language model (model.objective: mlm)", {
    "objective": {"const": "mlm"}, "step": _COUNT, "masked_loss": _NUMBER, "masked_perplexity": _NUMBER,
    "masked_accuracy": _RATE, "masked_tokens": _COUNT, "val_rows": _COUNT, "mask_probability": _RATE,
    "seconds": _NUMBER,
}, ["objective", "masked_loss", "masked_accuracy", "masked_tokens"])

SCHEMAS = {
    "finetune.schema.json": FINETUNE_RECORD,
    "eval_classify.schema.json": EVAL_CLASSIFY,
    "eval_generate.schema.json": EVAL_GENERATE,
    "generation.schema.json": GENERATION_LINE,
    "eval_fewshot.schema.json": EVAL_FEWSHOT,
    "fewshot_task.schema.json": FEWSHOT_ITEM,
    "eval_mlm.schema.json": EVAL_MLM,
}
