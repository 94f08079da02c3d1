"""OUT_ROOT/index.html: every version of a dataset side by side, so the day a source went bad shows.

Read from catalog.json alone (each version's record carries its drop reasons, languages and
duplicate counts), so regenerating it after a publish costs nothing that grows with the data.
Plots are matplotlib SVG made the same way as report.html's (pipeline/report/plots.py).
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from pipeline.catalog import Catalog
from pipeline.report.plots import ALL_COLOR, KEPT_COLOR, STYLE, _svg, data_uri

PALETTE = ["#2f6fb3", "#e08a2c", "#3a9a5b", "#c0392b", "#8e5cb5", "#8c6d4f", "#d16ba5", "#7f8c8d", "#b5b82f"]
TOP = 7  # categories drawn per stacked plot; the rest are summed as "other"


def _figure() -> tuple[Figure, Any]:
    figure = Figure(figsize=(5.2, 2.9))
    return figure, figure.add_subplot()


def _finish(figure: Figure, ax: Any, ylabel: str, legend: bool = True) -> str:
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", color="#e6e9ee", linewidth=0.8)
    ax.set_axisbelow(True)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.tight_layout(pad=0.4)
    return _svg(figure)


def _stacked_shares(ids: list[str], counts: list[dict[str, int]], totals: list[int], ylabel: str) -> str:
    overall: dict[str, int] = {}
    for c in counts:
        for key, n in c.items():
            overall[key] = overall.get(key, 0) + n
    top = [k for k, _ in sorted(overall.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]]
    with matplotlib.rc_context(STYLE):
        figure, ax = _figure()
        bottom = [0.0] * len(ids)
        series = [(k, [c.get(k, 0) for c in counts]) for k in top]
        rest = [sum(n for k, n in c.items() if k not in top) for c in counts]
        if any(rest):
            series.append(("other", rest))
        for i, (label, values) in enumerate(series):
            shares = [v / t if t else 0.0 for v, t in zip(values, totals)]
            ax.bar(ids, shares, bottom=bottom, label=label, color=PALETTE[i % len(PALETTE)], linewidth=0)
            bottom = [b + s for b, s in zip(bottom, shares)]
        ax.set_ylim(0, 1)
        return _finish(figure, ax, ylabel)


def documents_plot(versions: list[dict[str, Any]]) -> str:
    ids = [v["id"] for v in versions]
    with matplotlib.rc_context(STYLE):
        figure, ax = _figure()
        x = range(len(ids))
        ax.bar([i - 0.2 for i in x], [v["documents_in"] for v in versions], width=0.4, color=ALL_COLOR, label="in")
        ax.bar([i + 0.2 for i in x], [v["documents_kept"] for v in versions], width=0.4, color=KEPT_COLOR, label="kept")
        ax.set_xticks(list(x), ids)
        return _finish(figure, ax, "documents")


def duplicates_plot(versions: list[dict[str, Any]]) -> str:
    ids = [v["id"] for v in versions]
    rates = {
        "exact": [v["drop_reasons"].get("exact_duplicate", 0) for v in versions],
        "near": [v["drop_reasons"].get("near_duplicate", 0) for v in versions],
        "of an earlier version": [v.get("duplicates_of_earlier_versions", 0) for v in versions],
    }
    with matplotlib.rc_context(STYLE):
        figure, ax = _figure()
        for i, (label, values) in enumerate(rates.items()):
            # distinct markers and dashes: equal rates would otherwise hide one line under another
            ax.plot(ids, [n / v["documents_in"] if v["documents_in"] else 0 for n, v in zip(values, versions)],
                    marker="os^"[i], linestyle=("-", "--", ":")[i], markersize=6 - i, label=label, color=PALETTE[i])
        ax.set_ylim(bottom=0)
        return _finish(figure, ax, "share of documents in")


def tokens_plot(versions: list[dict[str, Any]]) -> str:
    ids = [v["id"] for v in versions]
    with matplotlib.rc_context(STYLE):
        figure, ax = _figure()
        train = [v["train_tokens"] for v in versions]
        ax.bar(ids, train, color=KEPT_COLOR, label="train")
        ax.bar(ids, [v["val_tokens"] for v in versions], bottom=train, color=PALETTE[1], label="val")
        return _finish(figure, ax, "tokens")


def val_loss_plot(versions: list[dict[str, Any]], runs: list[dict[str, Any]]) -> str:
    """Each run at the newest version it trained on: evaluation loss when evaluated, else training's."""
    ids = [v["id"] for v in versions]
    with matplotlib.rc_context(STYLE):
        figure, ax = _figure()
        ax.plot(ids, [float("nan")] * len(ids))  # fixes the categorical x axis to every version
        for i, run in enumerate(runs):
            newest = max((v for v in run["versions"] if v in ids), key=ids.index, default=None)
            loss = (run.get("eval") or {}).get("val_loss") or run.get("val_loss")
            if newest is None or loss is None:
                continue
            ax.plot([newest], [loss], marker="o", linestyle="", color=PALETTE[i % len(PALETTE)],
                    label=Path(run["run"]).name + (" (eval)" if run.get("eval") else " (train)"))
        return _finish(figure, ax, "validation loss (nats/token)")


def render_index(catalog: Catalog) -> str:
    data = catalog.read()
    versions, runs = data["versions"], data["runs"]
    title = f"gristmill dataset {html.escape(data['dataset'])}"
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>"
             "body{font-family:sans-serif;margin:24px;color:#222}img{margin:6px;border:1px solid #e6e9ee}"
             "table{border-collapse:collapse;font-size:13px}td,th{border-bottom:1px solid #ddd;padding:3px 8px;"
             "text-align:right}th:first-child,td:first-child{text-align:left}</style></head><body>",
             f"<h1>{title}</h1>"]
    if not versions:
        parts.append("<p id='empty'>No version published yet.</p></body></html>")
        return "".join(parts)
    parts.append(f"<p>{len(versions)} versions, {len(runs)} training runs. Each version holds only the input files "
                 "no earlier version consumed; plots show every version side by side.</p><div id='plots'>")
    ids = [v["id"] for v in versions]
    totals = [v["documents_in"] for v in versions]
    plots = [("documents in and kept", documents_plot(versions)),
             ("drop reasons (share of documents in)", _stacked_shares(ids, [v["drop_reasons"] for v in versions],
                                                                      totals, "share of documents in")),
             ("languages (share of documents in)", _stacked_shares(ids, [v["languages"] for v in versions],
                                                                   totals, "share of documents in")),
             ("duplicate rates", duplicates_plot(versions)),
             ("tokens in shards", tokens_plot(versions)),
             ("validation loss of the runs trained on it", val_loss_plot(versions, runs))]
    for caption, svg in plots:
        parts.append(f"<figure style='display:inline-block'><img alt='{caption}' src='{data_uri(svg)}'>"
                     f"<figcaption>{caption}</figcaption></figure>")
    parts.append("</div><h2>Versions</h2><table id='versions'><tr><th>version</th><th>published</th><th>files</th>"
                 "<th>docs in</th><th>kept</th><th>tokens</th><th>tokenizer sha256</th><th>status</th>"
                 "<th>report</th></tr>")
    for v in versions:
        parts.append(f"<tr><td>{v['id']}</td><td>{v['published']}</td><td>{len(v['files'])}</td>"
                     f"<td>{v['documents_in']}</td><td>{v['documents_kept']}</td>"
                     f"<td>{v['train_tokens'] + v['val_tokens']}</td><td>{(v['tokenizer_sha256'] or '')[:12]}</td>"
                     f"<td>{v['status']}</td><td><a href='{html.escape(v['folder'])}/report.html'>report</a></td></tr>")
    parts.append("</table><h2>Runs</h2><table id='runs'><tr><th>run</th><th>versions</th><th>from</th>"
                 "<th>train val loss</th><th>eval val loss</th><th>bits/byte</th></tr>")
    for r in runs:
        evaluation = r.get("eval") or {}
        parts.append(f"<tr><td>{html.escape(Path(r['run']).name)}</td><td>{', '.join(r['versions'])}</td>"
                     f"<td>{html.escape(Path(r['init_from']).name) if r['init_from'] else '-'}</td>"
                     f"<td>{_num(r.get('val_loss'))}</td><td>{_num(evaluation.get('val_loss'))}</td>"
                     f"<td>{_num(evaluation.get('bits_per_byte'))}</td></tr>")
    parts.append("</table></body></html>")
    return "".join(parts)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def write_index(root: str | Path) -> Path:
    """Regenerate OUT_ROOT/index.html (atomically)."""
    catalog = Catalog(root)
    path = catalog.root / "index.html"
    tmp = path.with_name(f".index.html.{os.getpid()}.tmp")  # flows in other processes may write it too
    tmp.write_text(render_index(catalog), encoding="utf-8")
    os.replace(tmp, path)
    return path
