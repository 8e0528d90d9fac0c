"""`llmrouter produce --wait` on the real broker: results on stdout, progress and the
summary on stderr, and --context/--priority reach the requests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from llmrouter.cli.produce import ProduceJob, produce_requests
from llmrouter.schemas import LLMResult, Priority, ResultStatus, decode
from tests.workers.conftest import Pipeline

pytestmark = pytest.mark.kafka


async def test_produce_wait_writes_results_to_stdout_and_a_summary_to_stderr(
    pipeline: Callable[..., Awaitable[Pipeline]],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    p = await pipeline()
    await p.start()
    summ = p.tasks["summ"]
    lines = tmp_path / "requests.jsonl"
    lines.write_text(
        '{"input": "Summarise: the meeting moved to Tuesday."}\n'
        '{"input": "Summarise: invoices are due Friday.", "priority": "realtime"}\n',
        encoding="utf-8",
    )
    job = ProduceJob(summ, file=lines, priority=Priority.BATCH, context={"audience": "ops"})
    code = await produce_requests(job, wait=True, timeout_s=60, bootstrap=p.bootstrap)
    out, err = capsys.readouterr()
    assert code == 0, err
    # stdout: the results as JSON lines (the in-process workers' own logs aside), no bars
    data = [line for line in out.splitlines() if line.startswith("{")]
    results = [decode(line, LLMResult) for line in data]
    assert "published" not in out
    assert len(results) == 2
    assert all(r.status is ResultStatus.OK for r in results)
    # the command line's --priority, unless the line sets its own
    assert [r.priority for r in results] == [Priority.BATCH, Priority.REALTIME]
    assert "published" in err  # the progress bars
    summary = err.strip().splitlines()[-1]
    assert summary.startswith("2 ok, 0 failed; models: ")
    assert "cheap ×2" in summary
    assert "cost $" in summary
