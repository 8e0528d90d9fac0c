"""`llmrouter prices` and `llmrouter reconcile` end to end: cost events on a real broker,
the provider's reports from a file or fetched from the simulator through the CLI."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest

from llmrouter import cli
from llmrouter.router.config_catalog import ModelSpec
from llmrouter.router.pricing import UsageClasses, library_label, price_call
from llmrouter.schemas import dumps, encode
from llmrouter.schemas.costs import CostEvent
from llmrouter.schemas.enums import AttemptOutcome
from llmrouter.simulator import SimConfig, running
from tests.factories import catalog, routing_config, static_route
from tests.kafka_helpers import MakeProducer, MakeTopics

ADMIN_KEY = "sk-admin-secret-5e1f"
LONG_SYSTEM = "You are a meticulous support assistant. " * 150


def _event(model_version: str, usd: Decimal, **tokens: int) -> CostEvent:
    return CostEvent(
        request_id=f"r-{uuid.uuid4().hex[:8]}",
        task="qa",
        attempt=0,
        model="catalog-name",
        model_version=model_version,
        provider="openai",
        input_tokens=tokens.get("input", 0),
        output_tokens=tokens.get("output", 0),
        cache_read_tokens=tokens.get("read", 0),
        reasoning_tokens=tokens.get("reasoning", 0),
        cost_usd=usd,
        cached=False,
        outcome=AttemptOutcome.OK,
        price_source=library_label(),
    )


async def _publish(make_producer: MakeProducer, topic: str, events: list[CostEvent]) -> None:
    producer = await make_producer()
    for event in events:
        await producer.send_and_wait(topic, encode(event))


async def _run(args: list[str]) -> int:
    return await asyncio.to_thread(cli.run, args)


def _today_start() -> int:
    now = int(datetime.now(tz=UTC).timestamp())
    return now - now % 86_400


def _usage_file(path: Path, rows: dict[str, tuple[int, int, int, float]]) -> Path:
    """An OpenAI usage + cost report for today: model -> (input, cached, output, usd)."""
    day = _today_start()
    usage = {
        "object": "page",
        "data": [
            {
                "start_time": day,
                "end_time": day + 86_400,
                "results": [
                    {"model": m, "input_tokens": i, "input_cached_tokens": c, "output_tokens": o}
                    for m, (i, c, o, _) in rows.items()
                ],
            }
        ],
    }
    costs = {
        "object": "page",
        "data": [
            {
                "start_time": day,
                "results": [
                    {"line_item": f"{m}, input", "amount": {"value": usd, "currency": "usd"}}
                    for m, (_, _, _, usd) in rows.items()
                ],
            }
        ],
    }
    path.write_bytes(dumps({"usage": usage, "costs": costs}))
    return path


async def test_reconcile_a_usage_file_equal_then_one_model_ten_percent_off(
    kafka_bootstrap: str,
    make_topics: MakeTopics,
    make_producer: MakeProducer,
    unique_name: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    [topic] = await make_topics(unique_name("costs"))
    a, b = unique_name("model-a"), unique_name("model-b")
    await _publish(
        make_producer,
        topic,
        [
            _event(a, Decimal("3.0"), input=600_000, read=100_000, output=50_000),
            _event(a, Decimal("2.0"), input=400_000, output=50_000),
            _event(b, Decimal("7.5"), input=2_000_000, output=100_000),
        ],
    )
    base = ["reconcile", "--provider", "openai", "--costs-topic", topic]
    base += ["--bootstrap-servers", kafka_bootstrap, "--model", a, "--model", b]
    equal = _usage_file(
        tmp_path / "equal.json",
        {a: (1_000_000, 100_000, 100_000, 5.0), b: (2_000_000, 0, 100_000, 7.5)},
    )
    assert await _run([*base, "--usage-file", str(equal)]) == 0
    out = capsys.readouterr().out
    assert "every figure agrees" in out
    assert a in out
    assert b in out

    off = _usage_file(
        tmp_path / "off.json",
        {a: (1_000_000, 100_000, 100_000, 5.0), b: (2_000_000, 0, 100_000, 6.75)},
    )
    assert await _run([*base, "--usage-file", str(off)]) == 1
    out = capsys.readouterr().out
    mismatches = [line for line in out.splitlines() if line.startswith("mismatch:")]
    assert len(mismatches) == 1
    assert b in mismatches[0]
    assert "usd ours 7.5 vs provider 6.75" in mismatches[0]
    assert a not in mismatches[0]


async def test_reconcile_fetch_against_the_simulator(
    kafka_bootstrap: str,
    make_topics: MakeTopics,
    make_producer: MakeProducer,
    unique_name: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    [topic] = await make_topics(unique_name("costs"))
    model_id = "gpt-4o-2024-08-06"
    spec = ModelSpec.model_validate({"provider": "openai", "model_id": model_id})
    async with running(SimConfig(latency_ms=0)) as url:
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="sk-test", max_retries=0)
        events = []
        for question in ("How do I reset my password?", "How do I reset my password?", "Hi"):
            resp = await client.chat.completions.create(
                model=model_id,
                messages=[
                    {"role": "system", "content": LONG_SYSTEM},
                    {"role": "user", "content": question},
                ],
            )
            usage = resp.usage
            assert usage is not None
            assert usage.prompt_tokens_details is not None
            classes = UsageClasses(
                input_tokens=usage.prompt_tokens,
                output_tokens=usage.completion_tokens,
                cache_read_tokens=usage.prompt_tokens_details.cached_tokens or 0,
            )
            cost, _ = price_call(spec, classes)
            events.append(
                _event(
                    model_id,
                    cost,
                    input=classes.input_tokens,
                    read=classes.cache_read_tokens,
                    output=classes.output_tokens,
                )
            )
        await client.close()
        assert sum(e.cache_read_tokens for e in events) > 0
        await _publish(make_producer, topic, events)
        monkeypatch.setenv("OPENAI_BASE_URL", f"{url}/v1")
        monkeypatch.setenv("OPENAI_ADMIN_KEY", ADMIN_KEY)
        args = ["reconcile", "--provider", "openai", "--fetch", "--costs-topic", topic]
        args += ["--bootstrap-servers", kafka_bootstrap, "--since", "1d"]
        assert await _run([*args, "--tolerance-usd", "0", "--tolerance-pct", "0.01"]) == 0
        captured = capsys.readouterr()
        assert model_id in captured.out
        assert "every figure agrees" in captured.out
        assert ADMIN_KEY not in captured.out + captured.err

        # one more call the router never recorded: the provider bills more than we did
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="sk-test", max_retries=0)
        await client.chat.completions.create(
            model=model_id, messages=[{"role": "user", "content": "unrecorded " * 3000}]
        )
        await client.close()
        assert await _run(args) == 1
        captured = capsys.readouterr()
        assert f"mismatch: {model_id}" in captured.out
        assert ADMIN_KEY not in captured.out + captured.err


async def test_reconcile_fetch_names_the_missing_key_and_hides_a_refused_one(
    sim_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", sim_url)
    monkeypatch.delenv("ANTHROPIC_ADMIN_KEY", raising=False)
    assert await _run(["reconcile", "--provider", "anthropic", "--fetch"]) == 1
    assert "ANTHROPIC_ADMIN_KEY" in capsys.readouterr().err
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", "sk-sim-invalid")
    assert await _run(["reconcile", "--provider", "anthropic", "--fetch"]) == 1
    err = capsys.readouterr().err
    assert "401" in err
    assert "sk-sim-invalid" not in err


async def test_reconcile_needs_exactly_one_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert await _run(["reconcile", "--provider", "openai"]) == 1
    assert "--usage-file" in capsys.readouterr().err


def test_prices_shows_sources_and_disagreements(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = catalog("cheap")
    models["sonnet"] = {"provider": "anthropic", "model_id": "claude-sonnet-4-5-20250929"}
    models["negotiated"] = {
        "provider": "openai",
        "model_id": "gpt-4o-2024-08-06",
        "prices": {"input_usd_per_1m": 2},
    }
    text = routing_config(models=models, tasks={"qa": static_route("sonnet")})
    path = tmp_path / "routing.yaml"
    path.write_text(text, encoding="utf-8")
    assert cli.run(["prices", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert library_label() in out
    sonnet = next(line for line in out.splitlines() if "sonnet" in line and "claude" in line)
    assert "3.75" in sonnet  # the 5-minute cache write, from the library
    assert "differs: negotiated input: config 2, genai-prices 2.5 per 1M tokens" in out
