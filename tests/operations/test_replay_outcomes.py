"""`llmrouter replay --outcomes FILE`: the live and the candidate answer of every replayed
request as training outcomes, scored by the request's truth where it has one, else by
agreement with the live answer; written on the real broker and read back by the outcomes
reader."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

from llmrouter import cli
from llmrouter.evaluation.learn.outcomes import Outcome, read_outcomes
from llmrouter.evaluation.metrics import label_accuracy
from llmrouter.operations.quality import TruthBook
from llmrouter.operations.replay_compare import field_agreement
from llmrouter.operations.replay_outcomes import replay_outcomes
from llmrouter.producers import RequestProducer
from llmrouter.schemas import LLMResult, ResultStatus, replay_results_topic, results_topic
from tests.operations.conftest import Pipeline, read_topic
from tests.operations.test_replay import candidate_text, run_id

MakePipeline = Callable[..., Awaitable[Pipeline]]


def result(rid: str, model: str | None, output: str | None, **extra: object) -> LLMResult:
    status = ResultStatus.OK if output is not None else ResultStatus.FAILED
    return LLMResult.model_validate(
        {
            "request_id": rid,
            "task": "t",
            "status": status,
            "output": output,
            "model": model,
            "cost_usd": Decimal("0.002"),
            "attempts": [
                {"model": model or "x", "outcome": "ok", "latency_ms": 1.0, "cost_usd": "0.002"}
            ],
            **extra,
        }
    )


def scores_of(outcomes: list[Outcome]) -> dict[tuple[str, str], float]:
    return {(o.prompt_id, o.model): o.score for o in outcomes}


def test_labels_score_by_agreement_with_the_live_answer_or_by_the_truth() -> None:
    live = {
        "a": result("a", "cheap", "billing"),
        "b": result("b", "cheap", "billing"),
        "c": result("c", "cheap", None),  # live failed: no reference
        "d": result("d", "cheap", "billing", metadata={"label": "login"}),
        "e": result("e", "big", "login"),  # same model on both sides
    }
    candidate = [
        result("a", "big", "Billing."),
        result("b", "big", "login"),
        result("c", "big", "login"),
        result("d", "big", "login", metadata={"label": "login"}),
        result("e", "big", "billing"),
        result("f", "big", "login"),  # no live result
        result("g", "big", "login"),  # input not in the range
    ]
    live["g"] = result("g", "cheap", "login")
    inputs = {rid: f"text {rid}" for rid in "abcdef"}

    made = replay_outcomes("t", candidate, live, inputs, TruthBook(Path("/nonexistent")))

    assert scores_of(made.outcomes) == {
        ("a", "cheap"): 1.0,
        ("a", "big"): 1.0,  # same label after normalisation
        ("b", "cheap"): 1.0,
        ("b", "big"): 0.0,
        ("d", "cheap"): 0.0,  # the truth decides, not the live answer
        ("d", "big"): 1.0,
        ("e", "big"): 1.0,  # one line per prompt × model: the live one
    }
    assert (made.requests, made.without_live, made.without_reference, made.without_input) == (
        4,
        1,
        1,
        1,
    )
    first = made.outcomes[0]
    assert (first.prompt, first.task, first.cost_usd, first.answer) == (
        "text a",
        "t",
        0.002,
        "billing",
    )


def test_json_answers_agree_on_the_label_field_and_free_text_on_the_text() -> None:
    live = {"a": result("a", "cheap", '{"verdict": "ok", "reason": "fine"}')}
    same = [result("a", "big", '{"verdict": "OK", "reason": "other words"}')]
    made = replay_outcomes(
        "t",
        same,
        live,
        {"a": "x"},
        TruthBook(Path("/nonexistent")),
        label_field="verdict",
        json_output=True,
    )
    assert scores_of(made.outcomes) == {("a", "cheap"): 1.0, ("a", "big"): 1.0}

    text_live = {"a": result("a", "cheap", "Reset it from Settings.")}
    other = [result("a", "big", "reset it from settings"), result("b", "big", None)]
    text_live["b"] = result("b", "cheap", "Call us.")
    made = replay_outcomes(
        "t", other, text_live, {"a": "x", "b": "y"}, TruthBook(Path("/nonexistent"))
    )
    assert scores_of(made.outcomes) == {
        ("a", "cheap"): 1.0,
        ("a", "big"): 1.0,
        ("b", "cheap"): 1.0,
        ("b", "big"): 0.0,  # a failed answer scores 0
    }


async def test_replay_writes_outcomes_the_reader_accepts(
    pipeline: MakePipeline, tmp_path: Path
) -> None:
    p = await pipeline()
    qa = p.tasks["qa"]
    await p.start()
    texts: dict[str, str] = {}
    labelled: set[str] = set()
    async with RequestProducer.from_env(p.bootstrap) as producer:
        for i in range(8):
            text = f"how do I log in {i}?" if i % 2 else f"I was charged twice, refund order {i}"
            meta = {"label": "login"} if i % 2 else {}
            rid = await producer.submit(qa, text, metadata=meta)
            texts[rid] = text
            if meta:
                labelled.add(rid)
    live_list = await read_topic(
        p.bootstrap,
        [results_topic(qa)],
        LLMResult,
        until=lambda rs: set(texts) <= {r.request_id for r in rs},
    )
    await p.stop_all()
    live = {r.request_id: r for r in live_list}
    candidate_yaml = tmp_path / "candidate.yaml"
    candidate_yaml.write_text(candidate_text(p), encoding="utf-8")
    run, out = run_id(), tmp_path / "out" / "replay.jsonl"

    code = await asyncio.to_thread(
        cli.run,
        [
            "replay",
            "--task",
            qa,
            "--run-id",
            run,
            "--from-offset",
            "0",
            "--config",
            str(candidate_yaml),
            "--bootstrap-servers",
            p.bootstrap,
            "--outcomes",
            str(out),
        ],
    )

    assert code == 0
    replayed = {
        r.request_id: r
        for r in await read_topic(
            p.bootstrap,
            [replay_results_topic(run)],
            LLMResult,
            until=lambda rs: set(texts) <= {r.request_id for r in rs},
        )
    }
    assert {r.model for r in replayed.values()} == {"big"}
    outcomes = read_outcomes(out)  # raises on any bad line
    assert set(outcomes.ids) == set(texts), "every replayed request"
    assert outcomes.tasks == [qa] * len(texts)
    for row, rid in enumerate(outcomes.ids):
        assert outcomes.prompts[row] == texts[rid]
        mine, theirs = live[rid], replayed[rid]
        truth = rid in labelled
        expected = {
            mine.model: float(label_accuracy(mine.output, "login")) if truth else 1.0,
        }
        if theirs.model != mine.model:
            expected[theirs.model] = (
                float(label_accuracy(theirs.output, "login"))
                if truth
                else float(field_agreement(mine.output, theirs.output) is True)
            )
        got = {
            m: outcomes.scores[row][j]
            for j, m in enumerate(outcomes.models)
            if outcomes.scores[row][j] == outcomes.scores[row][j]  # not NaN
        }
        assert got == expected, rid
        for j, m in enumerate(outcomes.models):
            if m in got:
                side = mine if m == mine.model else theirs
                assert outcomes.costs[row][j] == float(side.cost_usd)
                assert outcomes.answers[row][j] == side.output
    assert outcomes.lines == sum(1 + (replayed[rid].model != live[rid].model) for rid in texts)
