"""The client library: publish requests and await their results (`RequestProducer`,
`ResultWaiter`), and the sample workloads drawn from the eval sets (`workload`)."""

from llmrouter.producers.client import RequestProducer, ResultWaiter

__all__ = ["RequestProducer", "ResultWaiter"]
