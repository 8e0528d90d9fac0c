"""`llmrouter feedback REQUEST_ID --task T --label X`: what was learned later about an
answer, published on `llm.feedback` (schemas/feedback.py)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from llmrouter.cli.pipeline_commands import BootstrapOption

__all__ = ["feedback"]


def feedback(
    request_id: Annotated[str, typer.Argument(help="The request the feedback is about.")],
    task: Annotated[str, typer.Option(help="The request's task.")],
    label: Annotated[str | None, typer.Option(help="The label the answer should have had.")] = None,
    score: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="How good the answer was, 0..1.")
    ] = None,
    thumbs: Annotated[str | None, typer.Option(help="up or down.")] = None,
    resolution: Annotated[
        str | None, typer.Option(help="How the case the answer served was resolved.")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="The model whose answer it is about, when known.")
    ] = None,
    source: Annotated[str | None, typer.Option(help="Who sends it (a service, a queue).")] = None,
    bootstrap_servers: BootstrapOption = None,
) -> None:
    """Publish one feedback (exactly one of --label, --score, --thumbs, --resolution) on
    llm.feedback, keyed by the request id; prints it as JSON."""
    from llmrouter.producers.client import RequestProducer, build_feedback
    from llmrouter.schemas import encode

    built = build_feedback(  # checked before connecting: bad feedback is never sent
        request_id,
        task=task,
        label=label,
        score=score,
        thumbs=thumbs,
        resolution=resolution,
        model=model,
        source=source,
    )

    async def send() -> None:
        async with RequestProducer.from_env(bootstrap_servers) as producer:
            await producer.send_feedback(built)

    asyncio.run(send())
    typer.echo(encode(built).decode())
