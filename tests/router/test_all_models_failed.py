"""AllModelsFailed carries the failed result from its constructor, and keeps it when split."""

from __future__ import annotations

from llmrouter.core.errors import AllModelsFailed, ModelCoolingDown, ProviderTimeout
from llmrouter.schemas import LLMResult, ResultStatus


def failed_result() -> LLMResult:
    return LLMResult(request_id="r-1", task="faq", status=ResultStatus.FAILED)


def test_the_result_is_set_by_the_constructor() -> None:
    result = failed_result()
    errors = [ProviderTimeout("slow", model="cheap"), ModelCoolingDown("expensive", retry_in_s=1.0)]
    failure = AllModelsFailed("every model failed", errors, result)
    assert failure.result is result
    assert list(failure.exceptions) == errors


def test_splitting_the_group_keeps_the_result_with_each_part() -> None:
    result = failed_result()
    timeout = ProviderTimeout("slow", model="cheap")
    cooling = ModelCoolingDown("expensive", retry_in_s=1.0)
    timeouts, rest = AllModelsFailed("every model failed", [timeout, cooling], result).split(
        ProviderTimeout
    )
    # `except*` splits the group the same way, through `derive`.
    assert isinstance(timeouts, AllModelsFailed)
    assert isinstance(rest, AllModelsFailed)
    assert timeouts.result is result
    assert rest.result is result
    assert list(timeouts.exceptions) == [timeout]
    assert list(rest.exceptions) == [cooling]
