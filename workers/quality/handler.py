"""What the quality worker does with each record it reads, by topic (see __init__.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from decimal import Decimal

import structlog
from aiokafka import ConsumerRecord

from llmrouter.core.errors import InvalidMessage, LLMRouterError
from llmrouter.kafkaio.transactions import Output
from llmrouter.router.config import RouterConfig, TaskSpec
from llmrouter.router.scoring import parse_json_answer
from llmrouter.router.state.posteriors import Posteriors
from llmrouter.router.state.wiring import RouterState
from llmrouter.schemas import (
    COSTS_TOPIC,
    FEEDBACK_TOPIC,
    LLMRequest,
    LLMResult,
    ResultStatus,
    decode,
    encode,
)
from llmrouter.schemas.scores import (
    FEEDBACK_JUDGE,
    LABEL_JUDGE,
    SCORES_TOPIC,
    AnswerSource,
    Score,
    score_key,
    shadow_topic,
)
from llmrouter.workers.feedback import read_feedback
from llmrouter.workers.metrics import METRICS
from llmrouter.workers.outputs import cost_events
from llmrouter.workers.quality.calls import Grade, WatchCalls
from llmrouter.workers.quality.join import (
    Answer,
    Join,
    MemoryJoin,
    SharedJoin,
    feedback_identity,
)
from llmrouter.workers.quality.live import LiveQuality
from llmrouter.workers.quality.peek import request_keys
from llmrouter.workers.quality.sampling import sampled

__all__ = ["QualityHandler"]

log = structlog.get_logger("llmrouter.workers.quality")


class QualityHandler:
    """The quality worker's handler: a runtime Handler (record → outputs)."""

    def __init__(
        self,
        config: RouterConfig,
        state: RouterState,
        *,
        join_capacity: int = 100_000,
        join_wait_s: float = 30.0,
        join: Join | None = None,
    ) -> None:
        self.config = config
        self.posteriors: Posteriors = state.posteriors
        self.calls = WatchCalls(config, state)
        # with a store, every replica shares the join (join.py); else this process keeps it
        self.join: Join = join or (
            SharedJoin(state.store) if state.store is not None else MemoryJoin(join_capacity)
        )
        self.live = LiveQuality({name: spec.quality for name, spec in config.tasks.items()})
        self.join_wait_s = join_wait_s
        #: replaced shadow and judge clients, each closing once its calls are done
        self._retiring: set[asyncio.Task[None]] = set()

    def reconfigure(self, config: RouterConfig, state: RouterState) -> None:
        """Take a reloaded config (workers/quality/reload.py): sampling rates, shadow
        models, judges and quality windows apply to the next record; calls in flight
        finish on the clients they began with, which then close. The join and the live
        scores are kept."""
        old = self.calls
        self.config = config
        self.posteriors = state.posteriors
        self.calls = WatchCalls(config, state)
        self.live.set_specs({name: spec.quality for name, spec in config.tasks.items()})
        task = asyncio.get_running_loop().create_task(old.retire())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def __call__(self, record: ConsumerRecord[bytes, bytes]) -> Sequence[Output]:
        topic = record.topic
        if topic == SCORES_TOPIC:
            return await self._score(record)
        if topic == FEEDBACK_TOPIC:
            return await self._feedback(record)
        kind = _kind(topic)
        if kind == "requests":
            return await self._request(record)
        if kind == "results":
            return await self._result(record)
        return []

    def at_once(self, record: ConsumerRecord[bytes, bytes]) -> Sequence[Output] | None:
        """A record's outputs when they are known without waiting, else None (`__call__`
        processes it): the runtime finishes such a record where it reads it, without a
        task. A request sampled for nothing has none, and is not even decoded (peek.py)."""
        if _kind(record.topic) == "requests" and self._unsampled(record.value):
            return []
        return None

    async def aclose(self) -> None:
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)
        await self.calls.aclose()

    # -- requests: kept until their answer comes ------------------------------------------

    def _unsampled(self, raw: bytes | None) -> bool:
        """Whether a raw request is surely sampled for nothing: its id and task read
        without decoding it (peek.py) say so. False when they cannot be read that way."""
        keys = request_keys(raw)
        if keys is None:
            return False
        request_id, task = keys
        spec = self.config.tasks.get(task)
        return spec is None or not _sampled_any(spec, request_id)

    async def _request(self, record: ConsumerRecord[bytes, bytes]) -> Sequence[Output]:
        if self._unsampled(record.value):
            return []
        try:
            request = decode(record.value, LLMRequest)
        except InvalidMessage:
            return []  # the router dead-letters it; there will be no answer to watch
        spec = self.config.tasks.get(request.task)
        if spec is not None and _sampled_any(spec, request.request_id):
            await self.join.put_request(request)
        return []

    # -- live answers: shadow calls and grades, after the answer was published ------------

    async def _result(self, record: ConsumerRecord[bytes, bytes]) -> Sequence[Output]:
        result = decode(record.value, LLMResult)
        spec = self.config.tasks.get(result.task)
        if (
            spec is None
            or result.status is not ResultStatus.OK
            or result.model is None
            or result.output is None
            or result.duplicate
        ):
            return []
        label = _label_of(result.output, spec.eval.label_field)
        await self.join.put_answer(result.request_id, Answer.of(result.task, result.model, label))
        if not result.cached:
            await _quietly(
                self.posteriors.record_cost(result.task, result.model, float(result.cost_usd))
            )
        rid = result.request_id
        shadow = spec.shadow is not None and sampled(rid, "shadow", spec.shadow.rate)
        judge = spec.judge is not None and sampled(rid, "judge", spec.judge.sample_rate)
        if not (shadow or judge):
            return []
        request = await self.join.wait_for_request(rid, self.join_wait_s)
        if request is None:
            METRICS.quality.skipped.labels(result.task, "no_request").inc()
            return []
        if await self._over_budget(spec, result.task):
            METRICS.quality.skipped.labels(result.task, "budget").inc()
            return []
        outputs: list[Output] = []
        if judge:
            outputs += await self._graded(request, result.model, result.output, "live")
        if shadow:
            answers = await asyncio.gather(
                *(self._shadow(request, i) for i in range(len(spec.shadow.models)))  # type: ignore[union-attr]
            )
            for shadow_outputs, answer in answers:
                outputs += shadow_outputs
                if judge and answer is not None and answer.model and answer.output:
                    outputs += await self._graded(request, answer.model, answer.output, "shadow")
        return outputs

    async def _over_budget(self, spec: TaskSpec, task: str) -> bool:
        limit = (
            spec.shadow.daily_budget_usd
            if spec.shadow is not None
            else spec.judge.daily_budget_usd
            if spec.judge is not None
            else None
        )
        if limit is None:
            return False
        try:
            return await self.calls.spent_usd(task) >= limit
        except LLMRouterError:  # the store is down: spend nothing we cannot count
            return True

    async def _shadow(
        self, request: LLMRequest, index: int
    ) -> tuple[list[Output], LLMResult | None]:
        try:
            answer = await self.calls.shadow(request, index)
        except LLMRouterError as exc:
            log.info("shadow call not made", task=request.task, error=str(exc))
            return [], None
        key = request.request_id.encode()
        METRICS.quality.shadow_calls.labels(
            request.task, answer.model or "none", answer.status.value
        ).inc()
        outputs = [Output(shadow_topic(request.task), encode(answer), key)]
        outputs += _shadow_costs(answer)
        return outputs, answer if answer.status is ResultStatus.OK else None

    async def _graded(
        self, request: LLMRequest, model: str, answer: str, source: AnswerSource
    ) -> list[Output]:
        grade = await self.calls.grade(request, answer)
        outputs = _judge_costs(request, grade)
        if grade.score is not None:
            judge = self.config.tasks[request.task].judge
            assert judge is not None
            score = Score(
                request_id=request.request_id,
                task=request.task,
                model=model,
                answer_source=source,
                score=grade.score,
                judge_model=judge.model,
                cost_usd=grade.cost_usd,
            )
            outputs.append(Output(SCORES_TOPIC, encode(score), score_key(score.task, model)))
        return outputs

    # -- feedback: labels and clients' scores become scores -------------------------------

    async def _feedback(self, record: ConsumerRecord[bytes, bytes]) -> Sequence[Output]:
        # bad feedback raises InvalidMessage: the worker's error policy dead-letters it
        feedback = read_feedback(record)
        spec = self.config.tasks.get(feedback.task)
        if spec is None:
            return []
        answer = await self.join.answer(feedback.request_id)
        if answer is not None and answer.task != feedback.task:
            answer = None
        model = feedback.model or (answer.model if answer is not None else None)
        if model is None:
            METRICS.quality.skipped.labels(feedback.task, "unknown_request").inc()
            return []
        value: float | None = None
        judge = FEEDBACK_JUDGE
        if feedback.kind == "label" and answer is not None and feedback.label is not None:
            value = 1.0 if answer.label == feedback.label.strip().lower() else 0.0
            judge = LABEL_JUDGE
        elif feedback.kind == "score":
            value = feedback.score
        elif feedback.kind == "thumbs":
            value = 1.0 if feedback.thumbs == "up" else 0.0
        if value is None:
            return []
        origin = f"{record.topic}:{record.partition}:{record.offset}"
        if not await self.join.first_time(feedback_identity(feedback), origin):
            METRICS.quality.skipped.labels(feedback.task, "duplicate_feedback").inc()
            return []
        score = Score(
            request_id=feedback.request_id,
            task=feedback.task,
            model=model,
            score=value,
            judge_model=judge,
        )
        return [Output(SCORES_TOPIC, encode(score), score_key(score.task, model))]

    # -- scores: posteriors and live quality ----------------------------------------------

    async def _score(self, record: ConsumerRecord[bytes, bytes]) -> Sequence[Output]:
        try:
            score = decode(record.value, Score)
        except InvalidMessage:
            return []
        spec = self.config.tasks.get(score.task)
        if spec is None:
            return []
        figures = self.live.add(score.task, score.model, score.score)
        METRICS.quality.observe(score, figures)
        if figures.drifting:
            log.warning(
                "quality drift",
                task=score.task,
                model=score.model,
                recent=round(figures.mean, 3),
                baseline=round(figures.baseline_mean or 0.0, 3),
            )
        await _quietly(
            self.posteriors.record_score(
                score.task, score.model, score.score, decay=spec.quality.posterior_decay
            )
        )
        return []


async def _quietly(update: Awaitable[None]) -> None:
    """A posterior update; with the store down it is skipped (the evidence is a sample)."""
    try:
        await update
    except LLMRouterError as exc:
        log.info("posterior not updated", error=str(exc))


def _kind(topic: str) -> str:
    """`requests` or `results` for a task's topic (`llm.<kind>.<task>`), else ''."""
    return topic.split(".")[1] if topic.count(".") >= 2 else ""


def _sampled_any(spec: TaskSpec, request_id: str) -> bool:
    """Whether a request of the task is sampled for a shadow call or a grade."""
    return (spec.shadow is not None and sampled(request_id, "shadow", spec.shadow.rate)) or (
        spec.judge is not None and sampled(request_id, "judge", spec.judge.sample_rate)
    )


def _label_of(output: str, field: str) -> str:
    """The label an answer gives: its JSON `field`, else the whole answer."""
    parsed = parse_json_answer(output)
    value = parsed.get(field) if parsed is not None else None
    return (str(value) if value is not None else output).strip().lower()


def _shadow_costs(answer: LLMResult) -> list[Output]:
    key = answer.request_id.encode()
    return [
        Output(COSTS_TOPIC, encode(event.model_copy(update={"shadow": True})), key)
        for event in cost_events(answer)
    ]


def _judge_costs(request: LLMRequest, grade: Grade) -> list[Output]:
    if not grade.attempts:
        return []
    carrier = LLMResult(
        request_id=request.request_id,
        task=request.task,
        status=ResultStatus.OK,
        attempts=grade.attempts,
        cost_usd=sum((a.cost_usd for a in grade.attempts), Decimal(0)),
        source="shadow",
    )
    return _shadow_costs(carrier)
