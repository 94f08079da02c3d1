"""Few-shot multiple choice: prompts, log-likelihood scoring, the shipped task file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from model.fewshot import choice_log_likelihoods, evaluate_fewshot, fewshot_prompt, read_task

TASK = Path(__file__).resolve().parents[1] / "model" / "tasks" / "sms_spam.jsonl"


def test_shipped_task_file_is_valid():
    items, skipped = read_task(TASK)
    assert len(items) == 100 and not skipped
    assert sum(item["answer"] for item in items) == 50


def test_prompt_never_shows_the_item_itself():
    items = [{"context": f"Q{i}:", "choices": [" a", " b"], "answer": i % 2} for i in range(6)]
    prompt = fewshot_prompt(items, 2, shots=3, seed=0)
    assert prompt.endswith("Q2:") and prompt.count("Q2:") == 1 and prompt.count("\n\n") == 3
    assert prompt == fewshot_prompt(items, 2, shots=3, seed=0)


def test_log_likelihood_matches_a_direct_computation(tmp_path):
    from model.gpt import GPT, GPTConfig
    from pipeline.tokenizer import load_tokenizer
    from model_data import make_data_dir

    data = make_data_dir(tmp_path / "data", n_docs=40)
    tokenizer = load_tokenizer(data / "tokenizer" / "tokenizer.json")
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tokenizer.get_vocab_size(), block_size=64, n_layer=1, n_head=2, n_embd=16)).eval()
    context, choice = "The miller grinds", " the grain"
    score = choice_log_likelihoods(model, tokenizer, context, [choice])[0]
    c_ids = tokenizer.encode(context).ids
    x_ids = tokenizer.encode(choice).ids
    ids = torch.tensor([c_ids + x_ids])
    with torch.no_grad():
        log_probs = F.log_softmax(model(ids[:, :-1])[0][0, :, :tokenizer.get_vocab_size()], dim=-1)
    expected = sum(float(log_probs[len(c_ids) - 1 + j, t]) for j, t in enumerate(x_ids))
    assert score == pytest.approx(expected, abs=1e-4)


def test_evaluate_fewshot_on_a_run(tmp_path):
    from model.train import train
    from model_data import make_data_dir
    from pipeline.config import Config

    data = make_data_dir(tmp_path / "data", n_docs=120)
    run = tmp_path / "run"
    train(data, run, Config.model_validate({"model": {"preset": "tiny"}, "train": {"max_steps": 30, "batch_size": 8,
                                            "num_threads": 1, "warmup_steps": 3}}), progress=False)
    # items whose right answer is the sentence the corpus always writes: a trained model prefers it
    items = [{"context": "The miller grinds", "choices": [" the grain.", " blue sky elephants"], "answer": 0},
             {"context": "A baker sells", "choices": [" stones zebra quickly", " fresh bread."], "answer": 1},
             {"context": "broken"}]
    task = tmp_path / "task.jsonl"
    task.write_text("".join(json.dumps(i) + "\n" for i in items) + "not json\n")
    result = evaluate_fewshot(run, task, shots=1)
    assert result["items"] == 2 and result["acc"] == 1.0
    assert result["skipped"] == {"invalid:json": 1, "missing:choices": 1}
    import jsonschema

    from model.task_schemas import SCHEMAS

    jsonschema.validate(json.loads((run / "eval_fewshot_task_1shot.json").read_text()), SCHEMAS["eval_fewshot.schema.json"])
    for line in TASK.read_text().splitlines():
        jsonschema.validate(json.loads(line), SCHEMAS["fewshot_task.schema.json"])
