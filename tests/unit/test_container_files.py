"""The container files' promises, read from the files (cheap; the image itself is built and
smoke-tested by scripts/build-image, in CI's own step, not here)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from wagateway.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def stages() -> dict[str, list[str]]:
    """The Dockerfile's instructions by build stage ("" before the first FROM), continuation
    lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    result: dict[str, list[str]] = {"": []}
    current = ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"FROM\s+(\S+)\s+AS\s+(\S+)", line, re.IGNORECASE)
        if match:
            current = match.group(2)
            result[current] = [line]
        else:
            result[current].append(line)
    return result


def image(stage: str) -> list[str]:
    """What an image built with `--target stage` is made of: the instructions of the stage and
    of every stage it is built `FROM`, the first stage's first."""
    built = stages()
    chain: list[str] = []
    while stage in built:
        chain = built[stage] + chain
        stage = built[stage][0].split()[1]  # FROM <parent> AS <stage>
    return chain


def last(instructions: list[str], keyword: str) -> str:
    found = [i for i in instructions if i.split()[0].upper() == keyword]
    assert found, f"no {keyword}"
    return found[-1]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def test_two_variants_on_a_base_image_chosen_by_build_argument() -> None:
    assert stages()[""] == ["ARG BASE_IMAGE=debian:bookworm-slim"]
    for variant in ("core", "whatsmeow"):
        assert image(variant)[0] == "FROM ${BASE_IMAGE} AS python"
    # Only the whatsmeow image gets neonize (GPL-3.0 libsignal inside) and the libmagic it needs.
    core, whatsmeow = " ".join(image("core")), " ".join(image("whatsmeow"))
    assert "libmagic1" not in core and "whatsmeow" not in core.replace("WhatsApp", "")
    assert "libmagic1" in whatsmeow and "/requirements/whatsmeow.txt" in whatsmeow
    requirements = " ".join(stages()["requirements"])
    assert '["optional-dependencies"]["whatsmeow"]' in requirements
    assert 'open("/requirements/whatsmeow.txt", "w")' in requirements
    # Each installs the code itself (one wheel, built from the sources), after its
    # dependencies, and checks they satisfy it.
    assert "COPY src" in " ".join(stages()["wheel"])
    for built in (core, whatsmeow):
        assert (
            built.index("/requirements/core.txt")
            < built.index("COPY --from=wheel")
            < built.index("pip check")
        )
    assert 'licenses="MIT"' in core
    assert 'licenses="MIT AND Apache-2.0 AND MPL-2.0 AND GPL-3.0"' in whatsmeow


@pytest.mark.parametrize("stage", ["core", "whatsmeow"])
def test_each_image_runs_unprivileged_with_a_volume_and_a_health_check(stage: str) -> None:
    built = image(stage)
    assert last(built, "USER") == "USER wagateway"
    assert last(built, "VOLUME") == 'VOLUME ["/data"]'
    assert last(built, "EXPOSE") == "EXPOSE 8080"
    assert "/health" in last(built, "HEALTHCHECK")
    assert last(built, "CMD") == 'CMD ["wagateway", "serve"]'


def test_the_images_settings_are_the_gateways(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every WAGW_ variable the image and compose set is a setting, with the meaning meant."""
    env = " ".join(image("core"))
    image_env = dict(re.findall(r"(WAGW_\w+)=(\S+)", env))
    assert image_env == {"WAGW_DATA_DIR": "/data", "WAGW_HOST": "0.0.0.0", "WAGW_PORT": "8080"}
    gateway = compose()["services"]["gateway"]
    compose_env = {
        name: re.sub(r"\$\{(\w+):-([^}]*)\}", r"\2", value)
        for name, value in gateway["environment"].items()
    }
    for name in os.environ:
        if name.startswith("WAGW_"):
            monkeypatch.delenv(name)
    for name, value in {**image_env, **compose_env}.items():
        assert name.removeprefix("WAGW_").lower() in Settings.model_fields, name
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert (settings.host, settings.port, str(settings.data_dir)) == ("0.0.0.0", 8080, "/data")
    assert settings.resolved_database_url.startswith("postgresql+asyncpg://wagateway:")
    assert settings.resolved_database_url.endswith("@postgres:5432/wagateway")


def test_compose_runs_the_gateway_on_postgresql_with_a_data_volume() -> None:
    services = compose()["services"]
    assert set(services) == {"gateway", "postgres"}
    gateway, postgres = services["gateway"], services["postgres"]
    assert gateway["build"]["target"] == "${WAGW_IMAGE_TARGET:-whatsmeow}"
    assert gateway["pull_policy"] == "build"  # the image is this checkout's, never a registry's
    assert gateway["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert "gateway-data:/data" in gateway["volumes"]
    # Published on the host's loopback only; PostgreSQL not at all.
    assert gateway["ports"] == ["127.0.0.1:${GATEWAY_PORT:-8080}:8080"]
    assert "ports" not in postgres
    assert postgres["image"].startswith("postgres:")
    assert postgres["environment"]["POSTGRES_DB"] == "wagateway"


def test_the_build_context_leaves_out_local_state() -> None:
    """.venv, the data dir (its secret.key), .git and .env never reach an image."""
    rules = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert rules[0] == "*"  # everything out, then only what the Dockerfile copies
    assert {r for r in rules if r.startswith("!")} == {
        "!LICENSE",
        "!pyproject.toml",
        "!README.md",
        "!src",
    }
