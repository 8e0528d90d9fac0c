"""`python -m bench.plain`: what a team would write instead of the pipeline, as a baseline.

The at-least-once consumer loop of bench/consumer.py; each record's prompt is rendered
and sent with `openai.AsyncOpenAI` (typed `chat.completions.create`, on the SDK's
recommended aiohttp transport). `--passthrough` publishes each record unchanged instead
of calling a model (after `--delay-ms`, when given): the floor of any consumer on this
broker.
"""

from __future__ import annotations

import argparse
from typing import Any

import httpx2
import openai

from bench.consumer import Answer, add_arguments, run, serve
from bench.prompt import support_messages
from llmrouter.router.providers.transport import POOL_SIZE


async def _serve(args: argparse.Namespace) -> None:
    if args.passthrough:
        await serve(args, None, name="pass-through consumer")
        return
    client = openai.AsyncOpenAI(
        base_url=args.base_url,
        api_key="sk-bench",
        max_retries=0,
        # The SDK's recommended transport, with a pool as large as the router's (the
        # default keeps 100 connections, too few for thousands of calls in flight).
        http_client=openai.DefaultAioHttpClient(
            limits=httpx2.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE)
        ),
    )

    async def answer(request: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await client.chat.completions.create(
                model=args.model,
                messages=support_messages(request),  # type: ignore[arg-type]
                max_completion_tokens=512,
                temperature=0.2,
                timeout=30,
            )
        except openai.OpenAIError as exc:
            return {"status": "failed", "error": type(exc).__name__}
        return {"status": "ok", "text": response.choices[0].message.content}

    handler: Answer = answer
    try:
        await serve(args, handler, name="plain consumer")
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.plain", description=__doc__)
    add_arguments(parser)
    parser.add_argument("--passthrough", action="store_true", help="copy records, no calls")
    parser.add_argument(
        "--delay-ms", type=float, default=0.0, help="pass-through: hold each record this long"
    )
    run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
