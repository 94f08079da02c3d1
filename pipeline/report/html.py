"""report.html: one self-contained page (inline CSS, pictures as data URIs, no script, no network).

Everything shown comes from the report dict. Document text (ids, first lines, sources, reasons
from other stages) is untrusted corpus input: every value goes through `esc`, and free text sits
in <bdi> so a right-to-left override in a document cannot reorder the page around it.
"""

from __future__ import annotations

import html
import re
from typing import Any

from pipeline.report.plots import data_uri, length_histogram, score_histogram

TOP_LANGUAGES = 12
TOP_SOURCES = 15
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

CSS = """
:root { --ink:#1f2933; --muted:#65727f; --line:#e3e7ec; --kept:#2f6fb3; --all:#cfd6e0; --drop:#c0392b;
        --good:#2e8b57; --bg:#f6f8fa; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif; }
main { max-width:1180px; margin:0 auto; padding:24px 28px 48px; }
header h1 { margin:0; font-size:26px; letter-spacing:-.01em; }
header p { margin:2px 0 18px; color:var(--muted); }
section { background:#fff; border:1px solid var(--line); border-radius:10px; padding:18px 22px; margin:16px 0; }
h2 { font-size:18px; margin:0 0 12px; }
h3 { font-size:15px; margin:16px 0 8px; }
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(150px,1fr)); gap:12px; }
.card { background:#fff; border:1px solid var(--line); border-radius:10px; padding:12px 14px; }
.card .v { font-size:24px; font-weight:650; font-variant-numeric:tabular-nums; }
.card .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.card .s { color:var(--muted); font-size:12px; }
.card.kept .v { color:var(--kept); } .card.drop .v { color:var(--drop); }
.bars { display:grid; grid-template-columns:170px 1fr 220px; gap:5px 12px; align-items:center; }
.bars .label { text-align:right; color:var(--ink); overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
.track { position:relative; height:20px; background:#f0f2f5; border-radius:4px; overflow:hidden; }
.fill { position:absolute; left:0; top:0; bottom:0; background:var(--kept); border-radius:4px; }
.fill.all { background:var(--all); } .fill.good { background:var(--good); }
.num { font-variant-numeric:tabular-nums; white-space:nowrap; }
.minus { color:var(--drop); }
.muted { color:var(--muted); }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:6px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { white-space:nowrap; font-size:12px; color:var(--muted); text-transform:uppercase; letter-spacing:.03em; font-weight:600; }
table.fixed { table-layout:fixed; }
th.n { text-align:right; }
td.n { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
code { font-family:ui-monospace,"DejaVu Sans Mono",monospace; font-size:12.5px; background:#f0f2f5;
       padding:1px 5px; border-radius:4px; overflow-wrap:anywhere; }
code.token { white-space:pre; }
ul.ex { margin:0; padding:0; list-style:none; }
ul.ex li { padding:2px 0; overflow-wrap:anywhere; }
.line { color:#3e4c59; font-style:italic; }
.tag { display:inline-block; font-size:11px; padding:1px 6px; border-radius:9px; background:#eef2f7; color:var(--muted); }
.tag.keep { background:#e3f0fb; color:var(--kept); }
.plots { display:grid; grid-template-columns:repeat(auto-fit,minmax(340px,1fr)); gap:16px; }
.plots figure { margin:0; } .plots img { width:100%; height:auto; }
figcaption { color:var(--muted); font-size:12.5px; margin-top:2px; }
.clusters { display:grid; grid-template-columns:repeat(auto-fit,minmax(480px,1fr)); gap:12px; }
.cluster { border:1px solid var(--line); border-radius:8px; padding:10px 12px; }
.cluster h4 { margin:0 0 6px; font-size:13.5px; }
.cluster li, ul.one-line li { white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
table.kv { width:auto; min-width:320px; } table.kv td:first-child { color:var(--muted); padding-right:32px; }
.side { display:grid; grid-template-columns:repeat(auto-fit,minmax(360px,1fr)); gap:0 32px; }
nav { margin:14px 0 0; font-size:13px; } nav a { color:var(--kept); text-decoration:none; margin-right:14px; }
.warn { background:#fff7e6; border-color:#f3d08a; }
.legend span { display:inline-block; width:10px; height:10px; border-radius:2px; margin:0 4px 0 12px; }
"""


def esc(value: Any) -> str:
    """HTML-escaped text with control characters made visible as U+FFFD."""
    return html.escape(_CONTROL.sub("\ufffd", "" if value is None else str(value)), quote=True)


def text(value: Any) -> str:
    """Untrusted free text: escaped and isolated from the surrounding text direction."""
    return f"<bdi>{esc(value)}</bdi>"


def num(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else esc(value)


def size(n: int | None) -> str:
    """Bytes for a person: 491.0 kB."""
    if n is None:
        return "–"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def reason_code(reason: str) -> str:
    """A drop-reason code that may wrap after its colons, never inside a word."""
    return "<code>" + esc(reason).replace(":", ":<wbr>") + "</code>"


def plural(n: int, noun: str) -> str:
    return f"{num(n)} {noun}" + ("" if n == 1 else "s")


def pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def _card(key: str, value: str, sub: str = "", kind: str = "") -> str:
    return (f'<div class="card {kind}"><div class="k">{esc(key)}</div><div class="v">{value}</div>'
            f'<div class="s">{sub}</div></div>')


def _bar_row(label: str, width: float, right: str, kind: str = "", behind: float | None = None) -> str:
    under = f'<div class="fill all" style="width:{behind:.2f}%"></div>' if behind is not None else ""
    return (f'<div class="label" title="{esc(label)}">{text(label)}</div><div class="track">{under}'
            f'<div class="fill {kind}" style="width:{width:.2f}%"></div></div><div class="num">{right}</div>')


def _table(headers: list[str], rows: list[list[str]], numeric: set[int] = frozenset(),
           widths: list[str] | None = None) -> str:
    """A table; `numeric` columns are right-aligned, `widths` fixes the layout so sibling tables line up."""
    cols = "<colgroup>" + "".join(f'<col style="width:{w}">' for w in widths) + "</colgroup>" if widths else ""
    head = "".join(f'<th class="n">{esc(h)}</th>' if i in numeric else f"<th>{esc(h)}</th>" for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    fixed = ' class="fixed"' if widths else ""
    return f"<table{fixed}>{cols}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _value(key: str, value: Any) -> str:
    if isinstance(value, str) and key.endswith("sha256"):
        return f'<code title="{esc(value)}">{esc(value[:16])}…</code>'
    if isinstance(value, str) and key == "token":
        return f'<code class="token">{esc(value)}</code>'  # corpus text: whitespace matters, so keep it visible
    if isinstance(value, (dict, list)):
        return f"<code>{esc(value)}</code>"
    if isinstance(value, int) and key.endswith(("seed", "id")):
        return esc(value)  # a label, not a quantity: no thousands separator
    return size(value) if key.endswith("bytes") and isinstance(value, int) else num(value)


def _kv_table(values: dict[str, Any]) -> str:
    rows = "".join(f'<tr><td>{esc(k)}</td><td class="n">{_value(k, v)}</td></tr>' for k, v in values.items())
    return f'<table class="kv"><tbody>{rows}</tbody></table>'


def header(report: dict[str, Any]) -> str:
    s = report["summary"]
    sha = (report.get("config") or {}).get("sha256")
    subtitle = f"config <code>{esc(str(sha)[:12])}</code> · " if sha else ""
    cards = [
        _card("documents in", num(s["documents_in"]),
              plural(s["input_files"], "file") + (f" · {size(s['input_bytes'])}" if s["input_bytes"] else "")),
        _card("kept", num(s["documents_kept"]), pct(s["documents_kept"], s["documents_in"]) + " of input", "kept"),
        _card("dropped", num(s["documents_dropped"]), pct(s["documents_dropped"], s["documents_in"]) + " of input",
              "drop" if s["documents_dropped"] else ""),
        _card("duplicates", num(s["duplicates"]), "exact + near"),
        _card("train tokens", num(s["train_tokens"]), f"val {num(s['val_tokens'])}"),
        _card("unreadable files", num(s["unreadable_files"]), "could not be read", "drop" if s["unreadable_files"] else ""),
    ]
    return (f"<header><h1>gristmill data report</h1><p>{subtitle}report schema v{report['schema_version']}</p></header>"
            f'<div class="cards">{"".join(cards)}</div>')


def warnings(report: dict[str, Any]) -> str:
    if not report["warnings"]:
        return ""
    items = "".join(f"<li>{esc(w)}</li>" for w in report["warnings"])
    return f'<section class="warn"><h2>Warnings</h2><ul>{items}</ul></section>'


def funnel(report: dict[str, Any]) -> str:
    steps = report["funnel"]
    total = steps[0]["remaining"]
    rows = []
    for step in steps:
        kind = "good" if step["stage"] == "kept" else ("all" if step["stage"] == "input" else "")
        dropped = (f' <span class="minus">−{num(step["dropped"])} ({pct(step["dropped"], total)})</span>'
                   if step["dropped"] else "")
        rows.append(_bar_row(step["label"], 100 * step["remaining"] / total if total else 0,
                             f"{num(step['remaining'])}{dropped}", kind))
    return (f'<p class="muted">Documents left after each stage; red: removed by it.</p>'
            f'<div class="bars">{"".join(rows)}</div>')


def _examples(examples: list[dict[str, Any]]) -> str:
    items = []
    for e in examples:
        detail = f' <span class="tag">{esc(e["detail"])}</span>' if e.get("detail") else ""
        line = f' <span class="line">“{text(e["first_line"])}”</span>' if e.get("first_line") else ""
        items.append(f'<li title="{esc(e.get("first_line"))}"><code>{esc(e["doc_id"])}</code>{detail}{line}</li>')
    return f'<ul class="ex one-line">{"".join(items)}</ul>'


def drop_reasons(report: dict[str, Any]) -> str:
    reasons = report["drop_reasons"]
    if not reasons:
        return '<p class="muted">No document was dropped.</p>'
    total = report["summary"]["documents_in"]
    parts = []
    for step in report["funnel"]:
        here = [r for r in reasons if r["stage"] == step["stage"]]
        if not here:
            continue
        rows = [[reason_code(r["reason"]), num(r["documents"]), pct(r["documents"], total),
                 _examples(r["examples"])] for r in here]
        parts.append(f"<h3>{esc(step['label'].replace('after ', ''))} "
                     f'<span class="muted">· {num(step["dropped"])} dropped</span></h3>'
                     + _table(["reason", "documents", "share", "examples"], rows, {1, 2}, ["22%", "10%", "8%", "60%"]))
    return "".join(parts)


def distributions(report: dict[str, Any]) -> str:
    config = report.get("config") or {}
    figures = []
    if report["lengths"] and report["lengths"]["all"]["documents"]:
        h = report["lengths"]["histogram"]
        a, k = report["lengths"]["all"], report["lengths"]["kept"]
        caption = (f"median {num(a['p50'])} characters (kept {num(k['p50'])}), p99 {num(a['p99'])}, "
                   f"max {num(a['max'])}")
        figures.append((length_histogram(h["edges"], h["all"], h["kept"]), "document length", caption))
    for key, title, threshold, label in (
        ("language_score", "language score", config.get("language_min_score") if config.get("language_allowed") else None,
         "min_score"),
        ("toxicity_score", "toxicity score", config.get("toxicity_threshold"), "threshold"),
    ):
        if report[key] and report[key]["documents_scored"]:
            h = report[key]["histogram"]
            mean = report[key]["mean"]
            caption = f"{num(report[key]['documents_scored'])} documents scored, mean {mean:.3f}"
            figures.append((score_histogram(h["edges"], h["all"], h["kept"], title, threshold, label), title, caption))
    if not figures:
        return ""
    body = "".join(f'<figure><img alt="{esc(title)} histogram" src="{data_uri(svg)}">'
                   f"<figcaption><b>{esc(title)}</b> · {esc(caption)}</figcaption></figure>" for svg, title, caption in figures)
    legend = ('<p class="muted legend"><span style="background:var(--all)"></span>all documents'
              '<span style="background:var(--kept)"></span>kept</p>')
    return f'{legend}<div class="plots">{body}</div>'


def languages(report: dict[str, Any]) -> str:
    langs = report["languages"]
    if not langs:
        return ""
    shown = langs[:TOP_LANGUAGES]
    rest = langs[TOP_LANGUAGES:]
    if rest:
        shown = shown + [{"language": f"{len(rest)} others", "documents": sum(r["documents"] for r in rest),
                          "kept": sum(r["kept"] for r in rest)}]
    top = max(r["documents"] for r in shown)
    rows = [_bar_row(r["language"], 100 * r["kept"] / top, f"{num(r['kept'])} kept of {num(r['documents'])}",
                     behind=100 * r["documents"] / top) for r in shown]
    return f'<div class="bars">{"".join(rows)}</div>'


def pii(report: dict[str, Any]) -> str:
    p = report["pii"]
    if not p:
        return ""
    mode = (report.get("config") or {}).get("pii_mode")
    cards = [_card(kind, num(p[kind])) for kind in ("email", "ip", "phone") if kind in p]
    cards += [_card("documents with PII", num(p["documents_with_pii"])),
              _card("kept with PII", num(p["kept_documents_with_pii"]), f"mode: {esc(mode)}" if mode else "")]
    return f'<div class="cards">{"".join(cards)}</div>'


def _size_bins(sizes: list[dict[str, int]]) -> dict[str, int]:
    """Clusters per size, sizes above 4 binned in powers of two (5-8, 9-16, ...) so a long tail stays short."""
    bins: dict[str, int] = {}
    for entry in sizes:
        size = entry["size"]
        if size <= 4:
            label = str(size)
        else:
            low = 2 ** (size - 1).bit_length() // 2 + 1
            label = f"{low}-{2 * (low - 1)}"
        bins[label] = bins.get(label, 0) + entry["clusters"]
    return bins


def duplicates(report: dict[str, Any]) -> str:
    d = report["duplicates"]
    cards = [_card("entered dedup", num(d["candidates"])),
             _card("exact duplicates", num(d["exact"]), pct(d["exact"], d["candidates"]), "drop"),
             _card("near duplicates", num(d["near"]), pct(d["near"], d["candidates"]), "drop"),
             _card("from earlier builds", num(d["from_earlier_builds"])),
             _card("clusters", num(d["clusters"]))]
    body = f'<div class="cards">{"".join(cards)}</div>'
    if d["cluster_sizes"]:
        binned = _size_bins(d["cluster_sizes"])
        top = max(binned.values())
        rows = [_bar_row(f"{label} documents", 100 * n / top, plural(n, "cluster")) for label, n in binned.items()]
        body += f'<h3>Cluster sizes</h3><div class="bars">{"".join(rows)}</div>'
    index = d["index_stats"] or {}
    if index:
        scalars: dict[str, Any] = {}
        _flatten({k: v for k, v in index.items() if k != "cluster_size_histogram"}, "", scalars, {})
        body += '<h3>Dedup index</h3>' + _kv_table(scalars)
    cards = []
    for c in d["example_clusters"]:
        members = "".join(
            f'<li><span class="tag {"keep" if m["kept"] else ""}">{"kept" if m["kept"] else "dropped"}</span> '
            f'<code>{esc(m["doc_id"])}</code>'
            + (f' <span class="tag">build {esc(m["build"])}</span>' if m.get("build") else "")
            + f' <span class="line">{text(m["first_line"])}</span></li>'
            for m in c["members"])
        more = f'<li class="muted">… and {num(c["size"] - len(c["members"]))} more</li>' if c["size"] > len(c["members"]) else ""
        cards.append(f'<div class="cluster"><h4>cluster <code>{esc(c["cluster_id"])}</code> · '
                     f'{plural(c["size"], "document")}</h4><ul class="ex">{members}{more}</ul></div>')
    if cards:
        body += f'<h3>Largest clusters</h3><div class="clusters">{"".join(cards)}</div>'
    return body


def _flatten(stats: dict[str, Any], prefix: str, scalars: dict[str, Any], tables: dict[str, list[dict[str, Any]]]) -> None:
    """Free-form tokenizer statistics as one key/value list plus a table per list of records.

    The tokenizer's own fit report (key "report") is merged without a prefix: its names are distinct.
    """
    for key, value in stats.items():
        name = prefix + key
        if isinstance(value, dict):
            _flatten(value, "" if key == "report" and not prefix else name + ".", scalars, tables)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            tables[name] = value
        elif value is not None and scalars.get(name, value) == value:
            scalars[name] = value
        elif value is not None:
            scalars[f"{name} ({prefix or 'stats'})"] = value


def tokens(report: dict[str, Any]) -> str:
    t, tok = report["tokens"], report["tokenizer"]
    if not t and not tok and not report["splits"]:
        return ""
    body = ""
    if t:
        cards = [_card("train tokens", num(t["train_tokens"]), f"{num(t['train_rows'])} rows"),
                 _card("val tokens", num(t["val_tokens"]), f"{num(t['val_rows'])} rows"),
                 _card("shards", num(t["shards"]), size(t["shard_bytes"])),
                 _card("sequence length", num(t["seq_len"]), esc(t["dtype"] or ""))]
        body += f'<div class="cards">{"".join(cards)}</div>'
    else:
        body += '<p class="muted">No manifest.json: no shards were written (shards disabled or not reached).</p>'
    side, tables = "", ""
    if tok:
        scalars = {k: v for k, v in tok.items() if k != "stats" and v is not None}
        nested: dict[str, list[dict[str, Any]]] = {}
        _flatten(tok["stats"], "", scalars, nested)
        side += "<div><h3>Tokenizer</h3>" + _kv_table(scalars) + "</div>"
        for name, rows in nested.items():
            headers = list(dict.fromkeys(k for row in rows for k in row))
            cells = [[_value(h, row.get(h)) for h in headers] for row in rows]
            numeric = {i for i, h in enumerate(headers) if all(isinstance(row.get(h), (int, float)) for row in rows)}
            tables += f"<h3>Tokenizer: {esc(name.replace('_', ' '))}</h3>" + _table(headers, cells, numeric)
    if report["splits"]:
        side += "<div><h3>Kept documents per split</h3>" + _kv_table(report["splits"]) + "</div>"
    body += f'<div class="side">{side}</div>{tables}'
    return body


def inputs(report: dict[str, Any]) -> str:
    i = report["inputs"]
    body = ""
    if i["unreadable"]:
        rows = [[f"<code>{esc(f.get('path'))}</code>", text(f.get("reason"))] for f in i["unreadable"]]
        body += "<h3>Unreadable files</h3>" + _table(["path", "reason"], rows)
    if i["files"]:
        rows = [[f"<code>{esc(f.get('path'))}</code>", esc(f.get("format")), num(f.get("documents")), size(f.get("bytes"))]
                for f in i["files"]]
        body += "<h3>Input files</h3>" + _table(["path", "format", "documents", "bytes"], rows, {2, 3})
    if i["by_source"]:
        rows = [[f"<code>{esc(s['source'])}</code>", num(s["documents"]), num(s["kept"]), pct(s["kept"], s["documents"])]
                for s in i["by_source"][:TOP_SOURCES]]
        more = f" (largest {TOP_SOURCES} of {num(i['sources'])})" if i["sources"] > TOP_SOURCES else ""
        body += f"<h3>Documents per source{more}</h3>" + _table(["source", "documents", "kept", "kept share"], rows, {1, 2, 3})
    return body


def bad_input(report: dict[str, Any]) -> str:
    bad = report.get("bad_input") or {}
    if not bad.get("files") and not bad.get("unreadable_files"):
        return ""
    body = (f'<p class="muted">{num(bad["quarantined"])} records quarantined, {num(bad["transcoded"])} documents '
            f'transcoded to UTF-8, {num(bad["surrogates_replaced"])} lone surrogates replaced with U+FFFD, '
            f'{num(bad["unreadable_files"])} files not read (listed under Inputs).</p>')
    rows = [[f"<code>{esc(f['source'])}</code>",
             "<br>".join(f"<code>{esc(r)}</code> × {num(n)}" for r, n in f["quarantined"].items()) or "–",
             "<br>".join(f"{esc(e)} × {num(n)}" for e, n in f["encodings"].items()) or "–",
             num(f["surrogates_replaced"])] for f in bad["files"]]
    return body + _table(["file", "quarantined records", "transcoded from", "surrogates replaced"], rows, {3})


def timings(report: dict[str, Any]) -> str:
    stages = report["timings"]["stages"]
    if not stages:
        return ""
    top = max((s["seconds"] or 0 for s in stages), default=0) or 1
    rows = [_bar_row(s["stage"], 100 * (s["seconds"] or 0) / top,
                     f"{s['seconds']:,.2f} s" if s["seconds"] is not None else "–") for s in stages]
    return (f'<div class="bars">{"".join(rows)}</div>'
            f'<p class="muted">total {num(report["timings"]["total_seconds"])} s</p>')


SECTIONS = [  # (anchor, title, renderer) in page order; a renderer returns "" when it has nothing to show
    ("funnel", "Funnel", funnel),
    ("drops", "Drop reasons", drop_reasons),
    ("bad", "Bad input", bad_input),
    ("distributions", "Distributions", distributions),
    ("languages", "Languages", languages),
    ("pii", "Personal information found", pii),
    ("duplicates", "Duplicates", duplicates),
    ("tokens", "Tokens written", tokens),
    ("inputs", "Inputs", inputs),
    ("timings", "Stage timings", timings),
]


def render_html(report: dict[str, Any]) -> str:
    sections = [(anchor, title, render(report)) for anchor, title, render in SECTIONS]
    sections = [(anchor, title, body) for anchor, title, body in sections if body]
    nav = "".join(f'<a href="#{anchor}">{esc(title)}</a>' for anchor, title, _ in sections)
    body = "".join(f'<section id="{anchor}"><h2>{esc(title)}</h2>{body}</section>' for anchor, title, body in sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            # no script may run and nothing may load, even if some text escaped the escaping
            "<meta http-equiv=\"Content-Security-Policy\" "
            "content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">"
            f"<title>gristmill data report</title><style>{CSS}</style></head>"
            f"<body><main>{header(report)}<nav>{nav}</nav>{warnings(report)}{body}</main></body></html>\n")
