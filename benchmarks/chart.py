"""A hand-written SVG of the ratio tables of ``python -m benchmarks.compare``: a panel per
combination, a group of bars per workload, a bar per contender (time ratio to the raw driver,
log scale), the issue's target for the toolkit as a tick over its bar."""

from __future__ import annotations

import math
from html import escape

COLORS = {
    "toolkit": "#2b7bba",
    "SQLModel Session": "#e6842a",
    "advanced-alchemy": "#8c564b",
    "redis-om": "#c03d3e",
}
SHORT = ("insert", "get", "bulk", "list", "filter")
W, H, TOP, LEFT, BOTTOM = 300, 210, 30, 36, 24  # one panel
COLS = 3


def svg(panels: list[tuple[str, dict[str, list[float]], list[float]]]) -> str:
    """``panels``: (title, contender -> ratio per workload, target per workload)."""
    highest = max([r for _, sides, _ in panels for ratios in sides.values() for r in ratios] + [2])
    top = 2 ** math.ceil(math.log2(highest))
    rows = math.ceil(len(panels) / COLS)
    width, height = COLS * W + 20, rows * H + 50
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="10">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    x = 10
    for name, color in COLORS.items():  # the legend
        out.append(f'<rect x="{x}" y="8" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{x + 14}" y="17">{escape(name)}</text>')
        x += 20 + 7 * len(name)
    out.append(
        f'<text x="{x}" y="17">| target for the toolkit; time / raw driver, log scale</text>'
    )
    for index, (title, sides, targets) in enumerate(panels):
        ox, oy = 10 + (index % COLS) * W, 30 + (index // COLS) * H
        out += panel(ox, oy, title, sides, targets, top)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def panel(
    ox: float,
    oy: float,
    title: str,
    sides: dict[str, list[float]],
    targets: list[float],
    top: float,
) -> list[str]:
    plot_h, plot_w = H - TOP - BOTTOM, W - LEFT - 10
    base = oy + TOP + plot_h

    def y(ratio: float) -> float:
        return base - plot_h * math.log2(max(ratio, 1.0)) / math.log2(top)

    out = [f'<text x="{ox + LEFT}" y="{oy + 18}" font-weight="bold">{escape(title)}</text>']
    tick = 1.0
    while tick <= top:
        out.append(
            f'<line x1="{ox + LEFT}" x2="{ox + LEFT + plot_w}" y1="{y(tick):.1f}" '
            f'y2="{y(tick):.1f}" stroke="#ddd"/>'
        )
        out.append(
            f'<text x="{ox + LEFT - 4}" y="{y(tick) + 3:.1f}" text-anchor="end">{tick:g}x</text>'
        )
        tick *= 4
    group = plot_w / len(SHORT)
    bar = (group - 8) / max(len(sides), 1)
    for w, label in enumerate(SHORT):
        gx = ox + LEFT + w * group + 4
        for s, (name, ratios) in enumerate(sides.items()):
            ratio = ratios[w]
            if math.isnan(ratio):
                continue
            bx = gx + s * bar
            out.append(
                f'<rect x="{bx:.1f}" y="{y(ratio):.1f}" width="{bar - 1:.1f}" '
                f'height="{base - y(ratio):.1f}" fill="{COLORS.get(name, "#777")}">'
                f"<title>{escape(name)} {label}: {ratio:.2f}x</title></rect>"
            )
            if name == "toolkit":
                ty = y(targets[w])
                out.append(
                    f'<line x1="{bx - 2:.1f}" x2="{bx + bar + 1:.1f}" y1="{ty:.1f}" y2="{ty:.1f}" '
                    'stroke="black" stroke-width="2"/>'
                )
        out.append(
            f'<text x="{gx + (group - 8) / 2:.1f}" y="{base + 14}" text-anchor="middle">'
            f"{label}</text>"
        )
    out.append(
        f'<line x1="{ox + LEFT}" x2="{ox + LEFT + plot_w}" y1="{base}" y2="{base}" stroke="#333"/>'
    )
    return out
