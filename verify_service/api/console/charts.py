"""Inline SVG charts for the console: grouped bars and sparklines, drawn here as a few SVG
elements. They show without JavaScript, scale with the page (viewBox) and load nothing;
each bar's value is its <title> (the browser's own tooltip).

Why not pygal: measured on this project's machines, one pygal chart took 40-150 ms to
render (a page budget is 200 ms with 100,000 attempts) and it writes an inline script per
chart; these few shapes do not need a library."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

COLORS = ("#1f6feb", "#2da44e", "#cf222e", "#9a6700", "#8250df")
_W, _H = 720, 220
_LEFT, _BOTTOM, _TOP = 40, 40, 24


def _number(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.2f}"


def bars(title: str, labels: Sequence[str], series: dict[str, Sequence[float]]) -> Markup:
    """Grouped bars: one group per label, one bar per series (values >= 0)."""
    top = max([v for values in series.values() for v in values] + [1.0])
    plot_w, plot_h = _W - _LEFT - 8, _H - _BOTTOM - _TOP
    group_w = plot_w / max(1, len(labels))
    bar_w = group_w * 0.8 / max(1, len(series))
    parts = [
        f'<svg class="chart" viewBox="0 0 {_W} {_H}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<text x="{_LEFT}" y="14" class="chart-title">{escape(title)}</text>',
        f'<text x="{_LEFT - 4}" y="{_TOP + 4}" text-anchor="end">{_number(top)}</text>',
        f'<text x="{_LEFT - 4}" y="{_TOP + plot_h}" text-anchor="end">0</text>',
        f'<line x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{_W - 8}" y2="{_TOP + plot_h}" '
        'stroke="#999"/>',
    ]
    every = max(1, len(labels) // 8)
    for i, label in enumerate(labels):
        x0 = _LEFT + i * group_w + group_w * 0.1
        for j, (name, values) in enumerate(series.items()):
            value = values[i]
            height = plot_h * value / top
            parts.append(
                f'<rect x="{x0 + j * bar_w:.1f}" y="{_TOP + plot_h - height:.1f}" '
                f'width="{bar_w:.1f}" height="{height:.1f}" fill="{COLORS[j % len(COLORS)]}">'
                f"<title>{escape(label)}: {escape(name)} {_number(value)}</title></rect>"
            )
        if i % every == 0:
            parts.append(f'<text x="{x0:.1f}" y="{_TOP + plot_h + 14}">{escape(label)}</text>')
    for j, name in enumerate(series):
        x = _LEFT + j * 130
        parts.append(
            f'<rect x="{x}" y="{_H - 14}" width="10" height="10" '
            f'fill="{COLORS[j % len(COLORS)]}"/>'
            f'<text x="{x + 14}" y="{_H - 5}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped


def sparkline(values: Sequence[float | None], *, width: int = 120, height: int = 24) -> Markup:
    """A line through `values` (0..1, None = no data, left out) without axes."""
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    step = width / max(1, len(values) - 1)
    points = " ".join(f"{i * step:.1f},{height - 2 - v * (height - 4):.1f}" for i, v in known)
    label = ", ".join("-" if v is None else f"{v * 100:.0f}%" for v in values)
    dots = "".join(
        f'<circle cx="{i * step:.1f}" cy="{height - 2 - v * (height - 4):.1f}" r="1.5"/>'
        for i, v in known[-1:]
    )
    return Markup(  # noqa: S704 - numbers only
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>'
        f'<polyline fill="none" stroke="{COLORS[0]}" stroke-width="1.5" points="{points}"/>'
        f"{dots}</svg>"
    )
