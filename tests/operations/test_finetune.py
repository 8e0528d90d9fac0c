"""export-finetune: a teacher model's answers joined with their requests, in chat format."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson

from llmrouter.operations.finetune import export_finetune
from llmrouter.producers import RequestProducer
from tests.workers.conftest import Pipeline

MakePipeline = Callable[..., Awaitable[Pipeline]]


async def test_export_joins_answers_with_their_requests(
    pipeline: MakePipeline, tmp_path: Path
) -> None:
    p = await pipeline()
    await p.start()
    summ = p.tasks["summ"]
    async with RequestProducer.from_env(p.bootstrap) as producer:
        results = [
            await producer.submit_and_wait(summ, f"Email number {i} to summarise", timeout_s=60)
            for i in range(4)
        ]
        await producer.submit_and_wait(summ, "fails [[sim:fault=auth]]", timeout_s=60)
    assert all(r.model == "cheap" for r in results)
    out = tmp_path / "ft" / "cheap.jsonl"
    outcome = await export_finetune(p.kafka, p.config, summ, "cheap", out)
    assert outcome.written == 4  # the failed request is left out
    assert outcome.results_seen == 5
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    by_output = {r.output: r for r in results}
    for row in rows:
        roles = [m["role"] for m in row["messages"]]
        assert roles[-2:] == ["user", "assistant"]
        assert "Email number" in row["messages"][-2]["content"]
        assert row["messages"][-1]["content"] in by_output
    none = await export_finetune(p.kafka, p.config, summ, "big", tmp_path / "none.jsonl")
    assert none.written == 0
