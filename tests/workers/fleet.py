"""Worker processes on the real broker, started as deployed (`python -m llmrouter worker
router|classifier`, an instance id each, the routers in one consumer group), for tests of
what a fleet of replicas shares: the state store's limits, budgets, cooldowns and
idempotency.

`make_fleet(config_text, tasks=...)` gives task names of the test's own, creates their
topics, writes the config file and returns a `Fleet`; the fixture stops every process it
started (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.errors import KafkaError

from llmrouter.kafkaio.admin import ensure_topics
from llmrouter.router.config_loader import parse_config
from llmrouter.router.paths import direct_tasks
from llmrouter.schemas.topics import router_topics
from llmrouter.workers.launch import CLASSIFIER_GROUP, ROUTER_GROUP

Kind = Literal["router", "classifier"]


@dataclass
class Fleet:
    bootstrap: str
    config_file: Path
    tasks: dict[str, str]
    partitions: int
    logs: Path
    env: dict[str, str]
    procs: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    kinds: dict[str, Kind] = field(default_factory=dict)

    @property
    def group_prefix(self) -> str:
        return self.env["LLMROUTER_GROUP_PREFIX"]

    def group_id(self, kind: Kind = "router") -> str:
        return self.group_prefix + (ROUTER_GROUP if kind == "router" else CLASSIFIER_GROUP)

    def log_of(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    async def spawn(self, name: str, kind: Kind = "router", **env: str) -> None:
        """Start worker process `name` (its instance id too); `env` adds to the fleet's."""
        assert name not in self.procs or self.procs[name].returncode is not None, name
        self.kinds[name] = kind
        with self.log_of(name).open("ab") as out:
            self.procs[name] = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "llmrouter",
                "worker",
                kind,
                "--config",
                str(self.config_file),
                "--instance-id",
                f"{self.group_prefix}{name}",
                env={**self.env, **env},
                stdout=out,
                stderr=out,
            )

    def kill(self, name: str) -> None:
        """SIGKILL: the process gets no chance to drain, commit or leave its group."""
        self.procs[name].send_signal(signal.SIGKILL)

    async def stop(self, name: str, timeout_s: float = 30.0) -> int:
        """SIGTERM and wait (SIGKILL after `timeout_s`); returns the exit code."""
        proc = self.procs[name]
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout_s)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        assert proc.returncode is not None
        return proc.returncode

    def alive(self) -> list[str]:
        return [name for name, proc in self.procs.items() if proc.returncode is None]

    def tails(self, lines: int = 20) -> str:
        """The last lines of every process's log, for an assertion's message."""
        parts = []
        for name in self.procs:
            text = self.log_of(name).read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {name}\n" + "\n".join(text))
        return "\n".join(parts)

    async def settled(self, routers: int, timeout_s: float = 90.0) -> None:
        """Until the routing group is stable with `routers` members, each owning partitions
        and all of them owned (and the classifier group too, when one runs): a rebalance
        during a test would cancel calls in flight, which are then made again."""
        # the router reads every task's classified topic and the requests of the tasks that
        # skip the classifier (router/paths.py); the classifier the other tasks' requests
        direct = len(direct_tasks(parse_config(self.config_file.read_text())))
        per_group = {
            "router": self.partitions * (len(self.tasks) + direct),
            "classifier": self.partitions * (len(self.tasks) - direct),
        }
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        wanted: dict[Kind, int] = {"router": routers}
        if per_group["classifier"] and any(self.kinds[n] == "classifier" for n in self.alive()):
            wanted["classifier"] = 1
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    if not self.alive():
                        raise AssertionError(f"every process exited\n{self.tails()}")
                    owned = {
                        kind: await _owned_partitions(admin, self.group_id(kind)) for kind in wanted
                    }
                    if all(
                        len(counts) == wanted[kind]
                        and min(counts, default=0) > 0
                        and sum(counts) == per_group[kind]
                        for kind, counts in owned.items()
                    ):
                        return
                    await asyncio.sleep(0.2)
        except TimeoutError:
            raise AssertionError(
                f"the groups did not settle within {timeout_s} s\n{self.tails()}"
            ) from None
        finally:
            await admin.close()

    async def aclose(self) -> None:
        for name in list(self.procs):
            if self.procs[name].returncode is None:
                self.procs[name].send_signal(signal.SIGTERM)
        for name in list(self.procs):
            with contextlib.suppress(ProcessLookupError):
                await self.stop(name, timeout_s=20.0)


async def _owned_partitions(admin: AIOKafkaAdminClient, group_id: str) -> list[int]:
    """Partitions owned by each member of a Stable group (an empty list otherwise)."""
    try:
        responses = await admin.describe_consumer_groups([group_id])
    except KafkaError:  # the group's coordinator is not known yet
        return []
    for response in responses:
        for group in response.groups:
            # (error_code, group_id, state, protocol_type, protocol, members, ...)
            if group[1] != group_id or group[0] != 0 or group[2] != "Stable":
                continue
            counts = []
            for member in group[5]:
                assignment = ConsumerProtocolMemberAssignment.decode(member[-1])
                counts.append(sum(len(parts) for _topic, parts in assignment.assignment))
            return counts
    return []


MakeFleet = Callable[..., Awaitable[Fleet]]


@pytest.fixture
async def make_fleet(kafka_bootstrap: str, tmp_path: Path) -> AsyncIterator[MakeFleet]:
    """`await make_fleet(config_text, tasks=("qa",), sim_url=..., redis_url=...)`.

    `config_text` is formatted with the test's task names (`{qa}` → `qa-<suffix>`), so
    literal braces are written `{{ }}`. Every process gets the fleet's environment:
    bootstrap servers, simulator, state store, group prefix, this test's tasks only,
    a short session timeout, no metrics port."""
    made: list[Fleet] = []

    async def make(
        config_text: str,
        *,
        tasks: Iterable[str] = ("qa",),
        sim_url: str,
        redis_url: str | None = None,
        partitions: int = 3,
        **env: str,
    ) -> Fleet:
        suffix = uuid.uuid4().hex[:10]
        names = {name: f"{name}-{suffix}" for name in tasks}
        text = config_text.format(**names)
        await ensure_topics(
            kafka_bootstrap, router_topics(parse_config(text).tasks, partitions=partitions)
        )
        config_file = tmp_path / f"routing-{suffix}.yaml"
        config_file.write_text(text)
        logs = tmp_path / f"logs-{suffix}"
        logs.mkdir()
        fleet_env: dict[str, Any] = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "LLMROUTER_SIMULATOR_URL": sim_url,
            "LLMROUTER_GROUP_PREFIX": f"f{suffix}-",
            "LLMROUTER_TASKS_PATTERN": f".*-{suffix}",
            "LLMROUTER_SESSION_TIMEOUT_MS": "6000",
            "LLMROUTER_METADATA_MAX_AGE_MS": "1000",
            "LLMROUTER_METRICS_PORT": "-1",
            "LLMROUTER_GRACE_S": "5",
            **env,
        }
        if redis_url is not None:
            fleet_env["LLMROUTER_REDIS_URL"] = redis_url
        fleet = Fleet(kafka_bootstrap, config_file, names, partitions, logs, fleet_env)
        made.append(fleet)
        return fleet

    yield make
    for fleet in made:
        await fleet.aclose()
