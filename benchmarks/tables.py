"""The plain-text table every benchmark prints: left-aligned columns, floats rounded."""

from __future__ import annotations


def table(headers: list[str], rows: list[list], digits: int = 3) -> None:
    cells = [[f"{c:.{digits}f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))
    print(flush=True)
