"""AllModelsFailed holds every error of a failed route, and stays itself when split."""

from __future__ import annotations

from llmrouter.core.errors import AllModelsFailed, LLMRouterError, ModelCoolingDown, ProviderTimeout


def test_every_error_is_kept_in_order() -> None:
    errors = [ProviderTimeout("slow", model="cheap"), ModelCoolingDown("expensive", retry_in_s=1.0)]
    failure = AllModelsFailed("every model failed", errors)
    assert list(failure.exceptions) == errors
    assert isinstance(failure, LLMRouterError)
    assert isinstance(failure, ExceptionGroup)


def test_splitting_the_group_keeps_each_part_an_all_models_failed() -> None:
    timeout = ProviderTimeout("slow", model="cheap")
    cooling = ModelCoolingDown("expensive", retry_in_s=1.0)
    timeouts, rest = AllModelsFailed("every model failed", [timeout, cooling]).split(
        ProviderTimeout
    )
    # `except*` splits the group the same way, through `derive`.
    assert isinstance(timeouts, AllModelsFailed)
    assert isinstance(rest, AllModelsFailed)
    assert list(timeouts.exceptions) == [timeout]
    assert list(rest.exceptions) == [cooling]
