"""`llmrouter learn collect|train|route|evaluate|train-scorer`: a router learned from outcomes.

Register with:

    app.add_typer(learn_commands.app, name="learn", help="...")
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from llmrouter.cli.pipeline_commands import BootstrapOption
from llmrouter.core.errors import LLMRouterError

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, add_completion=False)

OutcomesOption = Annotated[
    Path,
    typer.Option(
        help="Outcomes, JSON Lines: prompt_id, prompt, task?, model, score, cost_usd, answer?."
    ),
]
RouterOption = Annotated[Path, typer.Option(help="A router saved by `llmrouter learn train`.")]
CostWeightOption = Annotated[
    float | None,
    typer.Option(min=0.0, help="λ: pick the model maximising predicted score − λ × cost (USD)."),
]
QualityOption = Annotated[
    float | None,
    typer.Option(
        min=0.0, max=1.0, help="Instead: the cheapest model whose predicted score reaches this."
    ),
]


@app.command()
def collect(
    out: Annotated[Path, typer.Option(help="Where to write the outcomes (JSON Lines).")],
    since: Annotated[
        str | None,
        typer.Option(help="First request time (inclusive): ISO 8601 or an age (30m, 2h, 1d)."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="End of the requests' window (exclusive; default: the end at start)."),
    ] = None,
    tasks: Annotated[
        str | None, typer.Option(help="Comma-separated tasks (default: every task).")
    ] = None,
    bootstrap_servers: BootstrapOption = None,
) -> None:
    """Training outcomes from your own traffic: the requests of the window joined by
    request_id with their live and shadow answers, feedback and judge scores, one line per
    request × model answer. Prints what was read, joined, skipped and why (JSON) to stderr."""
    import asyncio

    from llmrouter.evaluation.learn.outcomes import write_outcomes
    from llmrouter.kafkaio.reading import parse_when
    from llmrouter.kafkaio.settings import KafkaSettings
    from llmrouter.operations.learn_join import join_outcomes
    from llmrouter.operations.learn_traffic import TrafficWindow, read_traffic

    window = TrafficWindow(
        since=parse_when(since) if since is not None else None,
        until=parse_when(until) if until is not None else None,
        tasks=tuple(t.strip() for t in tasks.split(",") if t.strip()) if tasks else (),
    )
    traffic = asyncio.run(read_traffic(KafkaSettings.from_env(bootstrap_servers), window))
    joined = join_outcomes(traffic)
    written = write_outcomes(joined.outcomes, out)
    typer.echo(orjson.dumps({"out": str(out), **joined.counts.to_json()}).decode(), err=True)
    typer.echo(f"outcomes: {out} ({written} lines)", err=True)


@app.command()
def train(
    outcomes: OutcomesOption,
    out: Annotated[Path, typer.Option(help="Where to save the router (JSON).")],
    models: Annotated[
        str | None, typer.Option(help="Comma-separated models to route between (default: all).")
    ] = None,
    task_weight: Annotated[
        float,
        typer.Option(
            min=0.0, help="Value of the task tag feature: large makes per-task means the base."
        ),
    ] = 1.0,
    text_weights: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated weights of the prompt's text features; with several, "
            "the one that cross-validates best is used (default: 1)."
        ),
    ] = None,
    prior_anchored: Annotated[
        bool,
        typer.Option(
            help="Anchor each model's predicted score on its per-task mean (the prior) and "
            "learn only how a prompt moves it; the regularisation is chosen on a validation "
            "split."
        ),
    ] = False,
    per_task: Annotated[
        bool,
        typer.Option(
            help="With --prior-anchored: each task gets its own n-grams and its own "
            "regularisation (best with many tasks)."
        ),
    ] = False,
) -> None:
    """Fit, for every model, a predictor of its score and its cost from the prompt."""
    from llmrouter.evaluation.learn.outcomes import read_outcomes
    from llmrouter.evaluation.learn.train import train_router
    from llmrouter.evaluation.learn.train_prior import train_prior_router
    from llmrouter.router.learned import FeatureSpec

    chosen = [m.strip() for m in models.split(",") if m.strip()] if models else None
    try:
        weights = [float(w) for w in text_weights.split(",") if w.strip()] if text_weights else []
    except ValueError:
        raise typer.BadParameter("numbers, e.g. 0,0.1,0.3", param_hint="--text-weights") from None
    if per_task and not prior_anchored:
        raise typer.BadParameter("only with --prior-anchored", param_hint="--per-task")
    if prior_anchored and (weights or task_weight != 1.0):
        raise typer.BadParameter(
            "--text-weights and --task-weight are for the plain router only",
            param_hint="--prior-anchored",
        )
    if prior_anchored:
        summary = train_prior_router(read_outcomes(outcomes), out, models=chosen, per_task=per_task)
    else:
        summary = train_router(
            read_outcomes(outcomes),
            out,
            models=chosen,
            spec=FeatureSpec(task_weight=task_weight),
            text_weights=weights,
        )
    typer.echo(
        f"router: {summary.path} ({', '.join(summary.models)}; {summary.examples} outcomes, "
        f"sha256 {summary.sha256[:12]})",
        err=True,
    )


@app.command("train-scorer")
def train_scorer(
    outcomes: OutcomesOption,
    model: Annotated[str, typer.Option(help="The model whose answers are scored.")],
    out: Annotated[Path, typer.Option(help="Where to save the scorer (JSON).")],
) -> None:
    """Fit the probability that MODEL's answer is good enough, from its (prompt, answer)
    outcomes; a cascade uses it as `scorer: learned:PATH`."""
    from llmrouter.evaluation.learn.outcomes import read_outcomes
    from llmrouter.evaluation.learn.train import train_scorer as fit

    summary = fit(read_outcomes(outcomes), model, out)
    typer.echo(f"scorer: {summary.path} ({model}; {summary.examples} answers)", err=True)


@app.command()
def route(
    router: RouterOption,
    prompts: Annotated[Path, typer.Option(help="JSON Lines: prompt_id, prompt, task?.")],
    cost_weight: CostWeightOption = None,
    quality_target: QualityOption = None,
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """The model the router picks for each prompt, with its predicted score and cost."""
    from llmrouter.router.learned import load_learned_router

    if cost_weight is not None and quality_target is not None:
        raise LLMRouterError("give --cost-weight or --quality-target, not both")
    learned = load_learned_router(router)
    lines = []
    for number, raw in _read_prompts(prompts):
        task = raw.get("task")
        choice = learned.choose(
            str(raw["prompt"]),
            task if isinstance(task, str) else None,
            cost_weight=cost_weight,
            quality_target=quality_target,
        )
        lines.append(
            orjson.dumps(
                {
                    "prompt_id": raw.get("prompt_id", str(number)),
                    "model": choice.model,
                    "predicted_score": round(choice.predicted_score, 6),
                    "predicted_cost_usd": choice.predicted_cost_usd,
                }
            )
        )
    data = b"".join(line + b"\n" for line in lines)
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        try:
            out.write_bytes(data)
        except OSError as exc:
            raise LLMRouterError(f"cannot write {out}: {exc.strerror}") from None


def _read_prompts(path: Path) -> list[tuple[int, dict[str, object]]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LLMRouterError(f"cannot read prompts {path}: {exc.strerror}") from None
    rows = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise LLMRouterError(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(raw, dict) or not isinstance(raw.get("prompt"), str):
            raise LLMRouterError(f"{path}:{number}: a line needs a string `prompt`")
        if raw.get("task") is not None and not isinstance(raw["task"], str):
            raise LLMRouterError(f"{path}:{number}: `task` must be a string")
        rows.append((number, raw))
    return rows


@app.command()
def evaluate(
    router: RouterOption,
    outcomes: Annotated[Path, typer.Option(help="Held-out outcomes to evaluate on.")],
    train: Annotated[
        Path | None,
        typer.Option(help="The training outcomes, for the per-task prior and TF-IDF + LR."),
    ] = None,
    scorer: Annotated[
        Path | None, typer.Option(help="A cascade scorer: adds the cascade's curve.")
    ] = None,
    plot: Annotated[Path | None, typer.Option(help="Also write the chart to this PNG.")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the full evaluation as JSON.")
    ] = None,
) -> None:
    """Sweep the cost knob on held-out outcomes: AIQ, APGR, CPT against the baselines."""
    from llmrouter.evaluation.learn.evaluate import evaluate as run
    from llmrouter.evaluation.learn.outcomes import read_outcomes
    from llmrouter.evaluation.learn.report import render_table
    from llmrouter.router.learned import load_learned_router, load_learned_scorer

    evaluation = run(
        load_learned_router(router),
        read_outcomes(outcomes),
        train=read_outcomes(train) if train is not None else None,
        scorer=load_learned_scorer(scorer) if scorer is not None else None,
    )
    typer.echo(render_table(evaluation))
    if json_out is not None:
        try:
            json_out.write_bytes(orjson.dumps(evaluation.to_json(), option=orjson.OPT_INDENT_2))
        except OSError as exc:
            raise LLMRouterError(f"cannot write {json_out}: {exc.strerror}") from None
        typer.echo(f"evaluation: {json_out}", err=True)
    if plot is not None:
        from llmrouter.evaluation.learn.plot import plot_evaluation

        typer.echo(f"chart: {plot_evaluation(evaluation, plot)}", err=True)
