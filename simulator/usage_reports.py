"""The providers' organization usage and cost reports, served from the call journal.

| route | does |
| --- | --- |
| `GET /v1/organization/usage/completions` | OpenAI: tokens per day (and model) |
| `GET /v1/organization/costs` | OpenAI: dollars per day (and line item) |
| `GET /v1/organizations/usage_report/messages` | Anthropic Admin API: tokens per day (and model) |
| `GET /v1/organizations/cost_report` | Anthropic Admin API: cents per day (and description) |

The shapes follow the providers' documented responses, reduced to what the simulator can
know (no projects, workspaces, API keys or tools): OpenAI takes `start_time` / `end_time`
(Unix seconds), `bucket_width=1d`, `group_by=model` (usage) or `group_by=line_item`
(costs), `limit` (buckets, default 7, at most 31) and `page`; its usage results carry
`input_tokens` (cached included), `input_cached_tokens`, `output_tokens` and
`num_model_requests`, its cost results `amount: {value, currency: "usd"}`. Anthropic takes
`starting_at` / `ending_at` (RFC 3339), `bucket_width=1d`, `group_by[]=model` (usage) or
`group_by[]=description` (costs), `limit` and `page`; its usage results carry
`uncached_input_tokens`, `cache_read_input_tokens`, `cache_creation`
{`ephemeral_5m_input_tokens`, `ephemeral_1h_input_tokens`} and `output_tokens`, its cost
results `amount` in cents as a decimal string, `currency: "USD"`. Simplifications: one
cost line per model and day (OpenAI `line_item` is the model id; Anthropic `description`
is "<model> Usage", `token_type` null); days are UTC; only answered calls (`ok`) bill.

Dollars are genai-prices' prices of each call's token classes (its bundled snapshot); a
model it does not know bills 0. The reports see the calls the journal still keeps
(`SimConfig.journal_size`). Every route needs a key (`Authorization: Bearer` for OpenAI,
`x-api-key` for Anthropic); `sk-sim-invalid` and a missing key get a 401.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from llmrouter.simulator import transport
from llmrouter.simulator.engine import INVALID_KEY, Engine, api_key_of
from llmrouter.simulator.journal import CallRecord, CallUsage
from llmrouter.simulator.keys import ENGINE

__all__ = ["add_routes", "call_cost_usd"]

_DAY_S = 86_400
_DEFAULT_BUCKETS = 7
_MAX_BUCKETS = 31
_LIBRARY_PROVIDER = {"openai": "openai", "anthropic": "anthropic"}


class _BadQuery(ValueError):
    pass


@functools.cache
def _priced(provider: str, model: str) -> bool:
    from genai_prices import data_snapshot

    try:
        data_snapshot.get_snapshot().find_provider_model(model, None, provider, None)
    except LookupError:
        return False
    return True


def call_cost_usd(api: str, model: str, usage: CallUsage, at: datetime) -> Decimal:
    """genai-prices' price of one answered call (0 for a model it does not know)."""
    import genai_prices

    provider = _LIBRARY_PROVIDER[api]
    if not _priced(provider, model):
        return Decimal(0)
    library_usage = genai_prices.Usage(
        input_tokens=usage.input_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_5m_tokens + usage.cache_write_1h_tokens,
        cache_write_1h_tokens=usage.cache_write_1h_tokens,
        output_tokens=usage.output_tokens,
    )
    calc = genai_prices.calc_price(
        library_usage, model, provider_id=provider, genai_request_timestamp=at
    )
    return calc.total_price


@dataclass
class _Totals:
    requests: int = 0
    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = field(default_factory=lambda: Decimal(0))

    def add(self, record: CallRecord, usage: CallUsage) -> None:
        self.requests += 1
        self.input_tokens += usage.input_tokens
        self.cache_read_tokens += usage.cache_read_tokens
        self.cache_write_5m_tokens += usage.cache_write_5m_tokens
        self.cache_write_1h_tokens += usage.cache_write_1h_tokens
        self.output_tokens += usage.output_tokens
        at = datetime.fromtimestamp(record.wall_at, tz=UTC)
        self.cost_usd += call_cost_usd(record.api, record.model, usage, at)

    @property
    def uncached_input_tokens(self) -> int:
        return (
            self.input_tokens
            - self.cache_read_tokens
            - self.cache_write_5m_tokens
            - self.cache_write_1h_tokens
        )


@dataclass(frozen=True)
class _Window:
    """Whole UTC days from `start` (inclusive) to `end` (exclusive), one page of them."""

    days: list[int]  # Unix seconds of each bucket's start
    next_page: int | None


def _window(start_s: int, end_s: int | None, limit: int, page: str | None) -> _Window:
    first = start_s - start_s % _DAY_S
    if page is not None:
        try:
            first = int(page.removeprefix("page_"))
        except ValueError as exc:
            raise _BadQuery(f"invalid page token {page!r}") from exc
    now = int(datetime.now(tz=UTC).timestamp())
    last = end_s if end_s is not None else now - now % _DAY_S + _DAY_S
    days = list(range(first, last, _DAY_S))
    if not 1 <= limit <= _MAX_BUCKETS:
        raise _BadQuery(f"limit must be between 1 and {_MAX_BUCKETS}")
    more = len(days) > limit
    return _Window(days[:limit], days[limit] if more else None)


def _grouped(
    records: Iterable[CallRecord], api: str, days: list[int], by_model: bool
) -> dict[int, dict[str | None, _Totals]]:
    buckets: dict[int, dict[str | None, _Totals]] = {day: defaultdict(_Totals) for day in days}
    for record in records:
        if record.api != api or record.usage is None:
            continue
        day = int(record.wall_at) - int(record.wall_at) % _DAY_S
        if day in buckets:
            buckets[day][record.model if by_model else None].add(record, record.usage)
    return buckets


def _authorized(request: web.Request) -> bool:
    key = api_key_of(request.headers)
    return bool(key) and key != INVALID_KEY


def _int(request: web.Request, name: str, default: int | None = None) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise _BadQuery(f"{name} must be an integer, got {raw!r}") from exc


def _rfc3339(request: web.Request, name: str, *, required: bool) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        if required:
            raise _BadQuery(f"{name}: Field required")
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _BadQuery(f"{name}: invalid RFC 3339 timestamp {raw!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _group_by(request: web.Request, *names: str) -> set[str]:
    values: set[str] = set()
    for name in names:
        for raw in request.query.getall(name, []):
            values.update(part for part in raw.split(",") if part)
    return values


# -- OpenAI ------------------------------------------------------------------------------


def _openai_error(status: int, message: str) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None}}
    return transport.json_response(body, status)


def _openai_report(
    row: Callable[[str | None, _Totals], dict[str, Any]], group: str
) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.Response:
        if not _authorized(request):
            return _openai_error(401, "Incorrect API key provided.")
        engine: Engine = request.app[ENGINE]
        try:
            if request.query.get("bucket_width", "1d") != "1d":
                raise _BadQuery("the simulator serves bucket_width=1d only")
            start = _int(request, "start_time")
            if start is None:
                raise _BadQuery("Missing required parameter: 'start_time'.")
            window = _window(
                start,
                _int(request, "end_time"),
                _int(request, "limit", _DEFAULT_BUCKETS) or _DEFAULT_BUCKETS,
                request.query.get("page"),
            )
        except _BadQuery as exc:
            return _openai_error(400, str(exc))
        by_model = group in _group_by(request, "group_by", "group_by[]")
        buckets = _grouped(engine.journal.calls(), "openai", window.days, by_model)
        data = [
            {
                "object": "bucket",
                "start_time": day,
                "end_time": day + _DAY_S,
                "results": [
                    row(model, totals) for model, totals in sorted(buckets[day].items(), key=_key)
                ],
            }
            for day in window.days
        ]
        body = {
            "object": "page",
            "data": data,
            "has_more": window.next_page is not None,
            "next_page": f"page_{window.next_page}" if window.next_page is not None else None,
        }
        return transport.json_response(body)

    return handler


def _key(item: tuple[str | None, _Totals]) -> str:
    return item[0] or ""


def _openai_usage_row(model: str | None, totals: _Totals) -> dict[str, Any]:
    return {
        "object": "organization.usage.completions.result",
        "input_tokens": totals.input_tokens,
        "input_cached_tokens": totals.cache_read_tokens,
        "output_tokens": totals.output_tokens,
        "input_audio_tokens": 0,
        "output_audio_tokens": 0,
        "num_model_requests": totals.requests,
        "project_id": None,
        "user_id": None,
        "api_key_id": None,
        "model": model,
        "batch": None,
    }


def _openai_cost_row(model: str | None, totals: _Totals) -> dict[str, Any]:
    return {
        "object": "organization.costs.result",
        "amount": {"value": float(totals.cost_usd), "currency": "usd"},
        "line_item": model,
        "project_id": None,
    }


# -- Anthropic ---------------------------------------------------------------------------


def _anthropic_error(status: int, type_: str, message: str) -> web.Response:
    body = {"type": "error", "error": {"type": type_, "message": message}}
    return transport.json_response(body, status)


def _anthropic_report(
    row: Callable[[str | None, _Totals], dict[str, Any]], group: str
) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.Response:
        if not _authorized(request):
            return _anthropic_error(401, "authentication_error", "invalid x-api-key")
        engine: Engine = request.app[ENGINE]
        try:
            if request.query.get("bucket_width", "1d") != "1d":
                raise _BadQuery("the simulator serves bucket_width=1d only")
            window = _window(
                _rfc3339(request, "starting_at", required=True) or 0,
                _rfc3339(request, "ending_at", required=False),
                _int(request, "limit", _DEFAULT_BUCKETS) or _DEFAULT_BUCKETS,
                request.query.get("page"),
            )
        except _BadQuery as exc:
            return _anthropic_error(400, "invalid_request_error", str(exc))
        by_model = group in _group_by(request, "group_by[]", "group_by")
        buckets = _grouped(engine.journal.calls(), "anthropic", window.days, by_model)
        data = [
            {
                "starting_at": _iso(day),
                "ending_at": _iso(day + _DAY_S),
                "results": [
                    row(model, totals) for model, totals in sorted(buckets[day].items(), key=_key)
                ],
            }
            for day in window.days
        ]
        body = {
            "data": data,
            "has_more": window.next_page is not None,
            "next_page": f"page_{window.next_page}" if window.next_page is not None else None,
        }
        return transport.json_response(body)

    return handler


def _anthropic_usage_row(model: str | None, totals: _Totals) -> dict[str, Any]:
    return {
        "uncached_input_tokens": totals.uncached_input_tokens,
        "cache_read_input_tokens": totals.cache_read_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": totals.cache_write_5m_tokens,
            "ephemeral_1h_input_tokens": totals.cache_write_1h_tokens,
        },
        "output_tokens": totals.output_tokens,
        "server_tool_use": {"web_search_requests": 0},
        "api_key_id": None,
        "workspace_id": None,
        "model": model,
        "service_tier": None,
        "context_window": None,
    }


def _anthropic_cost_row(model: str | None, totals: _Totals) -> dict[str, Any]:
    cents = totals.cost_usd * 100
    return {
        "currency": "USD",
        "amount": f"{cents.normalize():f}" if cents else "0",
        "workspace_id": None,
        "description": f"{model} Usage" if model else None,
        "cost_type": "tokens" if model else None,
        "context_window": None,
        "model": model,
        "service_tier": "standard" if model else None,
        "token_type": None,
    }


def add_routes(app: web.Application) -> None:
    app.router.add_get(
        "/v1/organization/usage/completions", _openai_report(_openai_usage_row, "model")
    )
    app.router.add_get("/v1/organization/costs", _openai_report(_openai_cost_row, "line_item"))
    app.router.add_get(
        "/v1/organizations/usage_report/messages",
        _anthropic_report(_anthropic_usage_row, "model"),
    )
    app.router.add_get(
        "/v1/organizations/cost_report", _anthropic_report(_anthropic_cost_row, "description")
    )
