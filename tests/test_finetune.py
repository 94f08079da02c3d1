"""Fine-tuning on tiny generated data: classifier, instruction model, LoRA, merge, task metrics."""

from __future__ import annotations

import json
import random

import jsonschema
import pytest
import torch

from model.checkpoint import load_model
from model.classify import evaluate_classifier, finetune_classifier, load_classifier
from model.finetune import FinetuneSettings
from model.instruct import collate, encode_example, evaluate_generation, finetune_instructions, format_prompt
from model.lora import add_lora, has_lora, merge_lora, merge_run
from model.task_schemas import SCHEMAS
from model.task_metrics import classification_metrics, generation_metrics
from model.train import train
from model_data import make_data_dir
from pipeline.config import Config
from pipeline.tokenizer import load_tokenizer


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    data = make_data_dir(tmp_path_factory.mktemp("ft-data"), n_docs=200, seq_len=160)
    run = tmp_path_factory.mktemp("ft") / "run"
    config = Config.model_validate({"model": {"preset": "tiny"},
                                    "train": {"max_steps": 20, "batch_size": 8, "num_threads": 1, "warmup_steps": 2}})
    train(data, run, config, progress=False)
    return run


def spam_rows(n: int, seed: int) -> list[tuple[str, str]]:
    """A learnable two-class set: 'spam' rows mention prizes and numbers, 'ham' rows the mill."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        if i % 3 == 0:
            rows.append(("spam", f"WIN a free prize now call {rng.randint(100, 999)} claim cash"))
        else:
            rows.append(("ham", f"the miller {rng.choice(['grinds', 'sells', 'turns'])} the grain with care"))
    return rows


def write_tsv(path, rows):
    path.write_text("label\ttext\n" + "".join(f"{label}\t{text}\n" for label, text in rows), encoding="utf-8")
    return path


def test_classification_metrics_by_hand():
    m = classification_metrics([0, 0, 1, 1, 1], [0, 1, 1, 1, 0], ["a", "b"])
    assert m["confusion_matrix"] == [[1, 1], [1, 2]]
    assert m["accuracy"] == pytest.approx(0.6)
    assert m["per_class"]["b"]["precision"] == pytest.approx(2 / 3) and m["per_class"]["b"]["recall"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx((0.5 + 2 / 3) / 2)


def test_generation_metrics_exact_and_partial():
    perfect = generation_metrics(["the cat sat on the mat"], ["the cat sat on the mat"])
    assert perfect["bleu"] == pytest.approx(100.0) and perfect["rouge1"] == pytest.approx(1.0) and perfect["exact_match"] == 1.0
    partial = generation_metrics(["the cat sat on the mat", "dogs bark"], ["the cat sat on a mat", "cats purr"])
    assert 0 < partial["bleu"] < 100 and 0 < partial["rougeL"] < 1 and partial["exact_match"] == 0.0


@pytest.mark.parametrize("lora_rank", [0, 4])
def test_classifier_learns_and_evaluates(base_run, tmp_path, lora_rank):
    train_file = write_tsv(tmp_path / "train.tsv", spam_rows(90, 0) + [("", "a row without label")])
    test_file = write_tsv(tmp_path / "test.tsv", spam_rows(30, 1))
    out = tmp_path / "clf"
    settings = FinetuneSettings(epochs=4, batch_size=8, learning_rate=3e-3, lora_rank=lora_rank, lora_alpha=8,
                                train_last_blocks=1 if not lora_rank else None)
    stats = finetune_classifier(base_run, train_file, out, settings, progress=False)
    assert stats["skipped"] == {"missing:label": 1} and stats["rows"] == 90
    assert stats["trainable_params"] < stats["total_params"]
    result = evaluate_classifier(out, test_file)
    assert result["accuracy"] >= 0.95 > result["majority_baseline"]["accuracy"]
    assert (out / "eval_classify.png").stat().st_size > 1000
    jsonschema.validate(json.loads((out / "eval_classify.json").read_text()), SCHEMAS["eval_classify.schema.json"])
    jsonschema.validate(json.loads((out / "finetune.json").read_text()), SCHEMAS["finetune.schema.json"])
    model, meta = load_classifier(out)
    assert meta["classifier"]["labels"] == ["ham", "spam"] and has_lora(model.gpt) == bool(lora_rank)


def test_instruction_collate_masks_the_prompt(base_run):
    tokenizer = load_tokenizer(base_run / "tokenizer.json")
    record = {"instruction": "Name the grain.", "input": "the miller grinds the grain", "output": "wheat"}
    ids, prompt_len = encode_example(tokenizer, record, block_size=160)
    assert tokenizer.decode(ids[:prompt_len]) == format_prompt(record)
    short = {"instruction": "Say it.", "input": "", "output": "ok"}
    inputs, targets = collate([(ids, prompt_len), encode_example(tokenizer, short, 160)], pad_id=1, device=torch.device("cpu"))
    assert inputs.shape == targets.shape == (2, len(ids) - 1)
    learned = targets[0][targets[0] != -100].tolist()
    assert learned == ids[prompt_len:]  # exactly the response and <|endoftext|>
    assert (targets[1][inputs[1] == 1] == -100).all()  # padding is not learned
    assert encode_example(tokenizer, {"instruction": "word " * 300, "output": "x"}, 160) is None  # no room for a response
    truncated, _ = encode_example(tokenizer, {"instruction": "a", "output": "grain " * 300}, 160)
    assert len(truncated) == 161


def test_instruction_finetune_lora_merge_and_export(base_run, tmp_path):
    records = [{"instruction": "Repeat the word.", "input": w, "output": w} for w in ["grain", "mill", "bread", "flour"] * 6]
    data = tmp_path / "instructions.json"
    data.write_text(json.dumps(records + [{"instruction": "no output"}]), encoding="utf-8")
    out = tmp_path / "lora"
    stats = finetune_instructions(base_run, data, out, FinetuneSettings(epochs=3, batch_size=4, learning_rate=1e-2,
                                                                        lora_rank=4, lora_alpha=8), progress=False)
    assert stats["skipped"] == {"missing:output": 1} and stats["trainable_params"] < stats["total_params"] / 2
    adapted, meta = load_model(out)
    assert meta["lora"] == {"rank": 4, "alpha": 8}
    from model.export import export_hf

    with pytest.raises(ValueError, match="merge-lora"):
        export_hf(out, tmp_path / "not-merged")
    merged_dir = tmp_path / "merged"
    merge_run(out, merged_dir)
    merged, merged_meta = load_model(merged_dir)
    assert not has_lora(merged) and "lora" not in merged_meta
    ids = torch.randint(0, merged.config.vocab_size, (3, 40))
    with torch.no_grad():
        assert torch.allclose(adapted(ids)[0], merged(ids)[0], atol=1e-5)
        assert not torch.allclose(load_model(base_run)[0](ids)[0], merged(ids)[0], atol=1e-3)  # the adapters did something
    result = evaluate_generation(merged_dir, data, max_new_tokens=8, limit=6)
    assert result["items"] == 6 and 0 <= result["bleu"] <= 100
    lines = (merged_dir / "eval_generate.generations.jsonl").read_text().splitlines()
    assert len(lines) == 6
    jsonschema.validate(json.loads(lines[0]), SCHEMAS["generation.schema.json"])
    jsonschema.validate(json.loads((merged_dir / "eval_generate.json").read_text()), SCHEMAS["eval_generate.schema.json"])

    import transformers

    export_hf(merged_dir, tmp_path / "hf")
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "hf").eval()
    with torch.no_grad():
        assert torch.allclose(hf(ids).logits, merged(ids)[0], atol=1e-4)


def test_merge_lora_of_random_adapters_equals_adapted():
    from model.gpt import GPT, GPTConfig

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=100, block_size=16, n_layer=2, n_head=2, n_embd=32)).eval()
    add_lora(model, rank=4, alpha=16)
    for name, p in model.named_parameters():
        if "lora_B" in name:  # B starts at zero: give the adapters something to fold in
            torch.nn.init.normal_(p, std=0.1)
    ids = torch.randint(0, 100, (2, 16))
    with torch.no_grad():
        adapted = model(ids)[0]
        merged = merge_lora(model)(ids)[0]
    assert not has_lora(model)
    assert torch.allclose(adapted, merged, atol=1e-5)
