"""The evaluation as a picture: cost–quality curves of every router beside the single
models (left) and, with two models, quality recovered against the share of calls to the
strong model (right), where a random router is the diagonal."""

from __future__ import annotations

from pathlib import Path

from llmrouter.core.optional import png_chart
from llmrouter.evaluation.learn import metrics
from llmrouter.evaluation.learn.evaluate import Evaluation

__all__ = ["plot_evaluation"]

_STYLE = {
    "learned": ("#d62728", "-", 2.2),
    "oracle": ("#2ca02c", ":", 1.2),
    "random (expected)": ("#7f7f7f", "--", 1.2),
    "TF-IDF + LR": ("#ff7f0e", "-", 1.4),
    "per-task prior": ("#1f77b4", "-.", 1.2),
}


def _style(name: str) -> tuple[str, str, float]:
    if name.startswith("cascade"):
        return ("#9467bd", "-", 2.0)
    return _STYLE.get(name, ("#1f77b4", "-", 1.2))


def plot_evaluation(ev: Evaluation, path: Path) -> Path:
    two = ev.weak is not None
    with png_chart(path, panels=2 if two else 1, size_in=(13 if two else 7, 5), dpi=130) as axes:
        left = axes[0] if two else axes
        for policy in ev.policies:
            colour, line, width = _style(policy.name)
            front = metrics.hull([(p.cost_usd, p.quality) for p in policy.curve])
            left.plot(
                [c for c, _ in front],
                [q for _, q in front],
                line,
                color=colour,
                linewidth=width,
                label=f"{policy.name} (AIQ {policy.aiq:.3f})",
            )
        for model, (quality, cost) in ev.single.items():
            left.scatter([cost], [quality], color="black", zorder=5)
            left.annotate(model, (cost, quality), textcoords="offset points", xytext=(6, -12))
        left.set_xlabel("cost per prompt (USD)")
        left.set_ylabel("mean score")
        left.set_title("Cost against quality (convex hull of each router's knob)")
        left.grid(alpha=0.3)
        left.legend(fontsize=8, loc="lower right")
        if two:
            right = axes[1]
            weak, strong = ev.single[ev.weak or ""][0], ev.single[ev.strong or ""][0]
            for policy in ev.policies:
                if not policy.strong_curve:
                    continue
                colour, line, width = _style(policy.name)
                right.plot(
                    [100 * s for s, _ in policy.strong_curve],
                    [metrics.pgr(q, weak, strong) for _, q in policy.strong_curve],
                    line,
                    color=colour,
                    linewidth=width,
                    label=f"{policy.name} (APGR {policy.apgr or 0:.3f})",
                )
            right.axhline(1.0, color="black", linewidth=0.6)
            right.set_xlabel(f"calls to {ev.strong} (%)")
            right.set_ylabel("performance gap recovered")
            right.set_title(f"{ev.weak} → {ev.strong}")
            right.grid(alpha=0.3)
            right.legend(fontsize=8, loc="lower right")
    return path
