"""Every classifier the config names, built once with the engine."""

from __future__ import annotations

from llmrouter.router.calls import ModelCaller
from llmrouter.router.classifiers.base import Classifier
from llmrouter.router.classifiers.llm import LLMClassifier
from llmrouter.router.classifiers.rules import RuleClassifier
from llmrouter.router.config import RouterConfig, RulesClassifierSpec, RuleSpec

__all__ = ["DEFAULT_RULES", "load_classifiers"]

#: the fallback of an LLM classifier that names no rules classifier of its own
DEFAULT_RULES = RulesClassifierSpec(
    kind="rules",
    rules=[
        RuleSpec(name="long", weight=1.0, min_chars=400),
        RuleSpec(name="several-questions", weight=1.0, min_questions=2),
        RuleSpec(name="many-sentences", weight=0.5, min_sentences=4),
    ],
)


def load_classifiers(config: RouterConfig, caller: ModelCaller) -> dict[str, Classifier]:
    """`config.classifiers` by name; an LLM classifier calls its model through `caller`."""
    rules = {
        name: RuleClassifier(spec)
        for name, spec in config.classifiers.items()
        if isinstance(spec, RulesClassifierSpec)
    }
    default = RuleClassifier(DEFAULT_RULES)
    classifiers: dict[str, Classifier] = {}
    for name, spec in config.classifiers.items():
        if isinstance(spec, RulesClassifierSpec):
            classifiers[name] = rules[name]
        else:
            fallback = rules.get(spec.fallback or "", default)
            classifiers[name] = LLMClassifier(spec, caller, fallback)
    return classifiers
