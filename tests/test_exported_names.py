"""`import llmrouter` is the public API: the client, the wire contract's messages and their
enums, the error root and the version; each name resolves, and loading one needs only the
base install (tests/test_light_install.py)."""

from __future__ import annotations

import enum
import importlib.metadata
import subprocess
import sys

import llmrouter
from llmrouter import schemas
from llmrouter.core.errors import LLMRouterError
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.producers.client import RequestProducer, ResultWaiter
from llmrouter.schemas import WireModel

CLIENT = {"RequestProducer", "ResultWaiter", "KafkaSettings"}

#: every model and enum of the wire contract (schemas/__init__), but the base class
CONTRACT = {
    name
    for name in schemas.__all__
    if isinstance(value := getattr(schemas, name), type)
    and value is not WireModel
    and issubclass(value, WireModel | enum.Enum)
}


def test_the_exported_names_are_exactly_the_public_api() -> None:
    assert {"LLMRequest", "LLMResult", "ClassifiedRequest", "CostEvent", "DeadLetter"} <= CONTRACT
    assert set(llmrouter.__all__) == CLIENT | CONTRACT | {"LLMRouterError", "__version__"}
    assert len(llmrouter.__all__) == len(set(llmrouter.__all__))


def test_every_exported_name_resolves() -> None:
    for name in llmrouter.__all__:
        assert getattr(llmrouter, name) is not None, name
    assert llmrouter.RequestProducer is RequestProducer
    assert llmrouter.ResultWaiter is ResultWaiter
    assert llmrouter.KafkaSettings is KafkaSettings
    assert llmrouter.LLMRouterError is LLMRouterError
    for name in CONTRACT:
        assert getattr(llmrouter, name) is getattr(schemas, name), name
    assert set(llmrouter.__all__) <= set(dir(llmrouter))


def test_the_version_is_the_distribution_s() -> None:
    assert llmrouter.__version__ == importlib.metadata.version("llmrouter")


def test_an_unknown_name_is_an_attribute_error() -> None:
    assert not hasattr(llmrouter, "NoSuchName")


#: what importing the package alone must not load
LAZY = ("llmrouter.producers", "llmrouter.schemas", "aiokafka", "importlib.metadata")


def test_importing_the_package_loads_nothing_exported() -> None:
    """The names load on first use: `import llmrouter.core.errors` stays cheap."""
    code = (
        "import sys, llmrouter\n"
        f"loaded = [m for m in {LAZY!r} if m in sys.modules]\n"
        "assert not loaded, loaded\n"
        "from llmrouter import LLMResult, RequestProducer\n"
        "assert 'llmrouter.producers.client' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
