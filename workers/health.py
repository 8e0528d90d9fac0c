"""Liveness, readiness and /metrics over HTTP (aiohttp), one server per worker process.

- `/healthz`: the process and its event loop answer.
- `/readyz`: every worker reached Kafka in its last probe, has partitions assigned, and is
  not stuck (has lag, yet neither fetched nor committed for `stuck_after_s`). 503 with the
  reasons otherwise.
- `/metrics`: Prometheus text format.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from llmrouter.core.errors import ConfigError
from llmrouter.runtime.worker import TransactionalWorker
from llmrouter.schemas import dumps
from llmrouter.workers.metrics import METRICS, Metrics

__all__ = ["HealthServer", "Readiness"]

log = structlog.get_logger("llmrouter.health")


@dataclass
class Readiness:
    """Probes Kafka and samples lag for one worker; decides whether it is ready."""

    worker: TransactionalWorker
    metrics: Metrics
    probe_interval_s: float = 5.0
    stuck_after_s: float = 60.0
    kafka_ok_at: float = 0.0
    reasons: list[str] = field(default_factory=list)

    async def probe(self) -> None:
        lag = await self.worker.sample_lag(timeout_s=max(1.0, self.probe_interval_s / 2))
        now = time.monotonic()
        if lag is not None:
            self.kafka_ok_at = now
            name = self.worker.options.name
            for (topic, partition), value in lag.items():
                self.metrics.consumer_lag.labels(name, topic, str(partition)).set(value)
        self.reasons = self._reasons(now, lag)
        self.metrics.ready.labels(self.worker.options.name).set(0 if self.reasons else 1)
        self.metrics.in_flight.labels(self.worker.options.name).set(self.worker.in_flight)
        self.metrics.uncommitted.labels(self.worker.options.name).set(self.worker.uncommitted)

    def _reasons(self, now: float, lag: dict[tuple[str, int], int] | None) -> list[str]:
        w = self.worker
        reasons = []
        if w.fatal is not None:
            reasons.append(f"stopped: {w.fatal}")
        if now - self.kafka_ok_at > 2.5 * self.probe_interval_s:
            reasons.append("cannot reach Kafka")
        if not w.assigned:
            reasons.append("no partitions assigned")
        total_lag = sum((lag or {}).values())
        idle_s = now - max(w.last_record_at, w.last_commit_at, w.started_at)
        if total_lag > 0 and idle_s > self.stuck_after_s:
            reasons.append(
                f"stuck: lag {total_lag} but nothing fetched or committed for {idle_s:.0f}s"
            )
        return reasons


class HealthServer:
    def __init__(
        self,
        workers: Sequence[TransactionalWorker],
        *,
        host: str = "0.0.0.0",
        port: int = 9400,
        metrics: Metrics = METRICS,
        probe_interval_s: float = 5.0,
        stuck_after_s: float = 60.0,
    ) -> None:
        self._host, self._port = host, port
        self._metrics = metrics
        self.checks = [Readiness(w, metrics, probe_interval_s, stuck_after_s) for w in workers]
        self._probe_interval_s = probe_interval_s
        self.url = ""

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[HealthServer]:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics_text)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            reason = exc.strerror or str(exc)
            raise ConfigError(
                f"cannot serve health and metrics on {self._host}:{self._port}: {reason}",
                key="LLMROUTER_METRICS_PORT",
            ) from None
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        log.info("health and metrics", url=self.url)
        prober = asyncio.create_task(self._probe_loop())
        try:
            yield self
        finally:
            prober.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await prober
            await runner.cleanup()

    async def _probe_loop(self) -> None:
        while True:
            for check in self.checks:
                try:
                    await check.probe()
                except Exception as exc:  # a probe must never take the worker down
                    log.warning("readiness probe failed", error=repr(exc))
            await asyncio.sleep(self._probe_interval_s)

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, _request: web.Request) -> web.Response:
        reasons = {c.worker.options.name: c.reasons for c in self.checks if c.reasons}
        body = dumps({"ready": not reasons, "reasons": reasons})
        return web.Response(
            body=body, status=503 if reasons else 200, content_type="application/json"
        )

    async def _metrics_text(self, _request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(self._metrics.registry),
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )
