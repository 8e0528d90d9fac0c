"""Complexity classifiers: SIMPLE, MEDIUM or COMPLEX, with a confidence."""

from llmrouter.router.classifiers.base import ClassifierVerdict
from llmrouter.router.classifiers.llm import parse_complexity
from llmrouter.router.classifiers.rules import RuleClassifier

__all__ = ["ClassifierVerdict", "RuleClassifier", "parse_complexity"]
