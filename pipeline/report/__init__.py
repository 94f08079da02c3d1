"""The data-quality report of a build: DIR/report.json (the numbers) and DIR/report.html (the picture).

    report = build_report(Path("out"))   # reads out/ledger.parquet & co, writes report.json + report.html
    print(report_markdown(report))       # the short summary a Prefect artifact shows
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pipeline.report.html import render_html
from pipeline.report.summary import summarize

__all__ = ["build_report", "report_markdown", "render_html", "summarize"]


def _write_atomic(path: Path, content: str) -> None:
    # A plain open (not mkstemp, which makes 0600 files) so the report gets the usual umask permissions.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(content)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def build_report(build_dir: Path) -> dict[str, Any]:
    """Summarise `build_dir`, write report.json and report.html there (atomically), return the dict."""
    build_dir = Path(build_dir)
    report = summarize(build_dir)
    _write_atomic(build_dir / "report.json", json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    _write_atomic(build_dir / "report.html", render_html(report))
    return report


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("`", "'").replace("\n", " ")


def _n(value: Any) -> str:
    return "–" if value is None else f"{value:,}"


def report_markdown(report: dict[str, Any]) -> str:
    """A short Markdown summary: headline numbers, the funnel, the largest drop reasons, tokens.

    It holds no document text (only counts and reason codes), so it is safe to show anywhere.
    """
    s = report["summary"]
    total = s["documents_in"]
    share = lambda n: f"{100 * n / total:.1f}%" if total else "–"  # noqa: E731
    lines = [
        "# gristmill build report",
        "",
        f"**{_n(total)}** documents in, **{_n(s['documents_kept'])}** kept ({share(s['documents_kept'])}), "
        f"{_n(s['documents_dropped'])} dropped; {_n(s['duplicates'])} duplicates; "
        f"{_n(s['unreadable_files'])} unreadable file{'' if s['unreadable_files'] == 1 else 's'}.",
    ]
    if s["train_tokens"] is not None:
        lines.append(f"Tokens written: {_n(s['train_tokens'])} train, {_n(s['val_tokens'])} val.")
    lines += ["", "| stage | dropped | remaining |", "|---|---:|---:|"]
    lines += [f"| {_cell(step['label'])} | {_n(step['dropped']) if step['stage'] not in ('input', 'kept') else ''} "
              f"| {_n(step['remaining'])} |" for step in report["funnel"]]
    top = sorted(report["drop_reasons"], key=lambda r: (-r["documents"], r["reason"]))[:8]
    if top:
        lines += ["", "| top drop reasons | documents | of input |", "|---|---:|---:|"]
        lines += [f"| `{_cell(r['reason'])}` | {_n(r['documents'])} | {share(r['documents'])} |" for r in top]
    if report["warnings"]:
        lines += ["", "**Warnings:**"] + [f"- {_cell(w)}" for w in report["warnings"]]
    return "\n".join(lines) + "\n"
