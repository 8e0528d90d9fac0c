"""Deployment files: Dockerfile, docker-compose.yml and the Helm chart (helm/llmrouter).

Nothing here needs Docker or a cluster. The compose file is checked with docker-compose
(v1.29's validator) when installed; the chart with `.ci/helm-check` (helm lint, helm
template, offline Kubernetes schema validation) when helm, or Go to build it, is there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "llmrouter"
COMPOSE = ROOT / "docker-compose.yml"
#: the worker kinds deployed by default (the batch worker: the example config has batch_api)
WORKERS = ("classifier", "router", "batch")
#: the worker kinds the chart's network policies cover (the quality worker is off by default)
POLICY_WORKERS = {*WORKERS, "quality"}


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def _interpolate(text: str) -> str:
    """Compose's ${VAR:-default} / ${VAR-default} with an empty environment."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}", r"\1", text)


# --- docker-compose.yml -----------------------------------------------------------------


@pytest.mark.parametrize("profile", [None, "redis"])
def test_compose_file_is_valid(profile: str | None) -> None:
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.skip("docker-compose is not installed")
    args = [compose, "-f", str(COMPOSE)]
    if profile:
        args += ["--profile", profile]
    result = subprocess.run(
        [*args, "config", "-q"], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr


def test_compose_services_are_wired() -> None:
    services = _compose()["services"]
    assert {"kafka", "topics", "simulator", *WORKERS, "redis"} <= services.keys()
    assert services["redis"]["profiles"] == ["redis"]
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    ids = set()
    for kind in WORKERS:
        worker = services[kind]
        env = worker["environment"]
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:19092"
        assert "simulator:8700" in env["LLMROUTER_SIMULATOR_URL"]
        ids.add(env["LLMROUTER_INSTANCE_ID"])
        for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
            assert env[key] is None, f"{key} must come from the host, not the file"
        assert worker["depends_on"]["topics"]["condition"] == "service_completed_successfully"
        assert worker["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert "/readyz" in " ".join(worker["healthcheck"]["test"])
        # Docker's default 10 s would SIGKILL a worker in the middle of its 30 s drain.
        grace = int(worker["stop_grace_period"].rstrip("s"))
        assert grace > float(env["LLMROUTER_GRACE_S"])
    assert len(ids) == len(WORKERS), "each worker service needs its own instance id"


def test_compose_commands_are_real_cli_invocations() -> None:
    """Every project service's command parses with the installed CLI (options exist)."""
    for name, service in _compose()["services"].items():
        if "build" not in service:
            continue
        command = [_interpolate(str(part)) for part in service["command"]]
        result = subprocess.run(
            [sys.executable, "-m", "llmrouter", *command, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
        assert result.returncode == 0, f"{name}: {command}: {result.stdout}{result.stderr}"


# --- Dockerfile -------------------------------------------------------------------------


def test_dockerfile_runs_the_cli_as_a_non_root_user() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim|^ARG PYTHON_IMAGE=python:3\.11-slim", text, re.M)
    assert 'ENTRYPOINT ["llmrouter"]' in text
    assert 'CMD ["run"]' in text
    assert "EXPOSE 9400" in text
    user = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert user, "no USER"
    assert not user[-1].startswith(("root", "0")), user
    assert "[dev]" not in text
    assert ",dev" not in text
    # No secret is baked into a layer.
    assert not re.search(r"^\s*(ARG|ENV)\b.*(API_KEY|PASSWORD|SECRET|TOKEN)", text, re.M)


def test_dockerfile_is_reproducible() -> None:
    """The same base image and the same package versions on every build, until `make upgrade`."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    bases = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert bases, "no FROM"
    image = re.search(r"^ARG PYTHON_IMAGE=(\S+)", text, re.M)
    assert image is not None
    for base in bases:
        resolved = image.group(1) if base == "${PYTHON_IMAGE}" else base
        assert re.fullmatch(r"[\w.:/-]+@sha256:[0-9a-f]{64}", resolved), f"{base} is not pinned"
    assert "make upgrade" in text, "say where the digest is refreshed"
    # the runtime lock, whose hashes pip checks; then the project alone
    assert "COPY requirements/all.lock /tmp/all.lock" in text
    assert "pip install --require-hashes -r /tmp/all.lock" in text
    assert re.search(r"pip install --no-deps --no-build-isolation \.", text)
    assert "pyproject.toml" not in re.sub(r"#.*", "", text), "install from the lock, not the ranges"


def test_dockerignore_keeps_out_local_state_but_not_the_packages() -> None:
    ignored = {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".env"} <= ignored
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    include = re.search(r"include = \[([^\]]*)\]", pyproject)
    assert include is not None
    for pattern in re.findall(r'"([^"]+)"', include.group(1)):
        package = pattern.rstrip("*")
        assert package not in ignored, f"the image build needs {package}/"
    for needed in ("config", "evalsets", "pyproject.toml"):
        assert needed not in ignored


# --- Helm chart (static) ----------------------------------------------------------------


#: values that are one Kubernetes object each, documented as a whole
_OBJECT_VALUES = (
    "resources",
    "podSecurityContext",
    "securityContext",
    "rollingUpdate",
    "namespaceSelector",
)


def _leaf_keys(values: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and key not in _OBJECT_VALUES:
            keys.extend(_leaf_keys(value, f"{path}."))
        else:
            keys.append(path)
    return keys


def test_chart_readme_documents_every_value() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    readme = (CHART / "README.md").read_text(encoding="utf-8")
    missing = [key for key in _leaf_keys(values) if f"`{key}`" not in readme]
    assert not missing, f"values missing from helm/llmrouter/README.md: {missing}"


def test_chart_values_match_their_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = yaml.safe_load((CHART / "values.schema.json").read_text(encoding="utf-8"))
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    jsonschema.validate(values, schema)
    all_on = yaml.safe_load((CHART / "ci" / "all-on-values.yaml").read_text(encoding="utf-8"))
    jsonschema.validate(all_on, schema)


def test_chart_default_routing_config_is_the_example() -> None:
    shipped = CHART / "files" / "routing.yaml"
    assert shipped.resolve() == (ROOT / "config" / "example.yaml").resolve()


# --- Helm chart (rendered and validated) ------------------------------------------------


def _helm_or_go() -> str | None:
    if os.environ.get("HELM") or shutil.which("helm"):
        return "helm"
    go = shutil.which("go")
    if go is None:
        return None
    gopath = subprocess.run(
        [go, "env", "GOPATH"], capture_output=True, text=True, timeout=30
    ).stdout.strip()
    return "helm" if gopath and (Path(gopath) / "bin" / "helm").is_file() else "go"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_helm_chart_lints_renders_and_validates() -> None:
    """`.ci/helm-check`: seconds with helm built; about 2 minutes to build it with Go."""
    tool = _helm_or_go()
    if tool is None:
        pytest.skip("neither helm nor Go (to build helm) is installed")
    result = subprocess.run(
        ["bash", str(ROOT / ".ci" / "helm-check")],
        capture_output=True,
        text=True,
        timeout=590,
        cwd=ROOT,
        env={**os.environ, "PYTHON": sys.executable},
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- the bundled Redis and the network policies -----------------------------------------


def test_compose_redis_has_a_password_and_a_memory_cap_that_never_evicts_state() -> None:
    services = _compose()["services"]
    state, cache = services["redis"], services["redis-cache"]
    assert cache["profiles"] == ["redis"]
    state_command = " ".join(state["command"])
    assert "--maxmemory-policy noeviction" in state_command
    assert "--maxmemory" in state_command
    assert "requirepass" in state_command
    # the password is read from the environment by the container's shell, never written here
    assert "$$REDIS_PASSWORD" in state_command
    assert "allkeys-lru" in " ".join(cache["command"])
    assert "requirepass" in " ".join(cache["command"])
    for service in (state, cache):
        assert "REDISCLI_AUTH" in " ".join(service["healthcheck"]["test"])
    # The workers authenticate with the state store's password, from the same variable.
    for kind in WORKERS:
        env = services[kind]["environment"]
        assert env["LLMROUTER_REDIS_PASSWORD"] == state["environment"]["REDIS_PASSWORD"]
        assert "redis-cache" in env["REDIS_URL"]


def test_chart_deploys_the_quality_worker_when_enabled() -> None:
    assert not [d for d in _render() if d["metadata"]["name"] == "ci-llmrouter-quality"]
    docs = _render("--set", "quality.enabled=true")
    pod = _named(docs, "Deployment", "ci-llmrouter-quality")["spec"]
    assert pod["replicas"] == 1
    (container,) = pod["template"]["spec"]["containers"]
    assert container["args"][:2] == ["worker", "quality"]
    _named(docs, "PodDisruptionBudget", "ci-llmrouter-quality")


def test_chart_deploys_the_batch_worker_unless_disabled() -> None:
    pod = _named(_render(), "Deployment", "ci-llmrouter-batch")["spec"]
    assert pod["replicas"] == 1
    (container,) = pod["template"]["spec"]["containers"]
    assert container["args"][:2] == ["worker", "batch"]
    assert not [
        d for d in _render("--set", "batch.enabled=false") if "batch" in d["metadata"]["name"]
    ]


def test_compose_runs_the_batch_worker_the_example_config_needs() -> None:
    batch = _compose()["services"]["batch"]
    assert batch["command"] == ["worker", "batch"]
    assert "profiles" not in batch, "on by default, like the routers that hand requests to it"


def _helm() -> str | None:
    if helm := os.environ.get("HELM") or shutil.which("helm"):
        return helm
    go = shutil.which("go")
    if go is None:
        return None
    gopath = subprocess.run(
        [go, "env", "GOPATH"], capture_output=True, text=True, timeout=30
    ).stdout.strip()
    built = Path(gopath) / "bin" / "helm"
    return str(built) if gopath and built.is_file() else None


def _render(*args: str) -> list[dict[str, Any]]:
    helm = _helm()
    if helm is None:
        pytest.skip("helm is not installed (`.ci/helm-check` builds it)")
    result = subprocess.run(
        [helm, "template", "ci", str(CHART), "--namespace", "llm", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} rendered"
    return found[0]


def _ports(rule: dict[str, Any]) -> set[tuple[int | str, str]]:
    return {(p["port"], p["protocol"]) for p in rule.get("ports", [])}


def test_chart_network_policy_lets_workers_reach_only_what_they_need() -> None:
    docs = _render()
    policy = _named(docs, "NetworkPolicy", "ci-llmrouter-workers")
    spec = policy["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    selected = spec["podSelector"]["matchExpressions"][0]
    assert selected["key"] == "app.kubernetes.io/component"
    assert set(selected["values"]) == POLICY_WORKERS
    # every worker pod is selected by the policy
    for kind in WORKERS:
        labels = _named(docs, "Deployment", f"ci-llmrouter-{kind}")["spec"]["template"]["metadata"][
            "labels"
        ]
        assert spec["podSelector"]["matchLabels"].items() <= labels.items()
        assert labels["app.kubernetes.io/component"] in selected["values"]
    # ingress: the metrics port only, from the monitoring namespace only
    (ingress,) = spec["ingress"]
    assert _ports(ingress) == {("metrics", "TCP")}
    (peer,) = ingress["from"]
    assert peer["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
    }
    # egress: DNS, Kafka (the bootstrap servers' port), the providers' HTTPS; no store
    egress = [_ports(rule) for rule in spec["egress"]]
    assert {(53, "UDP"), (53, "TCP")} in egress
    assert {(9092, "TCP")} in egress
    assert {(443, "TCP")} in egress
    assert len(egress) == 3
    assert all("to" not in rule for rule in spec["egress"])  # any address by default


def test_chart_network_policy_follows_the_values() -> None:
    docs = _render(
        "--set",
        "kafka.bootstrapServers=k-0:9093\\,k-1:9094",
        "--set",
        "state.redis.url=rediss://store.example:6380/0",
        "--set",
        "networkPolicy.metrics.namespaceSelector.matchLabels.team=obs",
        "--set-json",
        'networkPolicy.egress.to=[{"ipBlock":{"cidr":"10.0.0.0/8"}}]',
    )
    spec = _named(docs, "NetworkPolicy", "ci-llmrouter-workers")["spec"]
    egress = [_ports(rule) for rule in spec["egress"]]
    assert {(9093, "TCP"), (9094, "TCP")} in egress
    assert {(6380, "TCP")} in egress
    assert all(rule["to"] == [{"ipBlock": {"cidr": "10.0.0.0/8"}}] for rule in spec["egress"])
    selector = spec["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"]
    assert selector["team"] == "obs"
    assert not [
        d for d in _render("--set", "networkPolicy.enabled=false") if d["kind"] == "NetworkPolicy"
    ]


def test_chart_bundled_redis_has_a_secret_password_and_a_memory_cap() -> None:
    docs = _render("--set", "state.bundled.enabled=true", "--set", "simulator.enabled=true")
    secret = _named(docs, "Secret", "ci-llmrouter-redis-password")
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert len(secret["data"]["password"]) >= 32
    container = _named(docs, "Deployment", "ci-llmrouter-redis")["spec"]["template"]["spec"][
        "containers"
    ][0]
    command = " ".join(container["command"])
    assert "--maxmemory 192mb --maxmemory-policy noeviction" in command
    assert "requirepass" in command
    assert secret["data"]["password"] not in command
    (password_env,) = container["env"]
    assert password_env["valueFrom"]["secretKeyRef"] == {
        "name": "ci-llmrouter-redis-password",
        "key": "password",
    }
    # the workers read the same Secret, as a file
    for kind in WORKERS:
        pod = _named(docs, "Deployment", f"ci-llmrouter-{kind}")["spec"]["template"]["spec"]
        env = {e["name"]: e for e in pod["containers"][0]["env"]}
        assert env["LLMROUTER_REDIS_URL"]["value"] == "redis://ci-llmrouter-redis:6379/0"
        assert env["LLMROUTER_REDIS_PASSWORD_FILE"]["value"] == "/etc/llmrouter/redis/password"
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["redis-password"]["secret"]["secretName"] == "ci-llmrouter-redis-password"
    # Redis and the simulator take connections from the workers only; workers reach both.
    for component, port in (("redis", 6379), ("simulator", 8700)):
        spec = _named(docs, "NetworkPolicy", f"ci-llmrouter-{component}")["spec"]
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        (ingress,) = spec["ingress"]
        assert _ports(ingress) == {(port, "TCP")}
        peer = ingress["from"][0]["podSelector"]["matchExpressions"][0]
        assert set(peer["values"]) == POLICY_WORKERS
    workers = _named(docs, "NetworkPolicy", "ci-llmrouter-workers")["spec"]["egress"]
    assert {(6379, "TCP")} in [_ports(rule) for rule in workers]
    assert {(8700, "TCP")} in [_ports(rule) for rule in workers]
    assert {(443, "TCP")} not in [_ports(rule) for rule in workers], "the simulator answers"
    # An existing Secret instead: none generated.
    docs = _render(
        "--set", "state.bundled.enabled=true", "--set", "state.bundled.password.existingSecret=pw"
    )
    assert not [d for d in docs if d["kind"] == "Secret"]
