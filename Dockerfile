# The llmrouter image: every command of the `llmrouter` CLI, run as a non-root user.
#
#   docker build -t llmrouter:local .
#   docker run --rm llmrouter:local --help
#   docker run --rm -e KAFKA_BOOTSTRAP_SERVERS=broker:9092 llmrouter:local worker router
#
# Default command: `llmrouter run` (both workers in one process). Health and metrics
# are served on $LLMROUTER_METRICS_PORT (9400): /healthz, /readyz, /metrics.
# No API key or other secret is baked in: pass them at run time (environment variables
# or mounted files, see README and helm/llmrouter/README.md).
#
# Works with the classic builder too (no BuildKit-only syntax), so docker-compose v1
# can build it.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: install the project and its runtime dependencies into a venv ---------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/llmrouter
WORKDIR /src
# Dependencies change less often than the code: install them from pyproject.toml alone
# first (a cached layer), then the project itself without touching them again.
# The image runs every command, so it gets the `all` extra (cli, which brings the workers'
# packages, eval and redis); never `dev`. `llmrouter[...]` inside an extra is expanded here.
ARG LLMROUTER_EXTRA=all
COPY pyproject.toml ./
RUN python -c "import sys, tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
x = p['optional-dependencies']; \
want = lambda e: [d for r in x[e] for d in (want_all(r) if r.startswith('llmrouter[') else [r])]; \
want_all = lambda r: [d for e in r[len('llmrouter['):-1].split(',') for d in want(e.strip())]; \
print('\n'.join(p['dependencies'] + want(sys.argv[1])))" "$LLMROUTER_EXTRA" > /tmp/requirements.txt \
    && /opt/llmrouter/bin/pip install -r /tmp/requirements.txt
# Then the sources (.dockerignore keeps out tests, caches, the venv and deployment files).
COPY . .
# The project itself: its dependencies are in already.
RUN /opt/llmrouter/bin/pip install --no-deps . \
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
