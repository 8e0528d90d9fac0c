"""`python -m bench.litellm_consumer`: the baseline users compare a router with, a LiteLLM
Router behind the same at-least-once consumer loop (bench/consumer.py) as bench/plain.py.

Each record's prompt is rendered as plain.py renders it and sent with
`litellm.Router(...).acompletion` to one deployment, the simulator's OpenAI-compatible
endpoint; the Router is on its defaults apart from `num_retries=0` (as the plain
consumer's SDK client: the simulator never fails) and its HTTP connection pool, as large
as the router's and the plain consumer's (`--pool-size`; LiteLLM's default keeps 500
connections per host, fewer than the calls benchmark (b) has in flight). It runs in a
virtualenv of its own (bench/litellm_env.py makes it), so it imports nothing of the
product.
"""

from __future__ import annotations

import argparse
import importlib
import os
from typing import Any

from bench.consumer import add_arguments, run, serve
from bench.prompt import support_messages

#: the Router's name for the one deployment
DEPLOYMENT = "bench"


async def _serve(args: argparse.Namespace) -> None:
    # The cost map ships with the package: no fetch at start (and nothing leaves the
    # machine); set before the import, which reads it.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ["AIOHTTP_CONNECTOR_LIMIT"] = str(args.pool_size)
    os.environ["AIOHTTP_CONNECTOR_LIMIT_PER_HOST"] = str(args.pool_size)
    litellm: Any = importlib.import_module("litellm")
    litellm.suppress_debug_info = True
    router = litellm.Router(
        model_list=[
            {
                "model_name": DEPLOYMENT,
                "litellm_params": {
                    "model": f"openai/{args.model}",
                    "api_base": args.base_url,
                    "api_key": "sk-bench",
                },
            }
        ],
        num_retries=0,
    )

    async def answer(request: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await router.acompletion(
                model=DEPLOYMENT,
                messages=support_messages(request),
                max_tokens=512,
                temperature=0.2,
                timeout=30,
            )
        except Exception as exc:  # LiteLLM's errors share no base class worth naming
            return {"status": "failed", "error": type(exc).__name__}
        return {"status": "ok", "text": response.choices[0].message.content}

    await serve(args, answer, name="litellm consumer")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.litellm_consumer", description=__doc__)
    add_arguments(parser)
    parser.add_argument("--pool-size", type=int, default=4096, help="HTTP connections at most")
    run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
