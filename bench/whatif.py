"""`python -m bench.whatif <llmrouter arguments>`: the `llmrouter` command with the provider
change that docs/BENCHMARKS.md recommends applied in this process only, to measure what it
would buy before anyone changes router/providers/openai_client.py. Bench-only: the product
code is not modified; its OpenAI client is adjusted right after the provider builds it.

The change: `chat.completions.create(...)` goes through the SDK's own
`post("/chat/completions", body=..., cast_to=ChatCompletion)`, which skips the per-call
TypedDict transform of the parameters (our messages are plain role/content strings, which
the transform returns unchanged) and returns the same type, with the same errors. The
client itself (its transport, pool, auth) stays as the product builds it.
"""

from __future__ import annotations

from typing import Any

from openai.types.chat import ChatCompletion

from llmrouter.cli import main
from llmrouter.router.providers import openai_client

_product_init = openai_client.OpenAIProvider.__init__


def _init_then_post(self: openai_client.OpenAIProvider, **kwargs: Any) -> None:
    _product_init(self, **kwargs)
    client = self._client

    # `timeout` mirrors the SDK's create(): OpenAIProvider.complete passes it by name.
    async def create(*, timeout: float | None = None, **body: Any) -> ChatCompletion:  # noqa: ASYNC109
        return await client.post(
            "/chat/completions", body=body, cast_to=ChatCompletion, options={"timeout": timeout}
        )

    client.chat.completions.create = create  # type: ignore[method-assign,assignment]


openai_client.OpenAIProvider.__init__ = _init_then_post  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
