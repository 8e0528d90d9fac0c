"""`llmrouter reconcile`: what `llm.costs` says we spent, per provider model and UTC day,
against what the provider's own usage and cost reports say, class by class.

Our side: the cost events of `llm.costs` (read_committed, like `llmrouter report`) of one
provider, cache hits left out (no call was made), summed per UTC day of the event and
provider model id (`model_version`): input tokens (cache reads and writes included), cache
reads, cache writes, output tokens, and dollars. The provider's side: its daily usage
report grouped by model, and its daily cost report, either fetched from the provider's
admin endpoints (`fetch_reports`) or read from a file holding them (`load_reports`):

```json
{"usage": <a usage report page, or a list of pages>,
 "costs": <a cost report page, or a list of pages>}   # costs optional: tokens only
```

OpenAI: `GET /v1/organization/usage/completions?bucket_width=1d&group_by=model` and
`GET /v1/organization/costs?bucket_width=1d&group_by=line_item` (a line item
`"<model>, <class>"` or `"<model>"` is the model's; `amount.value` in dollars). Anthropic
(Admin API): `GET /v1/organizations/usage_report/messages?bucket_width=1d&group_by[]=model`
and `GET /v1/organizations/cost_report?bucket_width=1d&group_by[]=description` (`amount` in
cents, a decimal string). A difference beyond the tolerance — more than both
`tolerance_pct` of the provider's figure and, for dollars, `tolerance_usd` (for tokens,
one token) — is a mismatch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from llmrouter.core.errors import ConfigError, InvalidMessage, LLMRouterError
from llmrouter.kafkaio.reading import read_records, reader, time_spans, to_ms, topic_partitions
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.schemas import COSTS_TOPIC, CostEvent, decode, loads

__all__ = [
    "CLASSES",
    "Figures",
    "Line",
    "ReconcileProvider",
    "ReconcileWindow",
    "Reconciliation",
    "ReportError",
    "fetch_reports",
    "load_reports",
    "ours_from_events",
    "read_ours",
    "reconcile",
    "report_days",
    "summary_lines",
    "theirs_from_reports",
]

#: the compared classes, in the order shown
CLASSES = ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens", "usd")
_CENTS = Decimal(100)
_PAGE_LIMIT = 31
_MAX_PAGES = 100


class ReconcileProvider(StrEnum):
    OPENAI = "openai"
    ANTHROPIC = "anthropic"


class ReportError(LLMRouterError):
    """A provider report that cannot be read or fetched (the admin key is never named)."""


Key = tuple[date, str]


@dataclass
class Figures:
    """One side's totals for one model on one day."""

    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    usd: Decimal | None = field(default_factory=lambda: Decimal(0))

    def value(self, name: str) -> Decimal | None:
        if name == "usd":
            return self.usd
        return Decimal(getattr(self, name))


@dataclass(frozen=True)
class ReconcileWindow:
    since: datetime | None = None
    until: datetime | None = None

    def days(self, now: datetime | None = None) -> tuple[datetime, datetime]:
        """[start, end) of the provider reports: whole UTC days (default: the last 7)."""
        end = self.until or (now or datetime.now(UTC))
        start = self.since or end - timedelta(days=7)
        start = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return start, end


@dataclass(frozen=True)
class Line:
    day: date
    model: str
    name: str  # one of CLASSES
    ours: Decimal | None
    theirs: Decimal | None
    mismatch: bool

    @property
    def difference(self) -> Decimal | None:
        if self.ours is None or self.theirs is None:
            return None
        return self.ours - self.theirs


@dataclass(frozen=True)
class Reconciliation:
    lines: list[Line]

    @property
    def mismatches(self) -> list[Line]:
        return [line for line in self.lines if line.mismatch]

    @property
    def mismatched_models(self) -> list[tuple[date, str]]:
        return sorted({(line.day, line.model) for line in self.mismatches})


# -- our side ----------------------------------------------------------------------------


def ours_from_events(
    events: Iterable[CostEvent], provider: ReconcileProvider
) -> dict[Key, Figures]:
    """Our totals per (UTC day, provider model id) of one provider's calls."""
    out: dict[Key, Figures] = defaultdict(Figures)
    for event in events:
        if event.provider != provider.value or event.cached:
            continue
        figures = out[(event.ts.astimezone(UTC).date(), event.model_version or event.model)]
        figures.input_tokens += event.input_tokens
        figures.cache_read_tokens += event.cache_read_tokens
        figures.cache_write_tokens += event.cache_write_tokens
        figures.output_tokens += event.output_tokens
        figures.usd = (figures.usd or Decimal(0)) + event.cost_usd
    return dict(out)


async def read_ours(
    kafka: KafkaSettings, window: ReconcileWindow, *, topic: str = COSTS_TOPIC
) -> list[CostEvent]:
    """The cost events of `llm.costs` (or `topic`) stamped from the first whole day of the
    window (else the beginning) up to its end (else now), read_committed."""
    events: list[CostEvent] = []
    async with reader(kafka) as consumer:
        partitions = await topic_partitions(consumer, topic)
        since_ms = to_ms(window.days()[0]) if window.since is not None else None
        until_ms = to_ms(window.until) if window.until is not None else None
        spans = await time_spans(consumer, partitions, since_ms, until_ms)
        async for record in read_records(consumer, spans):
            try:
                events.append(decode(record.value, CostEvent))
            except InvalidMessage:
                continue  # the report's own cross-checks name bad events; here they bill nothing
    return events


# -- their side --------------------------------------------------------------------------


def _pages(value: Any) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    pages = value if isinstance(value, list) else [value]
    if not all(isinstance(p, Mapping) and isinstance(p.get("data"), list) for p in pages):
        raise ReportError("a report page must be a JSON object with a `data` list of buckets")
    return pages


def _day_of(bucket: Mapping[str, Any]) -> date:
    if "start_time" in bucket:
        return datetime.fromtimestamp(int(bucket["start_time"]), tz=UTC).date()
    if "starting_at" in bucket:
        text = str(bucket["starting_at"]).replace("Z", "+00:00")
        return datetime.fromisoformat(text).astimezone(UTC).date()
    raise ReportError("a report bucket has neither start_time nor starting_at")


def _int(row: Mapping[str, Any], *path: str) -> int:
    value: Any = row
    for part in path:
        value = value.get(part) if isinstance(value, Mapping) else None
    return int(value or 0)


def theirs_from_reports(
    reports: Mapping[str, Any], provider: ReconcileProvider
) -> dict[Key, Figures]:
    """The provider's totals per (UTC day, model) from its usage and cost reports."""
    out: dict[Key, Figures] = {}
    has_costs = reports.get("costs") is not None
    try:
        for page in _pages(reports.get("usage")):
            for bucket in page["data"]:
                day = _day_of(bucket)
                for row in bucket.get("results") or []:
                    model = row.get("model")
                    if not model:
                        raise ReportError("the usage report is not grouped by model")
                    figures = out.setdefault((day, model), _empty(has_costs))
                    _add_usage(figures, row, provider)
        for page in _pages(reports.get("costs")):
            for bucket in page["data"]:
                day = _day_of(bucket)
                for row in bucket.get("results") or []:
                    model, usd = _cost_row(row, provider)
                    figures = out.setdefault((day, model), _empty(True))
                    figures.usd = (figures.usd or Decimal(0)) + usd
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise ReportError(f"cannot read the {provider.value} report: {exc}") from None
    return out


def report_days(reports: Mapping[str, Any]) -> set[date]:
    """The days the provider's usage report has buckets for (empty ones included)."""
    try:
        return {_day_of(b) for page in _pages(reports.get("usage")) for b in page["data"]}
    except (KeyError, TypeError, ValueError) as exc:
        raise ReportError(f"cannot read the report's days: {exc}") from None


def _empty(has_costs: bool) -> Figures:
    return Figures(usd=Decimal(0) if has_costs else None)


def _add_usage(figures: Figures, row: Mapping[str, Any], provider: ReconcileProvider) -> None:
    if provider is ReconcileProvider.OPENAI:
        figures.input_tokens += _int(row, "input_tokens")
        figures.cache_read_tokens += _int(row, "input_cached_tokens")
    else:
        read = _int(row, "cache_read_input_tokens")
        written = _int(row, "cache_creation", "ephemeral_5m_input_tokens") + _int(
            row, "cache_creation", "ephemeral_1h_input_tokens"
        )
        figures.input_tokens += _int(row, "uncached_input_tokens") + read + written
        figures.cache_read_tokens += read
        figures.cache_write_tokens += written
    figures.output_tokens += _int(row, "output_tokens")


def _cost_row(row: Mapping[str, Any], provider: ReconcileProvider) -> tuple[str, Decimal]:
    if provider is ReconcileProvider.OPENAI:
        item = row.get("line_item")
        if not item:
            raise ReportError("the cost report is not grouped by line_item")
        amount = row.get("amount") or {}
        return str(item).split(", ", 1)[0], Decimal(str(amount.get("value", 0)))
    model = row.get("model")
    if not model:
        raise ReportError("the cost report is not grouped by description (no model)")
    return str(model), Decimal(str(row.get("amount", "0"))) / _CENTS


def load_reports(path: Path) -> dict[str, Any]:
    """A usage file: `{"usage": ..., "costs": ...}` as the provider's endpoints return."""
    try:
        data = loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the usage file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"the usage file {path} is not JSON: {exc}") from None
    if not isinstance(data, dict) or "usage" not in data:
        raise ConfigError(f'the usage file {path} must be a JSON object with a "usage" key')
    return data


# -- fetching ----------------------------------------------------------------------------


def _openai_requests(base_url: str, start: datetime, end: datetime) -> dict[str, Any]:
    window = {"start_time": str(int(start.timestamp())), "end_time": str(int(end.timestamp()))}
    common = {**window, "bucket_width": "1d", "limit": str(_PAGE_LIMIT)}
    return {
        "usage": (f"{base_url}/organization/usage/completions", {**common, "group_by": "model"}),
        "costs": (f"{base_url}/organization/costs", {**common, "group_by": "line_item"}),
    }


def _anthropic_requests(base_url: str, start: datetime, end: datetime) -> dict[str, Any]:
    def stamp(when: datetime) -> str:
        return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    common = {
        "starting_at": stamp(start),
        "ending_at": stamp(end),
        "bucket_width": "1d",
        "limit": str(_PAGE_LIMIT),
    }
    return {
        "usage": (
            f"{base_url}/v1/organizations/usage_report/messages",
            {**common, "group_by[]": "model"},
        ),
        "costs": (
            f"{base_url}/v1/organizations/cost_report",
            {**common, "group_by[]": "description"},
        ),
    }


async def fetch_reports(
    provider: ReconcileProvider,
    base_url: str,
    admin_key: str,
    window: ReconcileWindow,
    *,
    timeout_s: float = 30.0,
) -> dict[str, Any]:
    """Every page of the provider's usage and cost reports for the window."""
    import aiohttp

    start, end = window.days()
    base = base_url.rstrip("/")
    if provider is ReconcileProvider.OPENAI:
        requests = _openai_requests(base, start, end)
        headers = {"Authorization": f"Bearer {admin_key}"}
    else:
        requests = _anthropic_requests(base, start, end)
        headers = {"x-api-key": admin_key, "anthropic-version": "2023-06-01"}
    out: dict[str, Any] = {}
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
        for name, (url, params) in requests.items():
            out[name] = await _all_pages(session, url, params)
    return out


async def _all_pages(session: Any, url: str, params: Mapping[str, str]) -> list[Any]:
    import aiohttp

    pages: list[Any] = []
    query = dict(params)
    for _ in range(_MAX_PAGES):
        try:
            async with session.get(url, params=query) as resp:
                body = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ReportError(f"cannot fetch {url}: {type(exc).__name__}") from None
        if status != 200:
            raise ReportError(f"{url} answered {status}: {_message_of(body)}")
        try:
            page = loads(body)
        except ValueError:
            raise ReportError(f"{url} answered a body that is not JSON") from None
        pages.append(page)
        if not page.get("has_more") or not page.get("next_page"):
            return pages
        query["page"] = str(page["next_page"])
    raise ReportError(f"{url}: more than {_MAX_PAGES} pages")


def _message_of(body: bytes) -> str:
    """The provider's error message (never the request, which carries the key)."""
    try:
        error = loads(body).get("error") or {}
        return str(error.get("message") or error.get("type") or "no message")[:200]
    except (ValueError, AttributeError):
        return "no message"


# -- the comparison ----------------------------------------------------------------------


def reconcile(
    ours: Mapping[Key, Figures],
    theirs: Mapping[Key, Figures],
    *,
    tolerance_pct: Decimal = Decimal(1),
    tolerance_usd: Decimal = Decimal("0.01"),
    days: Iterable[date] | None = None,
    models: Iterable[str] = (),
) -> Reconciliation:
    """Every class of every (day, model) either side has, ours beside theirs: only on
    `days` (the days the provider reported) and `models` when given."""
    keys = sorted(set(ours) | set(theirs))
    if days is not None:
        wanted_days = set(days)
        keys = [k for k in keys if k[0] in wanted_days]
    wanted = set(models)
    if wanted:
        keys = [k for k in keys if k[1] in wanted]
    lines: list[Line] = []
    for key in keys:
        mine, other = ours.get(key), theirs.get(key)
        for name in CLASSES:
            a = mine.value(name) if mine is not None else Decimal(0)
            b = other.value(name) if other is not None else Decimal(0)
            if b is None:  # no cost report: dollars not compared
                lines.append(Line(key[0], key[1], name, a, None, False))
                continue
            floor = tolerance_usd if name == "usd" else Decimal(1)
            allowed = max(floor, abs(b) * tolerance_pct / 100)
            mismatch = a is not None and abs(a - b) > allowed
            lines.append(Line(key[0], key[1], name, a, b, mismatch))
    return Reconciliation(lines)


def summary_lines(result: Reconciliation) -> Sequence[str]:
    """One line per mismatched model and day, naming the classes that differ."""
    by_key: dict[tuple[date, str], list[Line]] = defaultdict(list)
    for line in result.mismatches:
        by_key[(line.day, line.model)].append(line)
    out = []
    for (day, model), lines in sorted(by_key.items()):
        parts = [
            f"{line.name} ours {_plain(line.ours)} vs provider {_plain(line.theirs)}"
            for line in lines
        ]
        out.append(f"{model} on {day}: " + "; ".join(parts))
    return out


def _plain(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value.normalize():f}"
