"""Histogram pictures for report.html: matplotlib SVG, made byte-identical run to run.

matplotlib writes random element ids and the current date into an SVG unless told not to:
a fixed svg.hashsalt and metadata Date=None make the same counts give the same bytes.
The Figure is built without pyplot so no GUI backend or global figure state is involved.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import matplotlib
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

ALL_COLOR = "#cfd6e0"
KEPT_COLOR = "#2f6fb3"
MARK_COLOR = "#c0392b"
STYLE = {
    "svg.hashsalt": "gristmill-report",
    "svg.fonttype": "path",  # glyphs as paths: the page needs no font and renders the same everywhere
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#8a94a3",
    "axes.labelcolor": "#39424e",
    "xtick.color": "#39424e",
    "ytick.color": "#39424e",
}


def _svg(figure: Figure) -> str:
    buffer = io.BytesIO()
    FigureCanvasSVG(figure)
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return buffer.getvalue().decode("utf-8")


def data_uri(svg: str) -> str:
    """An <img src> value: each picture stays its own document, so ids of two SVGs never collide."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _short(n: float) -> str:
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:g}{suffix}"
    return f"{n:g}"


def _finish(figure: Figure, ax, all_counts: Sequence[int], xlabel: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel("documents")
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: _short(v)))
    ax.set_ylim(0, max(max(all_counts, default=0), 1) * 1.12)
    ax.grid(axis="y", color="#e6e9ee", linewidth=0.8)
    ax.set_axisbelow(True)
    figure.tight_layout(pad=0.4)


def score_histogram(edges: Sequence[float], all_counts: Sequence[int], kept_counts: Sequence[int],
                    xlabel: str, threshold: float | None = None, threshold_label: str = "") -> str:
    """Bars of every scored document, the kept ones drawn over them; an optional threshold line.

    The page carries the all/kept legend once, so the plots have none to hide bars behind.
    """
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(4.2, 2.8))
        ax = figure.add_subplot()
        widths = [b - a for a, b in zip(edges[:-1], edges[1:])]
        ax.bar(edges[:-1], all_counts, width=widths, align="edge", color=ALL_COLOR, linewidth=0)
        ax.bar(edges[:-1], kept_counts, width=widths, align="edge", color=KEPT_COLOR, linewidth=0)
        if threshold is not None:
            ax.axvline(threshold, color=MARK_COLOR, linestyle="--", linewidth=1.2)
            ax.annotate(f"{threshold_label} {threshold:g}", (threshold, 1), xycoords=("data", "axes fraction"),
                        xytext=(4, -2), textcoords="offset points", va="top", color=MARK_COLOR, fontsize=8)
        ax.set_xlim(edges[0], edges[-1])
        _finish(figure, ax, all_counts, xlabel)
        return _svg(figure)


def length_histogram(edges: Sequence[int], all_counts: Sequence[int], kept_counts: Sequence[int]) -> str:
    """Document lengths on 1-2-5 bins drawn at equal width: a log axis without a log axis's zero problem."""
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(4.2, 2.8))
        ax = figure.add_subplot()
        positions = list(range(len(all_counts)))
        ax.bar(positions, all_counts, width=0.9, align="edge", color=ALL_COLOR, linewidth=0)
        ax.bar(positions, kept_counts, width=0.9, align="edge", color=KEPT_COLOR, linewidth=0)
        # label 0 and the powers of ten only: 1-2-5 labels on every edge would overlap
        ticks = [i for i, e in enumerate(edges) if e == 0 or str(e).strip("0") == "1"]
        ax.set_xticks(ticks, [_short(edges[i]) for i in ticks])
        ax.set_xlim(-0.2, len(all_counts))
        _finish(figure, ax, all_counts, "characters per document (bins 1-2-5)")
        return _svg(figure)
