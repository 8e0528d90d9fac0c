"""`python -m llmrouter.simulator [--host H] [--port N] [--config FILE] [--latency-ms MS]`."""

from __future__ import annotations

import argparse

from llmrouter.simulator.config import SimConfig
from llmrouter.simulator.server import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m llmrouter.simulator",
        description="Provider simulator (OpenAI + Anthropic APIs); a simulator, not a model.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument("--config", help="simulator YAML config (see simulator/config.py)")
    parser.add_argument("--latency-ms", type=float, help="fixed latency for every model")
    args = parser.parse_args(argv)
    config = SimConfig.from_yaml(args.config) if args.config else SimConfig()
    if args.latency_ms is not None:
        config = config.model_copy(update={"latency_ms": args.latency_ms})
    serve(args.host, args.port, config)


if __name__ == "__main__":
    main()
