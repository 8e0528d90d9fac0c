"""(c) The routing decision in process: config/example.yaml's `support-rules` rule classifier
plus `decide()` for customer-support-qa, per request, against a plain dict lookup of the
task's model (the least any router must do).

Inputs are the eval set's real questions, with a mix of user tiers (so the tier-override
branch is taken too) and a partly spent daily budget (so the budget check compares real
numbers). Each iteration is timed on its own with perf_counter_ns, so percentiles are of
single decisions; the timer's own cost is measured and reported, not subtracted (it is in
the baseline too, which makes the ratio conservative). The garbage collector stays on, as
in a worker: p99 includes its pauses.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bench.harness import percentile
from bench.workload import support_examples
from llmrouter.router.budget import BudgetTracker
from llmrouter.router.classifiers import RuleClassifier
from llmrouter.router.config import RulesClassifierSpec
from llmrouter.router.config_loader import EXAMPLE_CONFIG, load_config
from llmrouter.router.decision import decide
from llmrouter.schemas import LLMRequest, UserTier

__all__ = ["DecisionReport", "Timing", "run_decision"]

TASK = "customer-support-qa"
CLASSIFIER = "support-rules"
_TIERS: tuple[UserTier | None, ...] = (
    None,
    None,
    UserTier.FREE,
    UserTier.PAID,
    UserTier.ENTERPRISE,
)
_WARMUP = 2_000


@dataclass(frozen=True)
class Timing:
    label: str
    iterations: int
    p50_us: float
    p99_us: float
    p999_us: float
    mean_us: float
    #: the same decisions timed in thread CPU time, which a busy machine's other
    #: processes (preempting this one) do not add to
    cpu_p99_us: float = float("nan")


@dataclass(frozen=True)
class DecisionReport:
    full: Timing
    classify: Timing
    decide: Timing
    baseline: Timing
    timer_ns: float

    @property
    def p50_ratio(self) -> float:
        return self.full.p50_us / self.baseline.p50_us

    @property
    def p99_ratio(self) -> float:
        return self.full.p99_us / self.baseline.p99_us


def _time(label: str, step: Callable[[int], object], iterations: int, n_inputs: int) -> Timing:
    clock, cpu = time.perf_counter_ns, time.thread_time_ns
    for i in range(_WARMUP):
        step(i % n_inputs)
    samples = [0] * iterations
    for i in range(iterations):
        started = clock()
        step(i % n_inputs)
        samples[i] = clock() - started
    cpu_samples = [0] * iterations
    for i in range(iterations):  # a second pass: the CPU clock costs more to read
        started = cpu()
        step(i % n_inputs)
        cpu_samples[i] = cpu() - started
    us = [s / 1000 for s in samples]
    return Timing(
        label,
        iterations,
        percentile(us, 50),
        percentile(us, 99),
        percentile(us, 99.9),
        sum(us) / len(us),
        percentile([s / 1000 for s in cpu_samples], 99),
    )


def _timer_overhead_ns(iterations: int) -> float:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(iterations):
        started = clock()
        samples.append(clock() - started)
    return percentile(samples, 50)


def run_decision(iterations: int) -> DecisionReport:
    print(f"(d) decision: {iterations:,} iterations each", flush=True)
    config = load_config(EXAMPLE_CONFIG)
    spec = config.classifiers[CLASSIFIER]
    assert isinstance(spec, RulesClassifierSpec)
    classifier = RuleClassifier(spec)
    budget = BudgetTracker()
    budget.seed(TASK, Decimal("42.50"))  # spent, below the task's daily budget
    requests: Sequence[LLMRequest] = [
        LLMRequest(
            request_id=uuid.uuid4().hex,
            task=TASK,
            input=example.input,
            context=example.context,
            user_tier=_TIERS[i % len(_TIERS)],
        )
        for i, example in enumerate(support_examples())
    ]
    n = len(requests)
    verdicts = [classifier.classify(r.input) for r in requests]
    model_of_task = {TASK: "claude-3-haiku"}

    def full(i: int) -> object:
        request = requests[i]
        verdict = classifier.classify(request.input)
        return decide(config, request, verdict.complexity, budget.snapshot())

    def classify_only(i: int) -> object:
        return classifier.classify(requests[i].input)

    def decide_only(i: int) -> object:
        return decide(config, requests[i], verdicts[i].complexity, budget.snapshot())

    def lookup(i: int) -> object:
        return model_of_task[requests[i].task]

    report = DecisionReport(
        full=_time("rule classifier + decide()", full, iterations, n),
        classify=_time("rule classifier alone", classify_only, iterations, n),
        decide=_time("decide() alone (with budget snapshot)", decide_only, iterations, n),
        baseline=_time("baseline: dict lookup of the task's model", lookup, iterations, n),
        timer_ns=_timer_overhead_ns(iterations),
    )
    print(
        f"    {report.full.label}: p50 {report.full.p50_us:.1f} µs, p99 {report.full.p99_us:.1f} µs"
        f" ({report.p99_ratio:.0f}× the dict lookup's p99)",
        flush=True,
    )
    return report
