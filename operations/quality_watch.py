"""The report's live-quality section: per task and model, the mean score of its latest
`quality.window` scores with a 95% Wilson interval, the trailing baseline and the count
(read from `llm.scores`, the same figures the quality worker keeps: workers/quality/
live.py), a drift line for each model whose recent quality fell below its baseline by
more than the task's `quality.drift_margin`, and the shadow calls' cost (cost events
marked `shadow` on `llm.costs`), apart from the tasks' own spend.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from llmrouter.core.errors import InvalidMessage, KafkaUnavailable
from llmrouter.kafkaio.reading import read_records, reader, time_spans, topic_partitions
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.router import RouterConfig
from llmrouter.router.config_quality import QualityWatchSpec
from llmrouter.schemas import COSTS_TOPIC, CostEvent, decode
from llmrouter.schemas.scores import SCORES_TOPIC, Score
from llmrouter.workers.quality.live import QualityFigures, figures_of

__all__ = ["QualityWatch", "build_quality_watch", "collect_watch", "drift_line", "render_watch"]


@dataclass(frozen=True)
class QualityWatch:
    figures: list[QualityFigures]
    #: (task, model) → the shadow and judge calls' cost
    shadow_cost_usd: dict[tuple[str, str], Decimal]

    @property
    def drifting(self) -> list[QualityFigures]:
        return [f for f in self.figures if f.drifting]


async def collect_watch(
    kafka: KafkaSettings, since_ms: int | None = None, until_ms: int | None = None
) -> tuple[list[Score], list[CostEvent]]:
    """The scores on `llm.scores` and the shadow cost events on `llm.costs` in the window."""
    scores: list[Score] = []
    shadow: list[CostEvent] = []
    async with reader(kafka) as consumer:
        partitions = []
        for topic in (SCORES_TOPIC, COSTS_TOPIC):
            with contextlib.suppress(KafkaUnavailable):  # not created yet: nothing to read
                partitions += await topic_partitions(consumer, topic)
        spans = await time_spans(consumer, partitions, since_ms, until_ms)
        async for record in read_records(consumer, spans):
            try:
                if record.topic == SCORES_TOPIC:
                    scores.append(decode(record.value, Score))
                else:
                    event = decode(record.value, CostEvent)
                    if event.shadow:
                        shadow.append(event)
            except InvalidMessage:
                continue
    return scores, shadow


def build_quality_watch(
    scores: Iterable[Score], shadow_costs: Iterable[CostEvent], config: RouterConfig
) -> QualityWatch:
    by_model: dict[tuple[str, str], list[Score]] = defaultdict(list)
    for score in scores:
        by_model[(score.task, score.model)].append(score)
    figures = []
    for (task, model), group in sorted(by_model.items()):
        spec = config.tasks[task].quality if task in config.tasks else QualityWatchSpec()
        ordered = sorted(group, key=lambda s: s.created_at)
        values = [s.score for s in ordered]
        figures.append(figures_of(task, model, values, spec, len(values)))
    cost: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for event in shadow_costs:
        cost[(event.task, event.model)] += event.cost_usd
    return QualityWatch(figures, dict(cost))


def drift_line(f: QualityFigures) -> str:
    return (
        f"DRIFT {f.task} {f.model}: recent quality {f.mean:.2f} "
        f"({f.recent_count} scores) below its baseline {f.baseline_mean or 0:.2f} "
        f"({f.baseline_count} scores)"
    )


def render_watch(watch: QualityWatch) -> Sequence[str]:
    """The section as text lines."""
    lines = ["live quality (llm.scores): task model: recent mean [95% interval] n / baseline"]
    for f in watch.figures:
        baseline = f"{f.baseline_mean:.2f}" if f.baseline_mean is not None else "-"
        lines.append(
            f"  {f.task} {f.model}: {f.mean:.2f} [{f.lower:.2f}, {f.upper:.2f}] "
            f"n={f.recent_count} (of {f.count}) / baseline {baseline}"
        )
    lines += [drift_line(f) for f in watch.drifting]
    if watch.shadow_cost_usd:
        lines.append("shadow cost (shadow and judge calls; not in the tasks' spend):")
        lines += [
            f"  {task} {model}: ${usd}"
            for (task, model), usd in sorted(watch.shadow_cost_usd.items())
        ]
    return lines
