"""The `gristmill` command: every step of the path, each run as a Prefect flow."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from flows import build_command
from flows.progress import console

app = typer.Typer(help="gristmill: raw text in, a trained and evaluated GPT out.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
config_app = typer.Typer(help="Show or check configuration files.", no_args_is_help=True)
app.add_typer(config_app, name="config")

ConfigOption = Annotated[Optional[Path], typer.Option("--config", "-c", help="YAML config (see `gristmill config show`)")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")]


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(2)


def _check_config(path: Optional[Path]) -> None:
    """Validate the config before any work, so a typo is refused with its name at once."""
    from pipeline.config import ConfigError, load_config

    try:
        load_config(path)
    except ConfigError as e:
        _fail(f"{path}:\n{e}")


app.command()(build_command.build)  # flows/build_command.py: with Prefect or without (--no-prefect)


@app.command()
def train(
    data: Annotated[list[Path], typer.Option("--data", "-d", help="build folder with shards and manifest.json, or a "
                                              "dataset root with catalog.json (all its versions); repeat for several")],
    out: Annotated[Path, typer.Option("--out", "-o", help="run folder (resumes from its checkpoint if it has one)")],
    config: ConfigOption = None,
    quiet: QuietOption = False,
) -> None:
    """Train a GPT on DATA's train shards, in order (config: --config, else the run's, else the build's)."""
    from flows.train import train as train_flow
    from pipeline.catalog import resolve_data

    _check_config(config)
    try:
        resolve_data(data)
    except FileNotFoundError as e:
        _fail(f"{e}; run `gristmill build ... --out DIR` first")
    result = train_flow([str(d) for d in data], str(out), str(config) if config else None, not quiet)
    console.print(f"[green]trained[/] {out}: {json.dumps(result, default=str)[:400]}")


eval_app = typer.Typer(help="Evaluate a run: on a build's val shards (no subcommand), or on a task.")
app.add_typer(eval_app, name="eval")


@eval_app.callback(invoke_without_command=True)
def evaluate(
    ctx: typer.Context,
    run: Annotated[Optional[Path], typer.Option("--run", "-r", help="run folder with a checkpoint")] = None,
    data: Annotated[Optional[list[Path]], typer.Option("--data", "-d", help="build folder (or dataset root) whose val shards "
                                                        "to evaluate on; repeat for several")] = None,
    quiet: QuietOption = False,
) -> None:
    """Validation loss, perplexity, bits per byte and the unigram baseline → RUN/eval.json
    (an MLM run: masked-token loss and accuracy). Subcommands score tasks: classify, generate, fewshot."""
    from flows.train import evaluate as evaluate_flow

    if ctx.invoked_subcommand is not None:
        return
    if run is None or not data:
        _fail("give --run RUN --data BUILD, or a task: `gristmill eval classify|generate|fewshot --help`")

    result = evaluate_flow(str(run), [str(d) for d in data], not quiet)
    keys = ("val_loss", "perplexity", "bits_per_byte", "unigram_perplexity", "masked_loss", "masked_accuracy")
    console.print(" ".join(f"{k}={result[k]:.4f}" for k in keys if k in result))


@app.command()
def generate(
    run: Annotated[Path, typer.Option("--run", "-r", help="run folder with a checkpoint")],
    prompt: Annotated[str, typer.Option("--prompt", "-p", help="text to continue")],
    max_new_tokens: Annotated[int, typer.Option(help="tokens to sample")] = 100,
    temperature: Annotated[float, typer.Option(help="sampling temperature (0: greedy)")] = 0.8,
    top_k: Annotated[Optional[int], typer.Option(help="sample among the k likeliest tokens")] = 50,
    top_p: Annotated[Optional[float], typer.Option(help="nucleus sampling threshold")] = None,
    seed: Annotated[int, typer.Option(help="sampling seed")] = 0,
) -> None:
    """Sample a continuation of PROMPT from RUN's model."""
    from model.generate import generate_text

    print(generate_text(run, prompt, max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k,
                        top_p=top_p, seed=seed))


@app.command()
def export(
    run: Annotated[Path, typer.Option("--run", "-r", help="run folder with a checkpoint")],
    to: Annotated[Path, typer.Option("--to", help="folder for the Hugging Face GPT-2 checkpoint")],
) -> None:
    """Write RUN's model as a Hugging Face GPT-2 checkpoint (transformers, lm-evaluation-harness)."""
    from model.export import export_hf

    export_hf(run, to)
    console.print(f"[green]exported[/] {to}")


@app.command("import-hf")
def import_hf(
    source: Annotated[Path, typer.Option("--from", help="local folder holding a Hugging Face GPT-2 checkpoint")],
    out: Annotated[Path, typer.Option("--out", "-o", help="run folder to create")],
) -> None:
    """Start a run from a local GPT-2 checkpoint instead of from scratch."""
    from model.export import import_hf as import_fn

    import_fn(source, out)
    console.print(f"[green]imported[/] {source} → {out}")


@app.command()
def demo(
    inputs: Annotated[Optional[list[str]], typer.Argument(help="your own files instead of the embedded corpus")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for corpus, build and run")] = Path("demo-out"),
    config: ConfigOption = None,
    quiet: QuietOption = False,
) -> None:
    """build → train → eval → sample on the embedded default corpus (Python docs and package texts)."""
    from flows.demo import demo as demo_flow

    _check_config(config)
    summary = demo_flow(inputs or None, str(out), str(config) if config else None, progress=not quiet)
    evaluated = summary["eval"]
    console.rule("gristmill demo")
    console.print(f"documents in: {summary['build']['annotate']['documents']}, kept: {summary['build']['ledger']['kept']}")
    console.print(f"val perplexity {evaluated['perplexity']:.1f} vs unigram {evaluated['unigram_perplexity']:.1f}; "
                  f"bits per byte {evaluated['bits_per_byte']:.3f}")
    console.print(f"sample: {summary['sample']!r}")
    console.print(f"[bold]report:[/] {summary['report']}")


@config_app.command("show")
def config_show() -> None:
    """Print the default config, each key with a comment."""
    from pipeline.config import commented_defaults

    print(commented_defaults())


@config_app.command("validate")
def config_validate(path: Annotated[Path, typer.Argument(help="YAML config to check")]) -> None:
    """Check a config file; name every unknown key and bad value."""
    _check_config(path)
    console.print(f"[green]ok[/] {path}")


from flows.service_cli import register as _register_service  # noqa: E402  (server, serve, catalog)

_register_service(app)

from flows.finetune import register as register_finetune  # noqa: E402 (finetune, eval tasks, merge-lora, plan)

register_finetune(app, eval_app)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
