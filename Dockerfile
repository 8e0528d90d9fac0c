# The llmrouter image: every command of the `llmrouter` CLI, run as a non-root user.
#
#   docker build -t llmrouter:local .
#   docker run --rm llmrouter:local --help
#   docker run --rm -e KAFKA_BOOTSTRAP_SERVERS=broker:9092 llmrouter:local worker router
#
# Default command: `llmrouter run` (both workers in one process). Health and metrics
# are served on $LLMROUTER_METRICS_PORT (9400): /healthz, /readyz, /metrics.
# No API key or other secret is baked in: pass them at run time (environment variables
# or mounted files, see docs/security.md and helm/llmrouter/README.md).
#
# Works with the classic builder too (no BuildKit-only syntax), so docker-compose v1
# can build it.

# The base image is pinned by digest, so a rebuild gets the same Python and Debian until
# someone decides otherwise: `make upgrade` is where to refresh it (it re-resolves the tag
# when Docker can reach the registry, and prints the step when it cannot).
# python:3.11-slim (Debian trixie, Python 3.11.16) as published 2026-08-16; this is the
# multi-arch index digest (linux/amd64 and linux/arm64).
ARG PYTHON_IMAGE=python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

# --- build: install the project and its runtime dependencies into a venv ---------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/llmrouter
WORKDIR /src
# Dependencies change less often than the code: install them from the runtime lock alone
# first (a cached layer), then the project itself without touching them again. The lock
# (requirements/all.lock: the `all` extra, never `dev`, with pip and setuptools) pins every
# version with its hashes, so the image gets exactly what CI tested; `make lock` and
# `make upgrade` write it.
COPY requirements/all.lock /tmp/all.lock
RUN /opt/llmrouter/bin/pip install --require-hashes -r /tmp/all.lock
# Then the sources (.dockerignore keeps out tests, caches, the venv and deployment files).
COPY . .
# The project itself: its dependencies are in already, and so is its build backend (the
# locked setuptools), so nothing is resolved or downloaded here.
RUN /opt/llmrouter/bin/pip install --no-deps --no-build-isolation . \
    && /opt/llmrouter/bin/pip check

# --- runtime ----------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="llmrouter" \
      org.opencontainers.image.description="Kafka-native multi-model LLM router" \
      org.opencontainers.image.licenses="Apache-2.0"

# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot can check it.
RUN groupadd --system --gid 10001 llmrouter \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin llmrouter

COPY --from=build /opt/llmrouter /opt/llmrouter
# The shipped routing config and eval sets. An installed package looks for them beside
# site-packages, where they are not, so point at them explicitly:
#  - LLMROUTER_CONFIG: the routing config used when no --config is given;
#  - /app/simulator.yaml: the simulator config that loads the eval sets
#    (`llmrouter sim --config /app/simulator.yaml`), as the compose file and chart do.
COPY config/ /app/config/
COPY evalsets/ /app/evalsets/
RUN printf 'eval_dirs: [/app/evalsets]\n' > /app/simulator.yaml

ENV PATH=/opt/llmrouter/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LLMROUTER_CONFIG=/app/config/example.yaml \
    LLMROUTER_METRICS_PORT=9400

WORKDIR /app
USER 10001:10001
EXPOSE 9400

# No HEALTHCHECK here: the same image runs workers (port 9400) and the simulator (8700);
# docker-compose.yml and the Helm chart define the right check for each.
ENTRYPOINT ["llmrouter"]
CMD ["run"]
