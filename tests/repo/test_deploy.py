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
WORKERS = ("classifier", "router")


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
_OBJECT_VALUES = ("resources", "podSecurityContext", "securityContext", "rollingUpdate")


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
