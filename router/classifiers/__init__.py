"""Complexity classifiers: SIMPLE, MEDIUM or COMPLEX, with a confidence, behind one
`Classifier` interface (rules, or a cheap model with the rules as its fallback)."""

from llmrouter.router.classifiers.base import Classifier, ClassifierVerdict
from llmrouter.router.classifiers.catalog import load_classifiers
from llmrouter.router.classifiers.llm import LLMClassifier, parse_complexity
from llmrouter.router.classifiers.rules import RuleClassifier

__all__ = [
    "Classifier",
    "ClassifierVerdict",
    "LLMClassifier",
    "RuleClassifier",
    "load_classifiers",
    "parse_complexity",
]
