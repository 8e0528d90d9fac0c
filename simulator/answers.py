"""Deterministic answers with a quality knob: what the simulated model says.

Every random-looking choice is a hash of (seed, model id, eval input, what is decided), so
the same request to the same model always gets the same answer, and a better model gets
more things right:

* an eval example with `expected_elements`: each element appears verbatim in the answer
  with probability p, inside a sentence of the example's knowledge-base context when one
  mentions it (else a stock phrase); missing ones become filler;
* an eval example with a `label`: the right label with probability p, else another label
  of the same eval set (or of the prompt's vocabulary: safe/unsafe, positive/negative/...);
* p is the model's quality adjusted by the example's difficulty: easy 1-(1-q)/2, medium q,
  hard 2q-1 (so cheap models lose most on hard inputs, which is what complexity routing
  exploits);
* a prompt that asks for JSON with a `confidence` field gets `{"label", "confidence",
  "reason"}` (or `{"answer", "confidence", "reason"}` for open answers); confidence > 0.9
  for 97% of right answers and 30% of wrong ones, so cheap models are confident on about
  80% of inputs and confident answers are right more often than the rest;
* a judge's grading prompt (router/judging.py) gets a verdict read off the graded request's
  eval example (`simulator.judging`);
* the LLM classifier's complexity prompt gets SIMPLE / MEDIUM / COMPLEX (see
  `simulator.complexity`); on a known eval input, the example's difficulty with
  probability = quality;
* anything else gets a plausible generic answer (or summary) whose length grows with the
  input.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass, field

import orjson

from llmrouter.simulator import complexity, judging
from llmrouter.simulator.evals import EvalExample, EvalIndex


@dataclass(frozen=True, slots=True)
class Prompt:
    """What a request asks, API-neutral: the system prompt and (role, text) messages."""

    system: str
    messages: tuple[tuple[str, str], ...]
    text: str = field(init=False)

    def __post_init__(self) -> None:
        parts = [self.system] if self.system else []
        parts.extend(content for _, content in self.messages)
        object.__setattr__(self, "text", "\n".join(parts))

    def search_texts(self) -> list[str]:
        """Where an eval input may sit: user messages, last first, then the system prompt."""
        texts = [content for role, content in reversed(self.messages) if role == "user"]
        if self.system:
            texts.append(self.system)
        return texts

    def last_user(self) -> str:
        for role, content in reversed(self.messages):
            if role == "user":
                return content
        return self.text


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_OPENERS = (
    "Thanks for reaching out.",
    "Happy to help with that.",
    "Good question.",
    "Here's what I'd suggest.",
)
_PHRASES = ("Please note: {}.", "Also keep in mind: {}.", "The relevant detail here: {}.")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+")
_FILLERS = (
    "Our help center has more details on this.",
    "Double-check the details before you continue.",
    "This usually resolves things quickly.",
    "If that doesn't help, reply here and we'll take another look.",
)
_CLOSERS = (
    "Let me know if there's anything else I can help with.",
    "Hope this helps!",
    "Feel free to reach out if you have more questions.",
)
_GENERIC = (
    "The short answer depends on a few details of your situation.",
    "In most cases the standard process covers this without any extra steps.",
    "It's worth checking the relevant settings first, since that is the most common cause.",
    "If anything looks unexpected, keep a note of the exact details and timestamps.",
    "Support can look into the specifics if the usual steps don't resolve it.",
    "There are a couple of options, and the simplest one is usually the right start.",
    "Changes like this typically take effect within a few minutes.",
    "You can review the outcome afterwards to confirm everything is in order.",
)
_UNSAFE_WORDS = _words(
    "kill hate idiot stupid die attack bomb moron scum trash kys threat "
    "threaten hurt violence violent slur racist loser shut"
)
_POSITIVE_WORDS = _words(
    "good great love excellent amazing happy fantastic wonderful best "
    "awesome perfect like enjoyed recommend pleased fast helpful"
)
_NEGATIVE_WORDS = _words(
    "bad terrible hate awful worst poor disappointed broken slow angry "
    "refund useless horrible never problem issue"
)
_WORD = re.compile(r"[a-z']+")


def _unit(*parts: str) -> float:
    """A deterministic number in [0, 1) from the parts."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 18446744073709551616.0


def _pick(options: tuple[str, ...], *parts: str) -> str:
    return options[int(_unit(*parts) * len(options))]


def effective_quality(quality: float, difficulty: str) -> float:
    """The chance of getting one thing right on an example of this difficulty."""
    if difficulty == "easy":
        return 1.0 - (1.0 - quality) / 2.0
    if difficulty == "hard":
        return max(0.0, 2.0 * quality - 1.0)
    return quality


def _vocabulary(lowered_prompt: str) -> tuple[str, ...]:
    if "unsafe" in lowered_prompt:
        return ("safe", "unsafe")
    if "sentiment" in lowered_prompt or (
        "positive" in lowered_prompt and "negative" in lowered_prompt
    ):
        return ("positive", "negative", "neutral")
    return ()


def _reason(label: str) -> str:
    low = label.lower()
    if low == "safe":
        return "The text contains no harmful, abusive or policy-violating content."
    if low == "unsafe":
        return "The text contains abusive or harmful language."
    if low in ("positive", "negative", "neutral"):
        return f"The wording expresses a {low} view overall."
    return f"The input best matches the '{label}' category."


class Answerer:
    """Produces the answer text of a simulated model; results are memoised (bounded)."""

    def __init__(self, index: EvalIndex, seed: int = 0, cache_size: int = 16384) -> None:
        self.index = index
        self._seed = str(seed)
        self._cache: OrderedDict[tuple[str, float, str], str] = OrderedDict()
        self._cache_size = cache_size

    def answer(self, model_id: str, quality: float, prompt: Prompt) -> str:
        key = (model_id, quality, prompt.text)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        text = self._compute(model_id, quality, prompt)
        self._cache[key] = text
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return text

    # -- the decision tree -------------------------------------------------------------

    def _compute(self, model_id: str, quality: float, prompt: Prompt) -> str:
        verdict = judging.grade(prompt.text, self.index)
        if verdict is not None:  # the online or offline judge's grading prompt
            return verdict
        lowered = prompt.text.lower()
        if complexity.is_complexity_prompt(lowered):
            return self._complexity(model_id, quality, prompt)
        example = self.index.find(prompt.search_texts())
        json_mode = "json" in lowered and "confidence" in lowered
        if example is not None and example.label is not None:
            label, correct = self._label(model_id, quality, example, lowered)
            if json_mode:
                return self._json_label(model_id, example.input, label, correct)
            return label
        if example is not None:
            text, share = self._elements(model_id, quality, example, "summar" in lowered)
            if json_mode:
                conf = self._confidence(model_id, example.input, share >= 0.5)
                return orjson.dumps(
                    {"answer": text, "confidence": conf, "reason": "Based on the provided context."}
                ).decode()
            return text
        return self._unknown(model_id, quality, prompt, lowered, json_mode)

    def _complexity(self, model_id: str, quality: float, prompt: Prompt) -> str:
        question = complexity.extract_question(prompt.last_user())
        example = self.index.find([question])
        if example is not None and _unit(self._seed, model_id, example.input, "cx") < quality:
            return {"easy": "SIMPLE", "hard": "COMPLEX"}.get(example.difficulty, "MEDIUM")
        return complexity.classify(question)

    def _label(
        self, model_id: str, quality: float, example: EvalExample, lowered: str
    ) -> tuple[str, bool]:
        assert example.label is not None
        p = effective_quality(quality, example.difficulty)
        if _unit(self._seed, model_id, example.input, "label") < p:
            return example.label, True
        vocab = self.index.labels_of(example.task)
        if len(vocab) < 2:
            vocab = _vocabulary(lowered)
        wrong = tuple(v for v in vocab if v.lower() != example.label.lower()) or ("uncertain",)
        return _pick(wrong, self._seed, model_id, example.input, "wrong"), False

    def _confidence(self, model_id: str, key: str, correct: bool) -> float:
        high = _unit(self._seed, model_id, key, "conf") < (0.97 if correct else 0.30)
        v = _unit(self._seed, model_id, key, "conf-value")
        return round(0.91 + 0.08 * v, 2) if high else round(0.35 + 0.5 * v, 2)

    def _json_label(self, model_id: str, key: str, label: str, correct: bool) -> str:
        conf = self._confidence(model_id, key, correct)
        return orjson.dumps({"label": label, "confidence": conf, "reason": _reason(label)}).decode()

    def _elements(
        self, model_id: str, quality: float, example: EvalExample, summary: bool = False
    ) -> tuple[str, float]:
        p = effective_quality(quality, example.difficulty)
        inp = example.input
        kept: list[str] = []
        missing: list[str] = []
        for element in example.expected_elements:
            won = _unit(self._seed, model_id, inp, "el", element) < p
            (kept if won else missing).append(element)
        mentions = self._mentions(model_id, example, kept, missing)
        if summary:  # a summary: just the points, no support-desk pleasantries
            return "Summary: " + (" ".join(mentions) or "no key points."), self._share(
                example, kept
            )
        parts = [_pick(_OPENERS, self._seed, model_id, inp, "open"), *mentions]
        start = int(_unit(self._seed, model_id, inp, "fill") * len(_FILLERS))
        parts.extend(_FILLERS[(start + i) % len(_FILLERS)] for i in range(min(len(missing), 2)))
        parts.append(_pick(_CLOSERS, self._seed, model_id, inp, "close"))
        return " ".join(parts), self._share(example, kept)

    @staticmethod
    def _share(example: EvalExample, kept: list[str]) -> float:
        return len(kept) / len(example.expected_elements) if example.expected_elements else 1.0

    def _mentions(
        self, model_id: str, example: EvalExample, kept: list[str], missing: list[str]
    ) -> list[str]:
        """Sentences that contain each kept element verbatim and no missing one.

        A sentence of the example's context (its knowledge-base snippet) is quoted when one
        mentions the element; otherwise the element goes into a stock phrase.
        """
        sentences = [s for s in _SENTENCE_SPLIT.split(example.context) if s.strip()]
        banned = [m.lower() for m in missing]
        out: list[str] = []
        for element in kept:
            if any(element in line for line in out):
                continue
            low = element.lower()
            for sentence in sentences:
                s_low = sentence.lower()
                at = s_low.find(low)
                if at >= 0 and not any(b in s_low for b in banned) and sentence not in out:
                    out.append(sentence[:at] + element + sentence[at + len(element) :])
                    break
            else:
                phrase = _pick(_PHRASES, self._seed, model_id, example.input, "phrase", element)
                out.append(phrase.format(element))
        return out

    def _unknown(
        self, model_id: str, quality: float, prompt: Prompt, lowered: str, json_mode: bool
    ) -> str:
        user = prompt.last_user()
        vocab = _vocabulary(lowered)
        if json_mode or (vocab and "classif" in lowered):
            label = self._heuristic_label(model_id, user, vocab)
            if not json_mode:
                return label
            right = _unit(self._seed, model_id, user, "ok") < quality
            return self._json_label(model_id, user, label, right)
        if "summar" in lowered:
            return self._summary(user)
        return self._generic(model_id, user)

    def _heuristic_label(self, model_id: str, text: str, vocab: tuple[str, ...]) -> str:
        words = set(_WORD.findall(text.lower()))
        if vocab == ("safe", "unsafe"):
            return "unsafe" if words & _UNSAFE_WORDS else "safe"
        if vocab and vocab[0] == "positive":
            score = len(words & _POSITIVE_WORDS) - len(words & _NEGATIVE_WORDS)
            return "positive" if score > 0 else "negative" if score < 0 else "neutral"
        if vocab:
            return _pick(vocab, self._seed, model_id, text, "vocab")
        return "uncertain"

    @staticmethod
    def _summary(text: str) -> str:
        body = " ".join(
            line.strip()
            for line in text.splitlines()
            if line.strip() and "summar" not in line.lower() and not line.strip().endswith(":")
        )
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", body) if s]
        keep = max(1, min(3, (len(sentences) + 2) // 3))
        return "Summary: " + (" ".join(sentences[:keep]) or "nothing to summarise.")

    def _generic(self, model_id: str, text: str) -> str:
        topic = " ".join(complexity.extract_question(text).split()[:8]).rstrip("?.!,:;")
        count = max(2, min(8, 2 + len(text) // 150))
        start = int(_unit(self._seed, model_id, text, "generic") * len(_GENERIC))
        body = " ".join(_GENERIC[(start + i) % len(_GENERIC)] for i in range(count))
        return f'About "{topic}": {body}' if topic else body
