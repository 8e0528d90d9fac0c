"""Deterministic answers and the quality knob, through the real SDKs."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import orjson
import pytest

from llmrouter.simulator.answers import Answerer, Prompt
from llmrouter.simulator.complexity import classify
from llmrouter.simulator.evals import EvalIndex

from .conftest import moderation_examples, qa_examples

MODERATION_PROMPT = (
    "You are a content moderator. Classify the text as safe or unsafe.\n"
    'Respond in JSON: {{"label": "safe|unsafe", "confidence": 0.0-1.0, "reason": "..."}}\n'
    "Text: {text}"
)
CLASSIFIER_PROMPT = """
Classify this customer question as SIMPLE, MEDIUM, or COMPLEX:
SIMPLE: One-step answer, common question
MEDIUM: Requires some explanation or multiple steps
COMPLEX: Multi-part issue, requires judgment or policy interpretation
Question: {question}
Classification:
"""


async def _ask(client: openai.AsyncOpenAI, model: str, text: str) -> str:
    resp = await client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": text}]
    )
    content = resp.choices[0].message.content
    assert content is not None
    return content


async def test_same_request_same_answer(
    oai: openai.AsyncOpenAI, anth: anthropic.AsyncAnthropic
) -> None:
    first = await _ask(oai, "gpt-4-turbo", "Tell me about your loyalty programme.")
    assert first == await _ask(oai, "gpt-4-turbo", "Tell me about your loyalty programme.")
    msgs: list[anthropic.types.MessageParam] = [{"role": "user", "content": "Hello there"}]
    one = await anth.messages.create(model="claude-3-haiku", max_tokens=200, messages=msgs)
    two = await anth.messages.create(model="claude-3-haiku", max_tokens=200, messages=msgs)
    assert one.content == two.content


async def test_quality_knob_shows_in_expected_elements(oai: openai.AsyncOpenAI) -> None:
    found = {"sim-strong": 0, "sim-weak": 0}
    total = 0
    for example in qa_examples():
        prompt = f"Knowledge base: (none)\nQuestion: {example['input']}\nAnswer helpfully."
        for model in found:
            answer = (await _ask(oai, model, prompt)).lower()
            found[model] += sum(e.lower() in answer for e in example["expected_elements"])
        total += len(example["expected_elements"])
    strong, weak = found["sim-strong"] / total, found["sim-weak"] / total
    assert strong > 0.85
    assert 0.3 < weak < 0.7
    assert strong - weak > 0.25


async def test_input_is_found_inside_templates(oai: openai.AsyncOpenAI) -> None:
    example = qa_examples()[3]
    templates = [
        "{q}",
        "Question: {q}",
        "### Question\n{q}\n### Answer",
        'Customer asks: "{q}"',
        "Knowledge base:\nsome text\n\nQuestion: {q}\n\nInstructions:\n1. Be nice\nAnswer:",
    ]
    answers = [await _ask(oai, "sim-strong", t.format(q=example["input"])) for t in templates]
    assert len(set(answers)) == 1
    assert any(e in answers[0] for e in example["expected_elements"])


async def test_json_confidence_answers_parse(oai: openai.AsyncOpenAI) -> None:
    labels = {"safe", "unsafe"}
    for example in moderation_examples()[:10]:
        answer = await _ask(oai, "claude-3-haiku", MODERATION_PROMPT.format(text=example["input"]))
        parsed: dict[str, Any] = orjson.loads(answer)
        assert parsed["label"] in labels
        assert 0.0 <= parsed["confidence"] <= 1.0
        assert isinstance(parsed["reason"], str)


async def test_confidence_is_correlated_with_correctness(oai: openai.AsyncOpenAI) -> None:
    outcomes: list[tuple[bool, bool]] = []  # (confident, correct)
    for example in moderation_examples():
        answer = await _ask(oai, "claude-3-haiku", MODERATION_PROMPT.format(text=example["input"]))
        parsed = orjson.loads(answer)
        outcomes.append((parsed["confidence"] > 0.9, parsed["label"] == example["label"]))
    confident = [ok for sure, ok in outcomes if sure]
    unsure = [ok for sure, ok in outcomes if not sure]
    assert 0.6 < len(confident) / len(outcomes) < 0.95
    assert unsure
    assert sum(confident) / len(confident) > sum(unsure) / len(unsure)


async def test_unknown_input_in_json_mode(oai: openai.AsyncOpenAI) -> None:
    answer = await _ask(
        oai, "gpt-4-turbo", MODERATION_PROMPT.format(text="I will hurt you, you idiot")
    )
    assert orjson.loads(answer)["label"] == "unsafe"


async def test_label_task_without_json_answers_the_label(oai: openai.AsyncOpenAI) -> None:
    example = moderation_examples()[1]
    answer = await _ask(
        oai, "sim-strong", f"Is this comment safe or unsafe? One word.\n{example['input']}"
    )
    assert answer in {"safe", "unsafe"}


async def test_complexity_classifier_prompt(oai: openai.AsyncOpenAI) -> None:
    async def level(question: str) -> str:
        resp = await oai.chat.completions.create(
            model="claude-3-haiku",
            messages=[{"role": "user", "content": CLASSIFIER_PROMPT.format(question=question)}],
            max_tokens=10,
        )
        content = resp.choices[0].message.content
        assert content is not None
        return content.strip().upper()

    assert await level("How do I reset my password?") == "SIMPLE"
    assert await level("Can I change my delivery address?") == "SIMPLE"
    assert await level("I was charged twice for the same order, what should I do?") == "MEDIUM"
    assert await level("I was charged incorrectly and my account is suspended") == "COMPLEX"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Where is my order?", "SIMPLE"),
        ("Why was my refund smaller than the item price?", "MEDIUM"),
        ("My account was hacked. Who pays for the fraudulent charges? Can I sue?", "COMPLEX"),
    ],
)
def test_complexity_heuristics(question: str, expected: str) -> None:
    assert classify(question) == expected


async def test_generic_answers_grow_with_the_input(oai: openai.AsyncOpenAI) -> None:
    short = await _ask(oai, "gpt-4-turbo", "What are your opening hours?")
    long_question = "Here is some background about my situation. " * 20 + "What now?"
    long = await _ask(oai, "gpt-4-turbo", long_question)
    assert len(long) > len(short)


def test_answerer_difficulty_makes_hard_inputs_harder() -> None:
    from llmrouter.simulator.evals import EvalExample

    examples = [
        EvalExample(
            task="t",
            input=f"question {difficulty} {i}",
            difficulty=difficulty,
            expected_elements=tuple(f"element-{i}-{k}" for k in range(5)),
            label=None,
        )
        for difficulty in ("easy", "hard")
        for i in range(40)
    ]
    answerer = Answerer(EvalIndex(examples), seed=3)
    hits = {"easy": 0, "hard": 0}
    for ex in examples:
        text = answerer.answer("cheap", 0.74, Prompt(system="", messages=(("user", ex.input),)))
        hits[ex.difficulty] += sum(e in text for e in ex.expected_elements)
    assert hits["easy"] > hits["hard"] * 1.3


async def test_few_shot_prompt_matches_the_last_input(oai: openai.AsyncOpenAI) -> None:
    shots, target = moderation_examples()[0], moderation_examples()[1]
    prompt = (
        "Classify comments as safe or unsafe.\n"
        f"Text: {shots['input']}\nLabel: {shots['label']}\n\n"
        f"Text: {target['input']}\nLabel:"
    )
    direct = await _ask(oai, "sim-strong", f"Classify as safe or unsafe.\nText: {target['input']}")
    assert await _ask(oai, "sim-strong", prompt) == direct


async def test_summary_prompts_get_summaries(oai: openai.AsyncOpenAI) -> None:
    example = qa_examples()[5]
    answer = await _ask(oai, "sim-strong", f"Summarize this email:\n{example['input']}")
    assert answer.startswith("Summary: ")
    unknown = await _ask(
        oai,
        "gpt-4-turbo",
        "Summarize this email:\nHi team. The launch moved to Friday. Please update the plan. "
        "Thanks.",
    )
    assert unknown == "Summary: Hi team. The launch moved to Friday."
