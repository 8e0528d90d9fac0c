"""The way in and out: publish requests, await their results, replay, load generation."""

from llmrouter.producers.client import RequestProducer, ResultWaiter

__all__ = ["RequestProducer", "ResultWaiter"]
