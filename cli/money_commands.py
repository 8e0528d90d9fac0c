"""`llmrouter prices` and `llmrouter reconcile`: where each model's prices come from, and
what we recorded spending against what the provider says we spent.

Register with:

    app.command()(money_commands.prices)
    app.command()(money_commands.reconcile)
"""

from __future__ import annotations

import asyncio
import os
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from llmrouter.cli.commands import ConfigOption
from llmrouter.cli.pipeline_commands import BootstrapOption
from llmrouter.core.errors import ConfigError
from llmrouter.core.logging import configure_logging

if TYPE_CHECKING:
    from rich.table import Table

    from llmrouter.operations.reconcile import ReconcileProvider, Reconciliation
    from llmrouter.router.config import RouterConfig

__all__ = ["prices", "reconcile"]

_TIME_HELP = "ISO 8601 (2024-05-01T12:00:00Z; no zone = UTC) or an age: 30m, 2h, 1d."
_MILLION = Decimal(1_000_000)
_DEFAULT_BASE_URL = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
}
_BASE_URL_ENV = {"openai": "OPENAI_BASE_URL", "anthropic": "ANTHROPIC_BASE_URL"}
_ADMIN_KEY_ENV = {"openai": "OPENAI_ADMIN_KEY", "anthropic": "ANTHROPIC_ADMIN_KEY"}


def prices(config: ConfigOption = None) -> None:
    """Each catalog model's price per 1M tokens of every class (input, cache read, cache
    write 5 min / 1 h, output) and batch factor, where each comes from (the config or
    genai-prices, with the snapshot's version and data date), and every price the config
    sets that differs from genai-prices'."""
    from rich.console import Console

    from llmrouter.router import load_config

    configure_logging("warning")
    cfg = load_config(config)
    table, disagreements, heading = _price_table(cfg)
    console = Console(width=200) if not os.isatty(1) else Console()
    console.print(heading, highlight=False, soft_wrap=True)
    console.print(table)
    for line in disagreements:
        console.print(f"differs: {line}", style="yellow", highlight=False, soft_wrap=True)
    if not disagreements:
        console.print("no config price differs from genai-prices'", highlight=False)


def _price_table(cfg: RouterConfig) -> tuple[Table, list[str], str]:
    from rich.table import Table

    from llmrouter.router.pricing import (
        CONFIG_SOURCE,
        PriceClass,
        library_data_date,
        library_label,
        library_prices,
        price_table,
    )

    label = library_label()
    heading = (
        f"prices in USD per 1M tokens; library: {label}, its newest dated price change "
        f"{library_data_date()} (scheduled changes included)"
    )
    table = Table("model", "provider / model_id", *[c.value for c in PriceClass], "batch", "source")
    disagreements: list[str] = []
    for name, spec in cfg.models.items():
        resolved = price_table(spec)
        library = library_prices(str(spec.provider), spec.model_id) or {}
        cells = []
        for price_class in PriceClass:
            price = resolved.prices[price_class]
            mark = "" if price.source != CONFIG_SOURCE else " (config)"
            cells.append(f"{_plain(price.usd_per_1m)}{mark}")
            theirs = library.get(price_class)
            if price.source == CONFIG_SOURCE and theirs is not None and theirs != price.usd_per_1m:
                disagreements.append(
                    f"{name} {price_class}: config {_plain(price.usd_per_1m)}, "
                    f"genai-prices {_plain(theirs)} per 1M tokens"
                )
        factor = spec.prices.batch_factor
        if factor is not None:
            batch = f"{_plain(factor)} (config)"
        elif library_prices(str(spec.provider), spec.model_id, batch=True) is not None:
            batch = "genai-prices"
        else:
            batch = "0.5"
        table.add_row(name, f"{spec.provider} / {spec.model_id}", *cells, batch, resolved.source)
    return table, disagreements, heading


def _plain(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text


def reconcile(
    provider: Annotated[
        str, typer.Option(help="openai or anthropic: whose report llm.costs is compared with.")
    ],
    since: Annotated[
        str | None, typer.Option(help=f"From this day (default: 7 days ago). {_TIME_HELP}")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help=f"Up to this time (default: now). {_TIME_HELP}")
    ] = None,
    usage_file: Annotated[
        Path | None,
        typer.Option(help='The provider\'s reports saved as JSON: {"usage": ..., "costs": ...}.'),
    ] = None,
    fetch: Annotated[
        bool,
        typer.Option(
            "--fetch",
            help="Fetch the reports from the provider's admin API (base URL from "
            "OPENAI_BASE_URL / ANTHROPIC_BASE_URL).",
        ),
    ] = False,
    admin_key_file: Annotated[
        Path | None,
        typer.Option(
            help="File holding the admin key (else $OPENAI_ADMIN_KEY / $ANTHROPIC_ADMIN_KEY)."
        ),
    ] = None,
    tolerance_pct: Annotated[
        float, typer.Option(min=0, help="Allowed difference, % of the provider's figure.")
    ] = 1.0,
    tolerance_usd: Annotated[
        float, typer.Option(min=0, help="Allowed dollar difference however small the figure.")
    ] = 0.01,
    model: Annotated[
        list[str] | None,
        typer.Option(help="Only this provider model id (repeatable; default: every one)."),
    ] = None,
    costs_topic: Annotated[
        str, typer.Option(help="The cost events topic read (read_committed).")
    ] = "llm.costs",
    bootstrap_servers: BootstrapOption = None,
) -> None:
    """Compare llm.costs, per provider model and UTC day, with the provider's usage and
    cost reports: tokens by class (input, cache read, cache write, output) and dollars side
    by side. Exits 1 when a figure differs by more than both --tolerance-pct of the
    provider's and --tolerance-usd (tokens: one token), naming the models."""
    from llmrouter.kafkaio.reading import parse_when
    from llmrouter.kafkaio.settings import KafkaSettings
    from llmrouter.operations.reconcile import ReconcileProvider, ReconcileWindow, load_reports

    configure_logging("warning")
    try:
        chosen = ReconcileProvider(provider)
    except ValueError:
        raise ConfigError(f"--provider must be openai or anthropic, not {provider!r}") from None
    if (usage_file is None) == (not fetch):
        raise ConfigError("give one of --usage-file F or --fetch")
    window = ReconcileWindow(
        since=parse_when(since) if since is not None else None,
        until=parse_when(until) if until is not None else None,
    )
    if usage_file is not None:
        reports = load_reports(usage_file)
    else:
        reports = _fetch(chosen, window, admin_key_file)
    kafka = KafkaSettings.from_env(bootstrap_servers)
    result = asyncio.run(
        _compare(
            kafka,
            chosen,
            window,
            reports,
            costs_topic,
            Decimal(str(tolerance_pct)),
            Decimal(str(tolerance_usd)),
            tuple(model or ()),
        )
    )
    _show(result)
    if result.mismatches:
        raise typer.Exit(1)


def _admin_key(provider: ReconcileProvider, key_file: Path | None) -> str:
    env = _ADMIN_KEY_ENV[provider.value]
    if key_file is not None:
        try:
            key = key_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read --admin-key-file {key_file}: {exc.strerror}") from None
        if not key:
            raise ConfigError(f"--admin-key-file {key_file} is empty")
        return key
    key = os.environ.get(env, "").strip()
    if not key:
        raise ConfigError(f"--fetch needs an admin key: set {env} or give --admin-key-file")
    return key


def _fetch(provider: ReconcileProvider, window: Any, key_file: Path | None) -> dict[str, Any]:
    from llmrouter.operations.reconcile import fetch_reports

    key = _admin_key(provider, key_file)
    base_url = os.environ.get(_BASE_URL_ENV[provider.value]) or _DEFAULT_BASE_URL[provider.value]
    return asyncio.run(fetch_reports(provider, base_url, key, window))


async def _compare(
    kafka: Any,
    provider: ReconcileProvider,
    window: Any,
    reports: dict[str, Any],
    topic: str,
    tolerance_pct: Decimal,
    tolerance_usd: Decimal,
    models: tuple[str, ...],
) -> Reconciliation:
    from llmrouter.operations.reconcile import (
        ours_from_events,
        read_ours,
        reconcile,
        report_days,
        theirs_from_reports,
    )

    theirs = theirs_from_reports(reports, provider)
    ours = ours_from_events(await read_ours(kafka, window, topic=topic), provider)
    return reconcile(
        ours,
        theirs,
        tolerance_pct=tolerance_pct,
        tolerance_usd=tolerance_usd,
        days=report_days(reports),
        models=models,
    )


def _show(result: Reconciliation) -> None:
    from rich.console import Console
    from rich.table import Table

    from llmrouter.operations.reconcile import summary_lines

    console = Console(width=200) if not os.isatty(1) else Console()
    table = Table("day", "model", "class", "ours", "provider", "difference", "")
    for line in result.lines:
        table.add_row(
            str(line.day),
            line.model,
            line.name,
            _figure(line.ours),
            _figure(line.theirs),
            _figure(line.difference),
            "MISMATCH" if line.mismatch else "",
        )
    console.print(table)
    for text in summary_lines(result):
        console.print(f"mismatch: {text}", style="red", highlight=False, soft_wrap=True)
    if not result.lines:
        console.print("nothing to compare: no usage on either side in the window")
    elif not result.mismatches:
        console.print("every figure agrees within the tolerance", highlight=False)


def _figure(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value.normalize():f}"
