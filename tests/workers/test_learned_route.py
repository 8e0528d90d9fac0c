"""A `strategy: learned` route through the real pipeline: a router trained on a synthetic
four-model outcome set serves requests on Kafka, and the prompts its ground truth makes
easy go to the cheaper models; the choice travels on the result and the cost events."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import orjson
import pytest

from llmrouter.core.errors import ConfigError
from llmrouter.evaluation.learn import synthetic as syn
from llmrouter.evaluation.learn.outcomes import read_outcomes
from llmrouter.evaluation.learn.train import train_router
from llmrouter.kafkaio.admin import ensure_topics
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.operations.report import ReportWindow, build_report, collect
from llmrouter.operations.report_output import to_json
from llmrouter.producers import RequestProducer
from llmrouter.router import RoutingEngine
from llmrouter.router.config_loader import parse_config
from llmrouter.schemas import COSTS_TOPIC, CostEvent, LLMResult, ResultStatus, results_topic
from llmrouter.schemas.topics import router_topics
from tests.factories import catalog, routing_config
from tests.workers.conftest import Pipeline, read_topic

pytestmark = pytest.mark.kafka

#: router model → catalog model
CATALOG = {"tiny": "nano", "small": "cheap", "medium": "mid", "large": "big"}


def learned_config(
    task: str, router: Path, cost_weight: float, models: Mapping[str, str] = CATALOG
) -> str:
    """A task routed by the learned router in `router`, its models mapped by `models`."""
    route = {
        "strategy": "learned",
        "router": str(router),
        "cost_weight": cost_weight,
        "models": dict(models),
        "fallback": ["big"],
    }
    return routing_config(
        defaults={
            "retry": {"base_delay_s": 0.01, "max_delay_s": 0.05},
            "cache": {"enabled": False},
        },
        models=catalog(*CATALOG.values()),
        tasks={task: {"route": route, "batch": {"strategy": "static", "model": "nano"}}},
    )


@pytest.fixture(scope="module")
def router_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("learned-route")
    outcomes = read_outcomes(syn.write(folder / "train.jsonl", 25, seed=11))
    return train_router(outcomes, folder / "router.json").path


@pytest.fixture
async def learned_pipeline(
    kafka_bootstrap: str, sim_url: str, router_file: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Pipeline]:
    monkeypatch.setenv("LLMROUTER_SIMULATOR_URL", sim_url)
    suffix = uuid.uuid4().hex[:10]
    task = f"assist-{suffix}"
    text = learned_config(task, router_file, syn.COST_WEIGHT)
    config = parse_config(text)
    await ensure_topics(kafka_bootstrap, router_topics(config.tasks, partitions=2))
    p = Pipeline(
        bootstrap=kafka_bootstrap,
        config=config,
        config_text=text,
        tasks={"assist": task},
        group_prefix=f"t{suffix}-",
        suffix=suffix,
        kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap),
    )
    try:
        yield p
    finally:
        await p.stop_all()


async def test_a_learned_route_sends_easy_prompts_to_cheaper_models(
    learned_pipeline: Pipeline,
) -> None:
    p = learned_pipeline
    task = p.tasks["assist"]
    await p.start()
    rng = random.Random(21)
    sent: dict[str, str] = {}
    async with RequestProducer.from_env(p.bootstrap) as producer:
        for family in syn.SCORES:
            for _ in range(4):
                sent[await producer.submit(task, syn.prompt(family, rng))] = family
        batch_id = await producer.submit(task, syn.prompt("proof", rng), priority="batch")
    results = await read_topic(
        p.bootstrap,
        [results_topic(task)],
        LLMResult,
        until=lambda rs: {*sent, batch_id} <= {r.request_id for r in rs},
    )
    by_id = {r.request_id: r for r in results}
    for request_id, family in sent.items():
        result = by_id[request_id]
        assert result.status is ResultStatus.OK, result.error
        expected = CATALOG[syn.CHEAPEST_GOOD[family]]
        assert (family, result.model) == (family, expected)
        assert result.learned_choice == expected
        assert result.route == f"learned:{expected}"
        assert result.predicted_score is not None
        assert 0.5 < result.predicted_score <= 1.0
    # The batch override composes with the learned route like with any other.
    assert by_id[batch_id].model == "nano"
    assert by_id[batch_id].learned_choice is None
    costs = await read_topic(
        p.bootstrap,
        [COSTS_TOPIC],
        CostEvent,
        until=lambda evs: set(sent) <= {e.request_id for e in evs},
    )
    picked = {e.request_id: e.learned_choice for e in costs if e.request_id in sent}
    assert picked == {rid: CATALOG[syn.CHEAPEST_GOOD[f]] for rid, f in sent.items()}
    # `llmrouter report` reads the topics back and shows how often each model was picked.
    report = build_report(
        await collect(p.kafka, ReportWindow(tasks=(task,))), p.config, ReportWindow(tasks=(task,))
    )
    shown = {(pick.model, pick.requests) for pick in report.learned}
    assert shown == {(CATALOG[m], 4) for m in syn.CHEAPEST_GOOD.values()}
    assert all(pick.share == 0.25 for pick in report.learned)
    assert sum(pick.cost_usd for pick in report.learned) == sum(by_id[rid].cost_usd for rid in sent)
    document = orjson.loads(to_json(report))
    assert {row["model"] for row in document["learned_picks"]} == set(CATALOG.values())


def test_a_route_that_does_not_map_every_router_model_stops_start_up(
    router_file: Path, tmp_path: Path
) -> None:
    text = learned_config("assist", router_file, 1.0, {"tiny": "nano", "large": "big"})
    with pytest.raises(ConfigError, match=r"tasks\.assist\.route\.models: .*small, medium"):
        RoutingEngine(parse_config(text))
    missing = learned_config("assist", tmp_path / "absent.json", 1.0)
    with pytest.raises(ConfigError, match=r"tasks\.assist\.route\.router: cannot read"):
        RoutingEngine(parse_config(missing))
