"""Cost per query (log scale) against quality for every evaluated model, as a PNG.

The Pareto front (models nothing beats on both cost and quality) is drawn as a staircase:
for any budget, the best quality on offer. The configured route is a star when it was
evaluated (`--route`), else the models it routes to are ringed. A free model (cost 0)
cannot sit on a log axis: it is drawn a decade left of the cheapest paid one and labelled
"$0". matplotlib comes with the `eval` extra and is imported only when a chart is asked
for (`llmrouter.core.optional.png_chart`).
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmrouter.core.errors import LLMRouterError
from llmrouter.core.optional import png_chart
from llmrouter.evaluation.report import ModelSummary, Report, format_cost

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_cost_quality"]

_FRONT = "#1f77b4"
_OTHER = "#9aa5b1"
_ROUTE = "#d62728"
#: label offsets in points, tried in order until one does not overlap a placed label
_OFFSETS = ((7, 5), (7, -13), (-7, 5), (-7, -13))

Point = tuple[float, float]


def plot_cost_quality(report: Report, path: Path) -> Path:
    """Write the chart to `path` (PNG) and return it."""
    models = [m for m in report.models if m.cost_per_query is not None and m.quality is not None]
    if not models:
        raise LLMRouterError("nothing to plot: no model has both a cost and a quality")
    where = _positions(models)
    with png_chart(path) as ax:
        _set_axes(ax, list(where.values()), report)
        _draw_front(ax, [where[m.label] for m in models if m.on_pareto_front])
        _draw_points(ax, models, where, report.run.route_models)
        _draw_labels(ax, models, where)
        ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    return path


def _positions(models: list[ModelSummary]) -> dict[str, Point]:
    paid = [float(m.cost_per_query) for m in models if m.cost_per_query]
    free_at = min(paid) / 10 if paid else 1e-6
    return {
        m.label: (float(m.cost_per_query) if m.cost_per_query else free_at, m.quality or 0.0)
        for m in models
    }


def _set_axes(ax: Axes, points: list[Point], report: Report) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, PercentFormatter

    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    low_x, high_x = min(xs) / 2, max(xs) * 3  # room for the labels on the right
    ax.set_xscale("log")
    ax.set_xlim(low_x, high_x)
    # 1-2-5 ticks over a short span, one per decade over a long one: never a crowd.
    subs = (1.0, 2.0, 5.0) if math.log10(high_x / low_x) <= 3 else (1.0,)
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: _usd_tick(x)))
    ax.xaxis.set_minor_formatter(NullFormatter())
    span = max(max(ys) - min(ys), 0.05)
    ax.set_ylim(max(0.0, min(ys) - span * 0.25), min(1.02, max(ys) + span * 0.25))
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.set_xlabel("cost per query (USD, log scale)")
    ax.set_ylabel(f"quality ({report.primary})")
    ax.set_title(f"{report.task}: cost vs quality ({report.models[0].examples} examples)")
    ax.grid(True, which="major", alpha=0.3)


def _draw_front(ax: Axes, front: list[Point]) -> None:
    if len(front) < 2:
        return
    ordered = sorted(front)
    ax.step(
        [x for x, _ in ordered],
        [y for _, y in ordered],
        where="post",
        color=_FRONT,
        alpha=0.6,
        linewidth=1.5,
        label="Pareto front",
        zorder=2,
    )


def _draw_points(
    ax: Axes, models: list[ModelSummary], where: dict[str, Point], route_models: tuple[str, ...]
) -> None:
    has_route_row = any(m.is_route for m in models)
    shown: set[str] = set()
    for m in models:
        x, y = where[m.label]
        if m.is_route:
            star = {"marker": "*", "s": 260, "color": _ROUTE, "zorder": 4}
            _scatter(ax, (x, y), star, "configured route", shown)
            continue
        color = _FRONT if m.on_pareto_front else _OTHER
        name = "on the Pareto front" if m.on_pareto_front else "dominated"
        _scatter(ax, (x, y), {"s": 55, "color": color, "zorder": 3}, name, shown)
        if not has_route_row and m.label in route_models:
            ring = {"s": 200, "facecolors": "none", "edgecolors": _ROUTE, "linewidths": 1.5}
            _scatter(ax, (x, y), ring, "in the configured route", shown)


def _scatter(ax: Axes, at: Point, style: dict[str, Any], name: str, shown: set[str]) -> None:
    """One point; each legend entry appears once."""
    ax.scatter([at[0]], [at[1]], label=None if name in shown else name, **style)
    shown.add(name)


def _draw_labels(ax: Axes, models: list[ModelSummary], where: dict[str, Point]) -> None:
    """Model names beside their points, moved around a neighbour's label when they'd clash."""
    placed: list[tuple[float, float, float, float]] = []
    to_pixels = ax.transData.transform
    for m in sorted(models, key=lambda m: -where[m.label][1]):
        text = m.label + (" ($0)" if not m.cost_per_query else "")
        px, py = to_pixels(where[m.label])
        width, height = 5.2 * len(text) * 150 / 72, 11 * 150 / 72  # 8pt text at 150 dpi
        for dx, dy in _OFFSETS:
            left = px + dx * 150 / 72 - (width if dx < 0 else 0)
            box = (left, py + dy * 150 / 72, left + width, py + dy * 150 / 72 + height)
            if not any(_overlap(box, other) for other in placed):
                break
        placed.append(box)
        ax.annotate(
            text,
            where[m.label],
            xytext=(dx, dy),
            textcoords="offset points",
            ha="right" if dx < 0 else "left",
            fontsize=8,
            color=_ROUTE if m.is_route else "#222222",
        )


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _usd_tick(value: float) -> str:
    # Tick values arrive as numpy floats, whose repr is not a number.
    return format_cost(Decimal(str(float(value)))) if value > 0 else ""
