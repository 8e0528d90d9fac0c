"""`llmrouter report` on the real broker: volumes, costs that agree with the results and
with llm.costs, and the machine-readable forms."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import orjson
import typer
from typer.testing import CliRunner

from llmrouter.cli import ops_commands
from llmrouter.core.stats import percentile
from llmrouter.operations.report import ReportWindow, build_report, collect
from llmrouter.operations.report_output import CSV_COLUMNS, plot_report, to_csv, to_json
from llmrouter.producers import RequestProducer
from llmrouter.schemas import LLMResult, results_topic
from tests.operations.conftest import Pipeline, read_topic

MakePipeline = Callable[..., Awaitable[Pipeline]]


async def workload(p: Pipeline) -> dict[str, list[LLMResult]]:
    """A few requests of each task through the real workers; their results by task."""
    sent: dict[str, list[str]] = {task: [] for task in p.tasks.values()}
    await p.start()
    async with RequestProducer.from_env(p.bootstrap) as producer:
        for i in range(4):
            qa, mod, summ = p.tasks["qa"], p.tasks["mod"], p.tasks["summ"]
            sent[qa].append(await producer.submit(qa, f"how do I log in {i}?"))
            sent[qa].append(await producer.submit(qa, f"I was charged twice, refund {i}"))
            label = "ok" if i % 2 else "unsafe"
            sent[mod].append(
                await producer.submit(mod, f"unsure post {i}", metadata={"label": label})
            )
            sent[summ].append(await producer.submit(summ, f"summarise email {i}"))
    wanted = {rid for ids in sent.values() for rid in ids}
    results = await read_topic(
        p.bootstrap,
        [results_topic(t) for t in sent],
        LLMResult,
        until=lambda rs: wanted <= {r.request_id for r in rs},
    )
    await p.stop_all()
    return {task: [r for r in results if r.task == task] for task in sent}


async def test_report_volumes_and_costs_match_the_results(
    pipeline: MakePipeline, tmp_path: Path
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    p = await pipeline()
    by_task = await workload(p)
    window = ReportWindow(since=since, tasks=tuple(sorted(p.tasks.values())))

    report = build_report(await collect(p.kafka, window), p.config, window)

    assert report.warnings == [], "llm.costs agrees with the results"
    volumes = {t.task: t.requests for t in report.tasks}
    assert volumes == {task: len(results) for task, results in by_task.items()}
    for task in report.tasks:
        assert task.cost_usd == sum(r.cost_usd for r in by_task[task.task])
        assert task.per_day is not None
        assert task.per_day > task.requests
        assert task.baseline_model == "big"
    everything = [r for results in by_task.values() for r in results]
    total = sum((r.cost_usd for r in everything), Decimal(0))
    assert report.summary.total_cost_usd == total
    assert sum(s.cost_events_usd for s in report.spend) == total
    assert all(s.difference_usd == 0 for s in report.spend)
    mod = by_task[p.tasks["mod"]]
    mod_rows = [r for r in report.rows if r.task == p.tasks["mod"]]
    assert sum(r.escalations for r in mod_rows) == sum(r.escalated for r in mod)
    quality = next(t.quality for t in report.tasks if t.task == p.tasks["mod"])
    assert quality is not None
    assert quality.metric == "accuracy"
    assert quality.scored == len(mod)

    document = orjson.loads(to_json(report))
    assert Decimal(document["totals"]["cost_usd"]) == total
    assert {t["task"]: t["requests"] for t in document["tasks"]} == volumes
    assert all(t["quality_impact"] is None for t in document["tasks"])
    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    assert list(rows[0]) == CSV_COLUMNS
    assert sum(Decimal(r["cost_usd"]) for r in rows) == total
    assert sum(int(r["requests"]) for r in rows) == len(everything)
    assert plot_report(report, tmp_path / "report.png").stat().st_size > 0


async def test_report_command_prints_json_and_csv(pipeline: MakePipeline, tmp_path: Path) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    p = await pipeline()
    by_task = await workload(p)
    config = tmp_path / "config.yaml"
    config.write_text(p.config_text, encoding="utf-8")
    app = typer.Typer()
    app.command()(ops_commands.report)
    app.command()(ops_commands.replay)  # a second command keeps `report` a subcommand
    args = ["report", "--since", since.isoformat(), "--config", str(config)]
    for task in p.tasks.values():
        args += ["--task", task]
    env = {"KAFKA_BOOTSTRAP_SERVERS": p.bootstrap}

    def run(*extra: str) -> str:
        result = CliRunner().invoke(app, [*args, *extra], env=env)
        assert result.exit_code == 0, result.output
        return result.stdout

    # Each invocation runs its own event loop, so off this test's loop.
    as_json = orjson.loads(await asyncio.to_thread(run, "--format", "json"))
    as_csv = list(csv.DictReader(io.StringIO(await asyncio.to_thread(run, "--format", "csv"))))
    table = await asyncio.to_thread(run)

    assert as_json["totals"]["requests"] == sum(len(r) for r in by_task.values())
    assert {r["task"] for r in as_csv} == set(p.tasks.values())
    assert "Daily savings" in table
    assert p.tasks["qa"] in table
    bad = CliRunner().invoke(app, [*args, "--format", "xml"], env=env)
    assert bad.exit_code != 0


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 95) == 95.0
    assert percentile(values, 50) == 50.0
    assert percentile(values, 100) == 100.0
    assert percentile(values, 7) == 7.0
    assert percentile([3.0], 95) == 3.0
    assert percentile([], 95) is None
