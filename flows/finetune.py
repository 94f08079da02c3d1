"""After pretraining: `finetune classify|instruct`, `eval classify|generate|fewshot`, `merge-lora`, `plan`.

Each fine-tune and evaluation runs as a Prefect flow (one task), like `train` and `eval`; the
work itself is in model/ (classify.py, instruct.py, lora.py, fewshot.py, plan.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.progress import console

finetune_app = typer.Typer(help="Fine-tune a trained run: a classifier or an instruction follower, full or LoRA.",
                           no_args_is_help=True)

RunOption = Annotated[Path, typer.Option("--run", "-r", help="run folder with a checkpoint (gristmill train / finetune)")]
OutRun = Annotated[Path, typer.Option("--out", "-o", help="run folder to write the fine-tuned model to")]
Epochs = Annotated[int, typer.Option(help="passes over the data")]
BatchSize = Annotated[int, typer.Option(help="examples per step")]
LearningRate = Annotated[float, typer.Option("--lr", help="peak AdamW learning rate (after a 10-step warmup)")]
MaxSteps = Annotated[Optional[int], typer.Option(help="stop after this many steps (default: all epochs)")]
LoraRank = Annotated[int, typer.Option(help="LoRA rank; 0 = full fine-tuning")]
LoraAlpha = Annotated[float, typer.Option(help="LoRA scale numerator: updates are scaled by alpha / rank")]
Seed = Annotated[int, typer.Option(help="seed for the head's initialisation and the shuffles")]
Device = Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N")]


def _checked_run(run: Path) -> None:
    if not (run / "checkpoint.json").is_file():
        console.print(f"[bold red]error:[/] {run} holds no checkpoint: train one with `gristmill train` first")
        raise typer.Exit(2)


def _call(fn, *args, **kwargs):
    """Run fn; a ValueError or FileNotFoundError (bad input, wrong run) becomes an error message."""
    try:
        return fn(*args, **kwargs)
    except (ValueError, FileNotFoundError) as e:
        console.print(f"[bold red]error:[/] {e}")
        raise typer.Exit(2)


@task(name="finetune", cache_policy=NO_CACHE)
def _finetune_task(kind: str, run: str, data: str, out: str, settings: dict, fields: dict) -> dict:
    from model.finetune import FinetuneSettings

    if kind == "classify":
        from model.classify import finetune_classifier

        return finetune_classifier(Path(run), Path(data), Path(out), FinetuneSettings(**settings), **fields)
    from model.instruct import finetune_instructions

    return finetune_instructions(Path(run), Path(data), Path(out), FinetuneSettings(**settings))


@flow(name="finetune", log_prints=True)
def finetune_flow(kind: str, run: str, data: str, out: str, settings: dict, fields: dict | None = None) -> dict:
    """Fine-tune RUN on DATA into OUT (kind: classify or instruct)."""
    return _finetune_task(kind, run, data, out, settings, fields or {})


@finetune_app.command("classify")
def finetune_classify(
    run: RunOption,
    data: Annotated[Path, typer.Option("--data", "-d", help="labelled examples: .tsv, .csv, .jsonl, .json or .parquet")],
    out: OutRun,
    text_field: Annotated[str, typer.Option(help="field holding the text")] = "text",
    label_field: Annotated[str, typer.Option(help="field holding the label")] = "label",
    train_last_blocks: Annotated[Optional[int], typer.Option(
        help="train only the last N blocks (+ final LayerNorm and head), the book's recipe; default: all")] = None,
    epochs: Epochs = 3, batch_size: BatchSize = 8, lr: LearningRate = 5e-5, max_steps: MaxSteps = None,
    lora_rank: LoraRank = 0, lora_alpha: LoraAlpha = 16.0, seed: Seed = 1337, device: Device = "auto",
) -> None:
    """A classification head on the last token of RUN's model, trained on DATA's labels → OUT."""
    _checked_run(run)
    settings = dict(epochs=epochs, batch_size=batch_size, learning_rate=lr, max_steps=max_steps,
                    train_last_blocks=train_last_blocks, lora_rank=lora_rank, lora_alpha=lora_alpha, seed=seed, device=device)
    stats = _call(finetune_flow, "classify", str(run), str(data), str(out), settings,
                  {"text_field": text_field, "label_field": label_field})
    _print_stats(out, stats)


@finetune_app.command("instruct")
def finetune_instruct(
    run: RunOption,
    data: Annotated[Path, typer.Option("--data", "-d", help="Alpaca records {instruction, input, output}: .json list or .jsonl")],
    out: OutRun,
    epochs: Epochs = 2, batch_size: BatchSize = 8, lr: LearningRate = 5e-5, max_steps: MaxSteps = None,
    lora_rank: LoraRank = 0, lora_alpha: LoraAlpha = 16.0, seed: Seed = 1337, device: Device = "auto",
) -> None:
    """Instruction-tune RUN's model on Alpaca prompts, the loss on the responses only → OUT."""
    _checked_run(run)
    settings = dict(epochs=epochs, batch_size=batch_size, learning_rate=lr, max_steps=max_steps,
                    lora_rank=lora_rank, lora_alpha=lora_alpha, seed=seed, device=device)
    stats = _call(finetune_flow, "instruct", str(run), str(data), str(out), settings)
    _print_stats(out, stats)


def _print_stats(out: Path, stats: dict) -> None:
    console.print(f"trainable parameters: {stats['trainable_params']:,} of {stats['total_params']:,}")
    console.print(f"[green]fine-tuned[/] {out}: {stats['steps']} steps, final loss {stats['loss']:.4f}, "
                  f"{stats['seconds']:.1f} s; rows {stats['rows']}, skipped {stats['skipped'] or 'none'}")


@flow(name="evaluate-task", log_prints=True)
def evaluate_task_flow(kind: str, run: str, data: str, options: dict) -> dict:
    """Task metrics of RUN on DATA (kind: classify, generate or fewshot) as JSON beside the run."""
    return _evaluate_task(kind, run, data, options)


@task(name="evaluate_task", cache_policy=NO_CACHE)
def _evaluate_task(kind: str, run: str, data: str, options: dict) -> dict:
    if kind == "classify":
        from model.classify import evaluate_classifier

        return evaluate_classifier(Path(run), Path(data), **options)
    if kind == "generate":
        from model.instruct import evaluate_generation

        return evaluate_generation(Path(run), Path(data), **options)
    from model.fewshot import evaluate_fewshot

    return evaluate_fewshot(Path(run), Path(data), **options)


def eval_classify(
    run: RunOption,
    data: Annotated[Path, typer.Option("--data", "-d", help="labelled test examples (same fields as for training)")],
    out: Annotated[Optional[Path], typer.Option(help="JSON to write (default RUN/eval_classify.json; the picture beside it as .png)")] = None,
) -> None:
    """Accuracy, macro-F1, per-class precision/recall and the confusion matrix (JSON + PNG)."""
    _checked_run(run)
    result = _call(evaluate_task_flow, "classify", str(run), str(data), {"out": out})
    base = result["majority_baseline"]
    console.print(f"accuracy {result['accuracy']:.4f}  macro-F1 {result['macro_f1']:.4f}  "
                  f"(majority '{base['label']}': accuracy {base['accuracy']:.4f}, macro-F1 {base['macro_f1']:.4f})")
    console.print(json.dumps({"per_class": result["per_class"], "confusion_matrix": result["confusion_matrix"]}))


def eval_generate(
    run: RunOption,
    data: Annotated[Path, typer.Option("--data", "-d", help="Alpaca test records {instruction, input, output}")],
    max_new_tokens: Annotated[int, typer.Option(help="longest answer, in tokens")] = 64,
    limit: Annotated[Optional[int], typer.Option(help="only the first N records")] = None,
    out: Annotated[Optional[Path], typer.Option(help="JSON to write (default RUN/eval_generate.json; generations beside it)")] = None,
) -> None:
    """Greedy answers scored by BLEU (sacrebleu), ROUGE-1/2/L (rouge-score) and exact match."""
    _checked_run(run)
    result = _call(evaluate_task_flow, "generate", str(run), str(data),
                   {"out": out, "max_new_tokens": max_new_tokens, "limit": limit})
    console.print(" ".join(f"{k}={result[k]:.4f}" for k in ("bleu", "rouge1", "rouge2", "rougeL", "exact_match")))


def eval_fewshot(
    run: RunOption,
    task_file: Annotated[Path, typer.Option("--task", "-t", help="JSONL items {context, choices, answer}, e.g. model/tasks/sms_spam.jsonl")],
    shots: Annotated[int, typer.Option("--shots", "-k", help="solved examples in front of each item")] = 0,
    limit: Annotated[Optional[int], typer.Option(help="only the first N items")] = None,
    seed: Annotated[int, typer.Option(help="seed choosing the examples")] = 1234,
    out: Annotated[Optional[Path], typer.Option(help="JSON to write (default RUN/eval_fewshot_<task>_<K>shot.json)")] = None,
) -> None:
    """Multiple-choice accuracy by the log-likelihood of each option (as lm-evaluation-harness)."""
    _checked_run(run)
    result = _call(evaluate_task_flow, "fewshot", str(run), str(task_file),
                   {"shots": shots, "limit": limit, "seed": seed, "out": out})
    console.print(f"{task_file.name}, {shots}-shot, {result['items']} items: acc {result['acc']:.4f}  "
                  f"acc_norm {result['acc_norm']:.4f}  (most frequent answer: {result['majority_baseline']:.4f})")


def merge_lora(
    run: RunOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="run folder for the merged model")],
) -> None:
    """Fold RUN's LoRA adapters into its weights → OUT, a plain run (exports to Hugging Face)."""
    from model.lora import merge_run

    _checked_run(run)
    _call(merge_run, run, out)
    console.print(f"[green]merged[/] {run} → {out}")


def plan(
    params: Annotated[Optional[float], typer.Option(help="parameters N, e.g. 7e9")] = None,
    tokens: Annotated[Optional[float], typer.Option(help="training tokens T (default: Chinchilla-optimal 20 N)")] = None,
    budget_flops: Annotated[Optional[float], typer.Option(help="a compute budget: the Chinchilla-optimal N and T for it")] = None,
    gpu: Annotated[str, typer.Option(help="h100, h200, a100, b200, l40s, l4, a10g, v100, t4, rtx 4090")] = "h100",
    gpus: Annotated[int, typer.Option(help="GPUs training together")] = 8,
    mfu: Annotated[float, typer.Option(help="model FLOPs utilisation to assume (0.3-0.5 is typical)")] = 0.4,
    price: Annotated[float, typer.Option(help="money per GPU-hour")] = 2.5,
    n_layer: Annotated[Optional[int], typer.Option(help="layers (default: estimated from N)")] = None,
    n_embd: Annotated[Optional[int], typer.Option(help="width (default: estimated from N)")] = None,
    seq_len: Annotated[int, typer.Option(help="context length, for the attention FLOPs")] = 2048,
    pue: Annotated[float, typer.Option(help="data-centre power usage effectiveness")] = 1.0,
    run: Annotated[Optional[Path], typer.Option("--run", "-r", help="a finished run: its measured FLOPs and MFU")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """FLOPs, GPU-hours, wall time, energy and cost of training; Chinchilla-optimal sizes."""
    from model.plan import format_plan, measured, plan as plan_fn

    if run is not None:
        result = _call(measured, run)
    else:
        result = _call(plan_fn, params=params, tokens=tokens, budget_flops=budget_flops, gpu=gpu, gpus=gpus, mfu=mfu,
                       price=price, n_layer=n_layer, n_embd=n_embd, seq_len=seq_len, pue=pue)
    print(json.dumps(result, indent=1) if as_json else format_plan(result))


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add these commands to the `gristmill` app: finetune …, eval classify|generate|fewshot, merge-lora, plan."""
    app.add_typer(finetune_app, name="finetune")
    eval_app.command("classify")(eval_classify)
    eval_app.command("generate")(eval_generate)
    eval_app.command("fewshot")(eval_fewshot)
    app.command("merge-lora")(merge_lora)
    app.command("plan")(plan)
