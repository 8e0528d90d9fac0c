"""A model's quality over time (`quality_drop_after_calls`, or a runtime change through
`POST /_sim/models/{id}`), and the simulated judge grading answers, through the real SDK."""

from __future__ import annotations

import aiohttp
import openai

from llmrouter.router.judging import RUBRICS, grading_text, rubric_score

from .conftest import qa_examples


async def _ask(client: openai.AsyncOpenAI, model: str, system: str | None, text: str) -> str:
    messages: list[dict[str, str]] = [{"role": "user", "content": text}]
    if system is not None:
        messages.insert(0, {"role": "system", "content": system})
    resp = await client.chat.completions.create(model=model, messages=messages)  # type: ignore[arg-type]
    content = resp.choices[0].message.content
    assert content is not None
    return content


async def _accuracy(client: openai.AsyncOpenAI, model: str, count: int) -> list[float]:
    """The simulated judge's 0..1 score of `model`'s answers to the first `count` questions."""
    scores = []
    for example in qa_examples(count):
        answer = await _ask(client, model, None, example["input"])
        text = grading_text("locker-qa", None, example["input"], answer)
        reply = await _ask(client, "sim-judge", RUBRICS["accuracy"], text)
        score = rubric_score("accuracy", reply)
        assert score is not None, reply
        scores.append(score)
    return scores


async def test_a_model_drops_after_its_calls_and_the_judge_sees_it(
    oai: openai.AsyncOpenAI, http: aiohttp.ClientSession, sim_url: str
) -> None:
    async with http.post(
        f"{sim_url}/_sim/models/sim-drifting",
        json={"quality": 0.97, "quality_drop_after_calls": 20, "quality_after_drop": 0.2},
    ) as resp:
        assert resp.status == 200
    before = await _accuracy(oai, "sim-drifting", 20)
    after = await _accuracy(oai, "sim-drifting", 20)  # the same questions, after the drop
    assert sum(before) >= 16
    assert sum(after) <= 8


async def test_a_runtime_quality_change_changes_the_answers(
    oai: openai.AsyncOpenAI, http: aiohttp.ClientSession, sim_url: str
) -> None:
    good = await _accuracy(oai, "sim-strong", 20)
    async with http.post(f"{sim_url}/_sim/models/sim-strong", json={"quality": 0.1}) as resp:
        assert resp.status == 200
    bad = await _accuracy(oai, "sim-strong", 20)
    assert sum(good) > sum(bad) + 8


async def test_the_judge_grades_tone_and_unknown_requests(oai: openai.AsyncOpenAI) -> None:
    example = qa_examples(1)[0]
    full = " ".join(example["expected_elements"])
    tone = await _ask(
        oai, "sim-judge", RUBRICS["tone"], grading_text("t", None, example["input"], full)
    )
    assert rubric_score("tone", tone) == 1.0
    unknown = await _ask(
        oai, "sim-judge", RUBRICS["tone"], grading_text("t", None, "not an eval input", "ok")
    )
    assert rubric_score("tone", unknown) == (7 - 1) / 9
    # a reply that is not a grading prompt is answered as before
    assert rubric_score("accuracy", await _ask(oai, "sim-judge", None, "hello")) is None
