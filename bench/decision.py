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

import itertools
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bench.harness import percentile
from bench.workload import support_examples
from router.budget import BudgetTracker
from router.classifiers import ClassifierVerdict, RuleClassifier
from router.classifiers.rules import _SENTENCE_END
from router.config import RulesClassifierSpec
from router.config_loader import EXAMPLE_CONFIG, load_config
from router.decision import decide
from schemas import Complexity, LLMRequest, UserTier

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


@dataclass(frozen=True)
class DecisionReport:
    full: Timing
    classify: Timing
    decide: Timing
    baseline: Timing
    #: the rule classifier as docs/BENCHMARKS.md proposes it, + decide()
    whatif: Timing
    #: the proposal gave the same verdict as RuleClassifier on every eval input
    whatif_agrees: bool
    timer_ns: float

    @property
    def p50_ratio(self) -> float:
        return self.full.p50_us / self.baseline.p50_us

    @property
    def p99_ratio(self) -> float:
        return self.full.p99_us / self.baseline.p99_us


def _time(label: str, step: Callable[[int], object], iterations: int, n_inputs: int) -> Timing:
    clock = time.perf_counter_ns
    for i in range(_WARMUP):
        step(i % n_inputs)
    samples = [0] * iterations
    for i in range(iterations):
        started = clock()
        step(i % n_inputs)
        samples[i] = clock() - started
    us = [s / 1000 for s in samples]
    return Timing(
        label,
        iterations,
        percentile(us, 50),
        percentile(us, 99),
        percentile(us, 99.9),
        sum(us) / len(us),
    )


def _timer_overhead_ns(iterations: int) -> float:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(iterations):
        started = clock()
        samples.append(clock() - started)
    return percentile(samples, 50)


class _PrefilteredRules:
    """What-if (bench only): RuleClassifier's verdicts, computed the way docs/BENCHMARKS.md
    recommends for router/classifiers/rules.py. The text is lower-cased once; a word rule
    asks `word in text` (a C substring scan, no regex) and only for a word that occurs
    checks the characters around each hit for a word boundary; the sentence rule stops at its
    threshold. Same rules, same scores: only the way of looking changes. (Words that
    begin or end with a non-word character would need the regex's own \\b semantics; the
    shipped rules have none.)"""

    def __init__(self, spec: RulesClassifierSpec) -> None:
        self._spec = spec
        self._reference = RuleClassifier(spec)
        self._weights = {rule.name: rule.weight for rule in spec.rules}
        self._words = {
            rule.name: tuple(w.lower() for w in rule.any_of) for rule in spec.rules if rule.any_of
        }

    @staticmethod
    def _has_word(low: str, word: str) -> bool:
        at = low.find(word)
        while at != -1:
            end = at + len(word)
            before = low[at - 1] if at else " "
            after = low[end] if end < len(low) else " "
            if not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_"):
                return True
            at = low.find(word, at + 1)
        return False

    def fired(self, text: str) -> list[str]:
        low = text.lower()
        fired = []
        for rule in self._spec.rules:
            if rule.min_chars is not None:
                hit = len(text) >= rule.min_chars
            elif rule.min_questions is not None:
                hit = text.count("?") >= rule.min_questions
            elif rule.min_sentences is not None:
                ends = itertools.islice(_SENTENCE_END.finditer(text), rule.min_sentences)
                hit = sum(1 for _ in ends) >= rule.min_sentences
            else:
                words = self._words[rule.name]
                hit = any(w in low and self._has_word(low, w) for w in words)
            if hit:
                fired.append(rule.name)
        return fired

    def classify(self, text: str) -> ClassifierVerdict:
        fired = self.fired(text)
        score = sum(self._weights[name] for name in fired)
        if score >= self._spec.complex_at:
            level, edge = Complexity.COMPLEX, self._spec.complex_at
        elif score >= self._spec.medium_at:
            level, edge = Complexity.MEDIUM, self._spec.medium_at
        else:
            level, edge = Complexity.SIMPLE, self._spec.medium_at
        confidence = min(1.0, 0.6 + 0.2 * abs(score - edge))
        reason = "rules: " + (", ".join(fired) if fired else "none fired")
        return ClassifierVerdict(level, round(confidence, 3), "rules", reason)

    def agrees(self, texts: Sequence[str]) -> bool:
        return all(self.classify(t) == self._reference.classify(t) for t in texts)


def run_decision(iterations: int) -> DecisionReport:
    print(f"(c) decision: {iterations:,} iterations each", flush=True)
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

    proposal = _PrefilteredRules(spec)

    def whatif(i: int) -> object:
        request = requests[i]
        verdict = proposal.classify(request.input)
        return decide(config, request, verdict.complexity, budget.snapshot())

    report = DecisionReport(
        full=_time("rule classifier + decide()", full, iterations, n),
        classify=_time("rule classifier alone", classify_only, iterations, n),
        decide=_time("decide() alone (with budget snapshot)", decide_only, iterations, n),
        baseline=_time("baseline: dict lookup of the task's model", lookup, iterations, n),
        whatif=_time("what-if: prefiltered rules + decide()", whatif, iterations, n),
        whatif_agrees=proposal.agrees([r.input for r in requests]),
        timer_ns=_timer_overhead_ns(iterations),
    )
    print(
        f"    {report.full.label}: p50 {report.full.p50_us:.1f} µs, p99 {report.full.p99_us:.1f} µs"
        f" ({report.p99_ratio:.0f}× the dict lookup's p99)",
        flush=True,
    )
    return report
