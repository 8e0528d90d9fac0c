"""Complexity classifiers: SIMPLE, MEDIUM or COMPLEX, with a confidence."""

from router.classifiers.base import ClassifierVerdict
from router.classifiers.llm import parse_complexity
from router.classifiers.rules import RuleClassifier

__all__ = ["ClassifierVerdict", "RuleClassifier", "parse_complexity"]
