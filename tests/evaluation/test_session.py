"""Where answers come from: the simulator env var, real providers, or an in-process simulator."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from llmrouter.cli import eval_commands
from llmrouter.evaluation.session import has_credentials, provider_endpoint
from llmrouter.router.config import ModelSpec
from llmrouter.router.config_loader import EXAMPLE_CONFIG, load_config
from llmrouter.simulator import running

CONFIG = load_config(EXAMPLE_CONFIG)
OFFLINE = {
    "LLMROUTER_SIMULATOR_URL": None,
    "LLMROUTER_CONFIG": None,
    "OPENAI_API_KEY": None,
    "ANTHROPIC_API_KEY": None,
}


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OFFLINE:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("offline")
async def test_without_keys_a_simulator_is_started_and_announced() -> None:
    console = Console(record=True, width=300)
    async with provider_endpoint(
        CONFIG, ["gpt-4-turbo", "claude-3-haiku"], console, running
    ) as url:
        assert url is not None
        assert url.startswith("http://127.0.0.1:")
    assert "started a provider simulator" in console.export_text()


@pytest.mark.usefixtures("offline")
async def test_with_a_key_the_real_provider_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key-not-real")
    async with provider_endpoint(CONFIG, ["gpt-4-turbo"], Console(), running) as url:
        assert url is None


async def test_the_simulator_env_var_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMROUTER_SIMULATOR_URL", "http://sim.example:1")
    monkeypatch.setenv("OPENAI_API_KEY", "test-key-not-real")
    async with provider_endpoint(CONFIG, ["gpt-4-turbo"], Console(), running) as url:
        assert url == "http://sim.example:1"


@pytest.mark.usefixtures("offline")
def test_credentials() -> None:
    base = CONFIG.models["gpt-4-turbo"].model_dump(exclude_unset=True)
    assert not has_credentials(ModelSpec.model_validate(base))
    self_hosted = {**base, "provider": "openai-compatible"}
    del self_hosted["api_key_env"]
    assert has_credentials(ModelSpec.model_validate(self_hosted))  # needs no key


async def test_eval_works_offline_out_of_the_box(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command("eval")(eval_commands.eval_)
    app.command("compare")(eval_commands.compare)  # two commands: `eval` is a subcommand
    args = ["eval", "--task", "customer-support-qa", "--models", "claude-3-haiku,gpt-3.5-turbo"]
    args += ["--limit", "2", "--out", str(tmp_path)]
    result = await asyncio.to_thread(CliRunner().invoke, app, args, env=OFFLINE)
    assert result.exit_code == 0, result.output
    assert "started a provider simulator" in result.stderr
    assert "claude-3-haiku" in result.stdout
    assert (tmp_path / "models.json").is_file()
