"""Templates are filled in one pass: whatever a request's input or context holds
(`{input}`, `{context}`, `{{`, `$`, stray braces), the prompt is at most the template plus
one copy of a value per placeholder, never a value expanded again."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from llmrouter.router.calls import CallLedger
from llmrouter.router.classifiers.llm import LLMClassifier
from llmrouter.router.classifiers.rules import RuleClassifier
from llmrouter.router.config import LLMClassifierSpec, PromptSpec
from llmrouter.router.config_classifiers import RulesClassifierSpec, RuleSpec
from llmrouter.router.prompts import RenderedPrompt, fill_markers, render_prompt
from llmrouter.router.providers.base import Completion
from llmrouter.schemas import Complexity, LLMRequest

#: the pieces an adversarial input is made of
_NASTY = st.lists(
    st.sampled_from(
        [
            "{input}",
            "{question}",
            "{context}",
            "{kb}",
            "{{",
            "}}",
            "{",
            "}",
            "$",
            "${input}",
            "%s",
            "{0}",
            "{input!r}",
            "x",
            "\n",
        ]
    ),
    max_size=200,
).map("".join)

TEMPLATE = "Q: {input}\nAgain: {question}\nKnowledge: {kb}\nLiteral: {{input}} and {{kb}}"
SPEC = PromptSpec(system="Sys {kb} {input}", template=TEMPLATE, context={"kb": "(none)"})


def _bound(template: str, placeholders: int, values: Mapping[str, Any]) -> int:
    return len(template) + placeholders * max(len(str(v)) for v in values.values())


@settings(max_examples=300, deadline=None)
@given(text=_NASTY, kb=_NASTY)
def test_a_task_prompt_is_bounded_by_its_template_and_values(text: str, kb: str) -> None:
    prompt = render_prompt(SPEC, "m", text, {"kb": kb})
    assert len(prompt.user) <= _bound(TEMPLATE, 3, {"input": text, "kb": kb})
    assert prompt.system is not None
    assert len(prompt.system) <= _bound("Sys {kb} {input}", 2, {"input": text, "kb": kb})
    # the input appears verbatim, and the literal braces once each
    assert prompt.user.startswith(f"Q: {text}\nAgain: {text}\n")
    assert prompt.user.endswith("Literal: {input} and {kb}")


def test_an_input_of_repeated_markers_stays_its_own_size() -> None:
    text = "{input}" * 20_000
    prompt = render_prompt(PromptSpec(template="{input} {question}"), "m", text, {})
    assert prompt.user == f"{text} {text}"


CLASSIFIER_PROMPT = 'Rate {question}. Reply {"level": ...}; input again: {input}'


@settings(max_examples=300, deadline=None)
@given(text=_NASTY)
def test_the_classifier_prompt_is_filled_in_one_pass(text: str) -> None:
    filled = fill_markers(CLASSIFIER_PROMPT, text)
    assert len(filled) <= _bound(CLASSIFIER_PROMPT, 2, {"input": text})
    assert filled == f'Rate {text}. Reply {{"level": ...}}; input again: {text}'


class _RecordingCaller:
    """Stands in for the ModelCaller: keeps the prompt the classifier sends."""

    def __init__(self) -> None:
        self.prompts: list[RenderedPrompt] = []

    async def call_once(self, model: str, prompt: RenderedPrompt, *_: Any, **__: Any) -> Completion:
        self.prompts.append(prompt)
        return Completion(text="SIMPLE", input_tokens=1, output_tokens=1, model_version=model)


async def test_the_llm_classifier_sends_the_one_pass_prompt() -> None:
    caller = _RecordingCaller()
    rules = RuleClassifier(
        RulesClassifierSpec(kind="rules", rules=[RuleSpec(name="long", weight=1.0, min_chars=10)])
    )
    spec = LLMClassifierSpec(kind="llm", model="m", prompt=CLASSIFIER_PROMPT)
    classifier = LLMClassifier(spec, caller, rules)  # type: ignore[arg-type]
    text = "{input}{question}" * 1000
    request = LLMRequest(request_id="r1", task="t", input=text)
    verdict = await classifier.complexity_of(request, CallLedger(request, 6))
    assert verdict.complexity is Complexity.SIMPLE
    assert caller.prompts[0].user == fill_markers(CLASSIFIER_PROMPT, text)
    markers = len("{question}") + len("{input}")
    assert len(caller.prompts[0].user) == len(CLASSIFIER_PROMPT) - markers + 2 * len(text)
