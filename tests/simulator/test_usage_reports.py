"""The providers' usage and cost report endpoints, served from the call journal."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import anthropic
import genai_prices
import openai

from llmrouter.simulator import estimate_tokens

LONG_SYSTEM = "You are a meticulous support assistant. " * 150
QUESTION = "How do I reset my password?"
_OPENAI_ADMIN = {"Authorization": "Bearer sk-admin-test"}
_ANTHROPIC_ADMIN = {"x-api-key": "sk-ant-admin-test", "anthropic-version": "2023-06-01"}


def _today_start() -> int:
    now = int(datetime.now(tz=UTC).timestamp())
    return now - now % 86_400


async def _get(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str], params: Any
) -> tuple[int, Any]:
    async with http.get(url, headers=headers, params=params) as resp:
        return resp.status, await resp.json()


async def test_openai_usage_and_costs_per_model_and_day(
    oai: openai.AsyncOpenAI, sim_url: str, http: aiohttp.ClientSession
) -> None:
    messages = [{"role": "system", "content": LONG_SYSTEM}, {"role": "user", "content": QUESTION}]
    replies = [
        await oai.chat.completions.create(model="gpt-4o-2024-08-06", messages=messages)  # type: ignore[arg-type]
        for _ in range(2)
    ]
    await oai.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": QUESTION}]
    )
    # a failed call bills nothing
    with contextlib.suppress(openai.InternalServerError):
        await oai.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": QUESTION}],
            extra_headers={"x-sim-fault": "500"},
        )
    params = [("start_time", str(_today_start())), ("bucket_width", "1d"), ("group_by", "model")]
    status, usage = await _get(
        http, f"{sim_url}/v1/organization/usage/completions", _OPENAI_ADMIN, params
    )
    assert status == 200
    assert usage["object"] == "page"
    [bucket] = usage["data"]
    assert bucket["start_time"] == _today_start()
    rows = {row["model"]: row for row in bucket["results"]}
    assert set(rows) == {"gpt-4o-2024-08-06", "gpt-4o-mini"}
    big = rows["gpt-4o-2024-08-06"]
    assert big["num_model_requests"] == 2
    assert big["input_tokens"] == sum(r.usage.prompt_tokens for r in replies if r.usage)
    second = replies[1].usage
    assert second is not None
    assert second.prompt_tokens_details is not None
    cached = second.prompt_tokens_details.cached_tokens or 0
    assert cached > 0
    assert big["input_cached_tokens"] == cached
    assert big["output_tokens"] == sum(r.usage.completion_tokens for r in replies if r.usage)
    assert rows["gpt-4o-mini"]["num_model_requests"] == 1

    cost_params = [("start_time", str(_today_start())), ("group_by", "line_item")]
    status, costs = await _get(http, f"{sim_url}/v1/organization/costs", _OPENAI_ADMIN, cost_params)
    assert status == 200
    [cost_bucket] = costs["data"]
    lines = {row["line_item"]: row["amount"] for row in cost_bucket["results"]}
    expected = sum(
        genai_prices.calc_price(
            genai_prices.Usage(
                input_tokens=big_usage.prompt_tokens,
                cache_read_tokens=big_usage.prompt_tokens_details.cached_tokens or 0,
                output_tokens=big_usage.completion_tokens,
            ),
            "gpt-4o-2024-08-06",
            provider_id="openai",
        ).total_price
        for big_usage in (r.usage for r in replies)
        if big_usage is not None and big_usage.prompt_tokens_details is not None
    )
    assert lines["gpt-4o-2024-08-06"]["currency"] == "usd"
    assert Decimal(str(lines["gpt-4o-2024-08-06"]["value"])) == Decimal(str(float(expected)))


async def test_anthropic_usage_and_cost_reports(
    anth: anthropic.AsyncAnthropic, sim_url: str, http: aiohttp.ClientSession
) -> None:
    system = [{"type": "text", "text": LONG_SYSTEM, "cache_control": {"type": "ephemeral"}}]
    model = "claude-sonnet-4-5-20250929"
    replies = [
        await anth.messages.create(
            model=model,
            max_tokens=200,
            system=system,  # type: ignore[arg-type]
            messages=[{"role": "user", "content": QUESTION}],
        )
        for _ in range(2)
    ]
    starting_at = datetime.fromtimestamp(_today_start(), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    params = [("starting_at", starting_at), ("bucket_width", "1d"), ("group_by[]", "model")]
    status, usage = await _get(
        http, f"{sim_url}/v1/organizations/usage_report/messages", _ANTHROPIC_ADMIN, params
    )
    assert status == 200
    [bucket] = usage["data"]
    assert bucket["starting_at"] == starting_at
    [row] = bucket["results"]
    assert row["model"] == model
    cached = estimate_tokens(LONG_SYSTEM)
    assert row["cache_creation"] == {
        "ephemeral_5m_input_tokens": cached,
        "ephemeral_1h_input_tokens": 0,
    }
    assert row["cache_read_input_tokens"] == cached
    assert row["uncached_input_tokens"] == sum(r.usage.input_tokens for r in replies)
    assert row["output_tokens"] == sum(r.usage.output_tokens for r in replies)

    cost_params = [("starting_at", starting_at), ("group_by[]", "description")]
    status, costs = await _get(
        http, f"{sim_url}/v1/organizations/cost_report", _ANTHROPIC_ADMIN, cost_params
    )
    assert status == 200
    [cost_row] = costs["data"][0]["results"]
    assert cost_row["model"] == model
    assert cost_row["currency"] == "USD"
    expected_usd = sum(
        genai_prices.calc_price(
            genai_prices.Usage(
                input_tokens=r.usage.input_tokens
                + (r.usage.cache_read_input_tokens or 0)
                + (r.usage.cache_creation_input_tokens or 0),
                cache_read_tokens=r.usage.cache_read_input_tokens or 0,
                cache_write_tokens=r.usage.cache_creation_input_tokens or 0,
                output_tokens=r.usage.output_tokens,
            ),
            model,
            provider_id="anthropic",
        ).total_price
        for r in replies
    )
    # cents, as a decimal string
    assert Decimal(cost_row["amount"]) == expected_usd * 100


async def test_report_endpoints_need_a_key_and_a_start(
    sim_url: str, http: aiohttp.ClientSession
) -> None:
    start = [("start_time", str(_today_start()))]
    status, _ = await _get(http, f"{sim_url}/v1/organization/usage/completions", {}, start)
    assert status == 401
    status, body = await _get(
        http, f"{sim_url}/v1/organization/usage/completions", _OPENAI_ADMIN, []
    )
    assert status == 400
    assert "start_time" in body["error"]["message"]
    status, body = await _get(
        http, f"{sim_url}/v1/organizations/cost_report", {"x-api-key": "sk-sim-invalid"}, []
    )
    assert status == 401
    assert body["error"]["type"] == "authentication_error"


async def test_buckets_page_by_limit(sim_url: str, http: aiohttp.ClientSession) -> None:
    ten_days_ago = _today_start() - 9 * 86_400
    params = [("start_time", str(ten_days_ago)), ("limit", "7")]
    status, page = await _get(
        http, f"{sim_url}/v1/organization/usage/completions", _OPENAI_ADMIN, params
    )
    assert status == 200
    assert len(page["data"]) == 7
    assert page["has_more"] is True
    status, rest = await _get(
        http,
        f"{sim_url}/v1/organization/usage/completions",
        _OPENAI_ADMIN,
        [*params, ("page", page["next_page"])],
    )
    assert status == 200
    assert [b["start_time"] for b in rest["data"]] == [
        ten_days_ago + d * 86_400 for d in range(7, 10)
    ]
    assert rest["has_more"] is False
