"""After pretraining: spam classifier and instruction model, full fine-tuning and LoRA side by side.

    .venv/bin/python benchmarks/finetune.py [--pretrain-seconds 300] [--out /tmp/gristmill-finetune]

1. Pretrain a small GPT (preset mini: 4 layers, 4 heads, 128 wide) on the dev prose
   (../shared/data/prose/prose_dev.jsonl: tokenizer and shards by gristmill's own writers).
2. SMS spam (../shared/data/finetune/sms_spam_dev.tsv): every fifth row (i % 5 == 4) is the test
   set, the rest trains; the anchor is the majority class ("ham").
3. Instructions (../shared/data/finetune/instruction-data.json): the book's split in file order,
   85% train, 10% test (the 5% validation part is not used).
4. Each fine-tune runs in its own process, so its peak resident memory is its own.
Prints one table: wall time, peak RSS, trainable parameters, accuracy and macro-F1, BLEU and ROUGE.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"


def prepare(out: Path, pretrain_seconds: float) -> tuple[Path, dict]:
    """A pretrained run on the dev prose (reused when out already holds one)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from model.train import train
    from pipeline.config import Config, ShardsConfig, TokenizerConfig
    from pipeline.shards import write_shards
    from pipeline.tokenizer import train_tokenizer

    build, run = out / "build", out / "pretrain"
    if not (build / "manifest.json").is_file():
        docs = [json.loads(line) for line in (DATA / "prose" / "prose_dev.jsonl").read_text().splitlines() if line.strip()]
        kept = build / "work" / "kept" / "part-00000.parquet"
        kept.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"doc_id": [str(d["id"]) for d in docs], "text": [d["text"] for d in docs]}), kept)
        train_tokenizer([kept], TokenizerConfig(vocab_size=4096), 1337, build / "tokenizer" / "tokenizer.json", val_fraction=0.05)
        write_shards([kept], build / "tokenizer" / "tokenizer.json", ShardsConfig(seq_len=256, val_fraction=0.05), 1337,
                     build, config_sha256="benchmark")
    summary = {}
    if not (run / "checkpoint.json").is_file():
        config = Config.model_validate({"model": {"preset": "mini", "dropout": 0.0},
                                        "train": {"max_steps": 100_000, "max_seconds": pretrain_seconds, "batch_size": 16,
                                                  "warmup_steps": 50, "eval_interval": 10_000, "checkpoint_interval": 10_000,
                                                  "learning_rate": 3e-3}})
        summary = train(build, run, config, progress=False)
    return run, summary


def split_sms(out: Path) -> tuple[Path, Path, dict]:
    with (DATA / "finetune" / "sms_spam_dev.tsv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    parts = {"train": [r for i, r in enumerate(rows) if i % 5 != 4], "test": [r for i, r in enumerate(rows) if i % 5 == 4]}
    paths = {}
    for name, part in parts.items():
        paths[name] = out / f"sms_{name}.jsonl"
        paths[name].write_text("".join(json.dumps(r) + "\n" for r in part), encoding="utf-8")
    test_spam = sum(r["label"] == "spam" for r in parts["test"])
    return paths["train"], paths["test"], {"train": len(parts["train"]), "test": len(parts["test"]), "test_spam": test_spam}


def split_instructions(out: Path) -> tuple[Path, Path]:
    records = json.loads((DATA / "finetune" / "instruction-data.json").read_text(encoding="utf-8"))
    n_train, n_test = int(len(records) * 0.85), int(len(records) * 0.10)
    train, test = out / "instruct_train.json", out / "instruct_test.json"
    train.write_text(json.dumps(records[:n_train]), encoding="utf-8")
    test.write_text(json.dumps(records[n_train:n_train + n_test]), encoding="utf-8")
    return train, test


def worker(args: argparse.Namespace) -> None:
    """One fine-tune and its evaluation, in this process; prints one JSON line."""
    from model.classify import evaluate_classifier, finetune_classifier
    from model.finetune import FinetuneSettings
    from model.instruct import evaluate_generation, finetune_instructions

    settings = FinetuneSettings(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                                lora_rank=args.lora_rank, lora_alpha=2.0 * args.lora_rank, device="cpu")
    if args.worker == "classify":
        stats = finetune_classifier(args.run, args.train, args.out, settings, progress=False)
        metrics = evaluate_classifier(args.out, args.test)
    else:
        stats = finetune_instructions(args.run, args.train, args.out, settings, progress=False)
        started = time.perf_counter()
        metrics = evaluate_generation(args.out, args.test, max_new_tokens=64, device="cpu")
        metrics["eval_seconds"] = time.perf_counter() - started
    print(json.dumps({"stats": stats, "metrics": metrics}))


def run_worker(kind: str, run: Path, train: Path, test: Path, out: Path, lora_rank: int, lr: float, epochs: int,
               batch_size: int) -> dict:
    command = [sys.executable, __file__, "--worker", kind, "--run", str(run), "--train", str(train), "--test", str(test),
               "--out", str(out), "--lora-rank", str(lora_rank), "--lr", str(lr), "--epochs", str(epochs),
               "--batch-size", str(batch_size)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/gristmill-finetune"))
    parser.add_argument("--pretrain-seconds", type=float, default=300)
    parser.add_argument("--lora-rank", type=int, default=8)
    parser.add_argument("--instruct-lora-lr", type=float, default=3e-3,
                        help="LoRA rate for the instruction model (3e-3 ended at loss 7.1 on a 20-step base: try lower)")
    parser.add_argument("--worker", choices=["classify", "instruct"])
    parser.add_argument("--run", type=Path)
    parser.add_argument("--train", type=Path)
    parser.add_argument("--test", type=Path)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    import torch

    torch.set_num_threads(2)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    run, summary = prepare(args.out, args.pretrain_seconds)
    print(f"pretrained {run}: {json.dumps({k: summary.get(k) for k in ('step', 'loss', 'val_loss', 'seconds')})}", flush=True)
    sms_train, sms_test, sms_counts = split_sms(args.out)
    ins_train, ins_test = split_instructions(args.out)
    # LoRA trains far fewer weights, each of which may move further: a 10x higher rate (common practice)
    jobs = [("classify", "full", 0, 2e-4, sms_train, sms_test, 2, 16),
            ("classify", f"LoRA r={args.lora_rank}", args.lora_rank, 2e-3, sms_train, sms_test, 2, 16),
            ("instruct", "full", 0, 3e-4, ins_train, ins_test, 3, 8),
            ("instruct", f"LoRA r={args.lora_rank}", args.lora_rank, args.instruct_lora_lr, ins_train, ins_test, 3, 8)]
    rows = []
    for kind, method, rank, lr, train, test, epochs, batch in jobs:
        out = args.out / f"{kind}-{'lora' if rank else 'full'}"
        result = run_worker(kind, run, train, test, out, rank, lr, epochs, batch)
        rows.append((kind, method, lr, epochs, result))
        print(f"done {kind} {method}: {json.dumps(result['metrics'])[:300]}", flush=True)

    from model.fewshot import evaluate_fewshot

    fewshot = {k: evaluate_fewshot(run, ROOT / "model" / "tasks" / "sms_spam.jsonl", shots=k, out=args.out / f"fewshot{k}.json",
                                   device="cpu") for k in (0, 4)}

    print(f"\nSMS spam: {sms_counts['train']} train / {sms_counts['test']} test messages ({sms_counts['test_spam']} spam); "
          f"instructions: {ins_train.name} / {ins_test.name} (book split)")
    print(f"pretraining: mini preset, {summary.get('step')} steps in {summary.get('seconds', 0):.0f} s, "
          f"val loss {summary.get('val_loss')}\n")
    print("| task | method | lr, epochs | wall s (train) | peak RSS MB | trainable params | accuracy | macro-F1 | BLEU | ROUGE-1 | ROUGE-2 | ROUGE-L | exact |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    baseline = rows[0][4]["metrics"]["majority_baseline"]
    print(f"| spam | majority class ({baseline['label']}) | | | | 0 | {baseline['accuracy']:.4f} | {baseline['macro_f1']:.4f} | | | | | |")
    for kind, method, lr, epochs, result in rows:
        s, m = result["stats"], result["metrics"]
        common = f"| {'spam' if kind == 'classify' else 'instruct'} | {method} | {lr:g}, {epochs} | {s['seconds']:.1f} | {s['peak_rss_mb']:.0f} | {s['trainable_params']:,} |"
        if kind == "classify":
            print(f"{common} {m['accuracy']:.4f} | {m['macro_f1']:.4f} | | | | | |")
        else:
            print(f"{common} | | {m['bleu']:.2f} | {m['rouge1']:.4f} | {m['rouge2']:.4f} | {m['rougeL']:.4f} | {m['exact_match']:.4f} |")
    for k, r in fewshot.items():
        print(f"\nfew-shot, pretrained model, model/tasks/sms_spam.jsonl {k}-shot: acc {r['acc']:.3f}, acc_norm {r['acc_norm']:.3f} "
              f"(most frequent answer {r['majority_baseline']:.3f})", end="")
    print(f"\n\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
