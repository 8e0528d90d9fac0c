"""Which worker reads a task's requests (router/paths.py), on the real broker: a task whose
routes need no complexity is answered by the router alone, and a task that changes path
(the `defaults.classifier_stage` setting, a route's strategy) is not read again from its
start by the group that takes it over."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable

import yaml

from llmrouter.producers import RequestProducer
from llmrouter.router.config_loader import parse_config
from llmrouter.schemas import LLMResult, ResultStatus, results_topic
from tests.workers.conftest import Pipeline, read_topic

MakePipeline = Callable[..., Awaitable[Pipeline]]


def _with_classifier_stage(p: Pipeline, stage: str) -> None:
    config = yaml.safe_load(p.config_text)
    config.setdefault("defaults", {})["classifier_stage"] = stage
    p.config_text = yaml.safe_dump(config, sort_keys=False)
    p.config = parse_config(p.config_text)


async def _submit(bootstrap: str, task: str, texts: list[str]) -> list[str]:
    async with RequestProducer.from_env(bootstrap) as producer:
        return [await producer.submit(task, text) for text in texts]


async def _results(p: Pipeline, task: str, ids: set[str]) -> list[LLMResult]:
    return await read_topic(
        p.bootstrap,
        [results_topic(task)],
        LLMResult,
        until=lambda rs: ids <= {r.request_id for r in rs},
    )


async def test_a_static_task_is_answered_without_a_classifier(pipeline: MakePipeline) -> None:
    p = await pipeline()
    summ = p.tasks["summ"]
    await p.start(kinds=["router"])  # no classifier runs at all
    ids = await _submit(p.bootstrap, summ, [f"summarise {i}" for i in range(5)])
    results = await _results(p, summ, set(ids))
    assert Counter(r.request_id for r in results) == Counter(ids)
    assert all(r.status is ResultStatus.OK for r in results)
    assert all(r.complexity is None for r in results)


async def test_a_task_changing_path_is_not_read_again(pipeline: MakePipeline) -> None:
    p = await pipeline()
    summ = p.tasks["summ"]
    every: list[str] = []

    # 1. Every task through the classifier: the classifier group commits summ's requests.
    _with_classifier_stage(p, "always")
    await p.start()
    every += await _submit(p.bootstrap, summ, [f"first {i}" for i in range(6)])
    await _results(p, summ, set(every))
    await p.stop_all()

    # 2. summ read by the router directly: it starts where the classifier group left off.
    _with_classifier_stage(p, "needed")
    await p.start(kinds=["router"])
    every += await _submit(p.bootstrap, summ, [f"second {i}" for i in range(6)])
    await _results(p, summ, set(every))
    await p.stop_all()

    # 3. Back through the classifier: it starts where the router group left off.
    _with_classifier_stage(p, "always")
    await p.start()
    every += await _submit(p.bootstrap, summ, [f"third {i}" for i in range(6)])
    results = await _results(p, summ, set(every))

    # one result each: no request was answered again by the group that took the path over
    assert Counter(r.request_id for r in results) == Counter(every)
    assert not any(r.duplicate for r in results)
