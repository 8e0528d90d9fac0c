"""The `llmrouter` application: command line, local Kafka, the error tree and logging.

The product packages are `schemas` (the wire contract), `router` (decide and call),
`workers` (the Kafka runtime) and `producers` (the way in and out).
"""

__version__ = "0.1.0"
