"""The evaluation as a plain-text (Markdown) table: one row per router and baseline."""

from __future__ import annotations

from llmrouter.evaluation.learn.evaluate import Evaluation

__all__ = ["render_table"]


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _usd(value: float | None) -> str:
    return "—" if value is None else f"${value:.6f}"


def render_table(ev: Evaluation) -> str:
    best = max(ev.single, key=lambda m: ev.single[m][0])
    lines = [
        f"{ev.prompts} test prompts; best single model: {best} "
        f"(quality {ev.single[best][0]:.3f} at {_usd(ev.single[best][1])} per prompt)",
        "",
        "| model | quality | cost per prompt |",
        "|---|---:|---:|",
    ]
    lines += [f"| {m} | {q:.3f} | {_usd(c)} |" for m, (q, c) in ev.single.items()]
    two = ev.weak is not None
    head = "| router | AIQ | quality at best's cost | cost to match best |"
    rule = "|---|---:|---:|---:|"
    if two:
        head += f" APGR | CPT(50%) | CPT(80%) | {ev.strong} calls to match it |"
        rule += "---:|---:|---:|---:|"
    lines += ["", head, rule]
    for p in ev.policies:
        row = (
            f"| {p.name} | {p.aiq:.3f} | {p.quality_at_best_cost:.3f} "
            f"| {_usd(p.cost_to_match_best_usd)} |"
        )
        if two:
            row += (
                f" {_num(p.apgr)} | {_pct(p.cpt50)} | {_pct(p.cpt80)} "
                f"| {_pct(p.strong_share_to_match)} |"
            )
        lines.append(row)
    lines += [f"\nNote: {note}" for note in ev.notes]
    return "\n".join(lines)
