"""A synthetic four-model outcome set in which the prompt decides which models are good,
for tests and benchmarks of routers over more than two models.

Four families of prompts, each with its own wording; the cheapest model that is good
enough differs by family, so a router that learns the structure sends each family to a
different model at a moderate cost weight:

    family    tiny  small  medium  large     cheapest good enough
    greeting  1.0   1.0    1.0     1.0       tiny
    translate 0.1   0.95   0.95    0.95      small
    legal     0.0   0.2    0.95    0.95      medium
    proof     0.0   0.0    0.2     1.0       large
"""

from __future__ import annotations

import random
from pathlib import Path

from llmrouter.evaluation.learn.outcomes import Outcome, write_outcomes

__all__ = [
    "CHEAPEST_GOOD",
    "COST_WEIGHT",
    "MODELS",
    "PRICE",
    "SCORES",
    "outcomes",
    "prompt",
    "write",
]

MODELS = ("tiny", "small", "medium", "large")
#: USD per token, for prompt and answer alike
PRICE = {"tiny": 1e-6, "small": 6e-6, "medium": 2e-5, "large": 6e-5}
SCORES = {
    "greeting": (1.0, 1.0, 1.0, 1.0),
    "translate": (0.1, 0.95, 0.95, 0.95),
    "legal": (0.0, 0.2, 0.95, 0.95),
    "proof": (0.0, 0.0, 0.2, 1.0),
}
CHEAPEST_GOOD = {"greeting": "tiny", "translate": "small", "legal": "medium", "proof": "large"}
#: a cost weight (score per USD) at which the cheapest good-enough model wins every family
COST_WEIGHT = 200.0

_NAMES = ["Ana", "Bo", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea"]
_THINGS = ["garden", "invoice", "bicycle", "concert", "library", "harbour", "recipe", "meeting"]
_TEMPLATES = {
    "greeting": [
        "Say hello to {name} and wish them a nice day.",
        "Write a short thank-you note to {name} for the {thing}.",
    ],
    "translate": [
        "Translate into French: {name} went to the {thing} yesterday.",
        "Translate this sentence into Spanish: the {thing} opens at {n}.",
    ],
    "legal": [
        "Review clause {n} of the {thing} contract for liability and indemnity risks.",
        "Does the warranty in section {n} of the {thing} agreement survive termination?",
    ],
    "proof": [
        "Prove that for every prime p greater than {n} the sum of the {thing} series diverges.",
        "Prove by induction that the {thing} recurrence is bounded for all n above {n}.",
    ],
}


def prompt(family: str, rng: random.Random) -> str:
    template = rng.choice(_TEMPLATES[family])
    return template.format(name=rng.choice(_NAMES), thing=rng.choice(_THINGS), n=rng.randint(2, 99))


def outcomes(per_family: int, seed: int = 7, prefix: str = "p") -> list[Outcome]:
    rng = random.Random(seed)
    made = []
    for family in SCORES:
        for i in range(per_family):
            text = prompt(family, rng)
            answer_tokens = rng.randint(20, 40)
            for model, score in zip(MODELS, SCORES[family], strict=True):
                tokens = len(text) / 4 + answer_tokens
                made.append(
                    Outcome(
                        prompt_id=f"{prefix}-{family}-{i}",
                        prompt=text,
                        task="assist",
                        model=model,
                        score=score,
                        cost_usd=PRICE[model] * tokens,
                        answer=f"{family} answer by {model}",
                    )
                )
    return made


def write(path: Path, per_family: int, seed: int = 7) -> Path:
    write_outcomes(outcomes(per_family, seed), path)
    return path
