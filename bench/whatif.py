"""`python -m bench.whatif <llmrouter arguments>`: the `llmrouter` command with the provider
change that docs/BENCHMARKS.md recommends applied in this process only, to measure what
it would buy before anyone changes router/providers/openai_client.py. Bench-only: the
product code is not modified, its OpenAI client is swapped at start-up.

The change: (1) the SDK's aiohttp transport (`openai.DefaultAioHttpClient`) instead of
httpx2/httpcore2, with keep-alive for as many connections as can be in flight; (2)
`chat.completions.create` routed to the SDK's own `post(..., cast_to=ChatCompletion)`,
which skips the per-call TypedDict transform of the parameters (our messages are plain
role/content strings, which the transform leaves unchanged) and returns the same type.
"""

from __future__ import annotations

from typing import Any

import httpx2
import openai
from openai.types.chat import ChatCompletion

from llmrouter.cli import main
from router.providers import openai_client

#: as many pooled connections as requests a worker may have in flight (the default keeps
#: 100 alive, so a 750-call burst opens and closes a new connection per call)
MAX_CONNECTIONS = 4096


def _patched_init(
    self: openai_client.OpenAIProvider, *, provider: str, api_key: str, base_url: str | None
) -> None:
    self.provider = provider
    http = openai.DefaultAioHttpClient(
        limits=httpx2.Limits(
            max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS
        )
    )
    client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0, http_client=http)

    # `timeout` mirrors the SDK's create(): OpenAIProvider.complete passes it by name.
    async def create(*, timeout: float | None = None, **body: Any) -> ChatCompletion:  # noqa: ASYNC109
        return await client.post(
            "/chat/completions", body=body, cast_to=ChatCompletion, options={"timeout": timeout}
        )

    client.chat.completions.create = create  # type: ignore[method-assign,assignment]
    self._client = client


openai_client.OpenAIProvider.__init__ = _patched_init  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
