"""No usage data leaves: every switch of USAGE_DATA_OFF is set in docker-compose.yaml, the image
and the local stack's environment, and each installed component reads its switch as off."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from fraud.config import REPOSITORY_ROOT
from fraud.local.environment import USAGE_DATA_OFF, build_env, generate_secrets
from fraud.local.paths import ServerUrls, StackPaths

COMPOSE_FILE = REPOSITORY_ROOT / "docker-compose.yaml"
DOCKERFILE = REPOSITORY_ROOT / "Dockerfile"
# What MLflow's server reads besides the Airflow services' common block.
MLFLOW_SWITCHES = ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK")


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def _image_environment() -> dict[str, str]:
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in joined.splitlines() if line.strip().startswith("ENV ")]
    return dict(re.findall(r"(\w+)=(\S+)", " ".join(lines)))


def _missing(environment: dict[str, Any], names: tuple[str, ...] | None = None) -> dict[str, str]:
    """The switches of ``names`` (every one by default) not set to their off value."""
    return {
        name: value
        for name, value in USAGE_DATA_OFF.items()
        if (names is None or name in names) and str(environment.get(name)) != value
    }


def test_every_airflow_service_has_every_switch() -> None:
    services = _compose()["services"]
    airflow = [name for name in services if name.startswith("airflow-")]
    assert airflow
    for name in airflow:
        assert _missing(services[name].get("environment", {})) == {}, name


def test_the_mlflow_server_has_its_switches() -> None:
    environment = _compose()["services"]["mlflow"]["environment"]
    assert _missing(environment, MLFLOW_SWITCHES) == {}


def test_the_image_has_every_switch() -> None:
    assert _missing(_image_environment()) == {}


def test_the_local_stack_has_every_switch_and_the_caller_cannot_turn_one_on(
    tmp_path: Path,
) -> None:
    paths = StackPaths(tmp_path)
    warehouse = "postgresql://owner@127.0.0.1:5432/fraud"
    urls = ServerUrls(warehouse=warehouse, airflow=warehouse, mlflow=warehouse, embedded=True)
    turned_on = {
        "MLFLOW_DISABLE_TELEMETRY": "false",
        "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "true",
    }
    env = build_env(paths, urls, generate_secrets({}), turned_on)
    assert _missing(env) == {}


def test_mlflow_reads_its_telemetry_as_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.environment_variables import MLFLOW_DISABLE_TELEMETRY
    from mlflow.telemetry.utils import is_telemetry_disabled

    monkeypatch.delenv("DO_NOT_TRACK", raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", USAGE_DATA_OFF["MLFLOW_DISABLE_TELEMETRY"])
    assert MLFLOW_DISABLE_TELEMETRY.get() is True
    monkeypatch.delenv("MLFLOW_DISABLE_TELEMETRY")
    monkeypatch.setenv("DO_NOT_TRACK", USAGE_DATA_OFF["DO_NOT_TRACK"])
    assert is_telemetry_disabled()


def test_evidently_reads_its_telemetry_as_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from evidently.telemetry import event_logger

    monkeypatch.delenv("DO_NOT_TRACK", raising=False)
    monkeypatch.delenv("ITERATIVE_DO_NOT_TRACK", raising=False)
    assert event_logger.enabled()  # the control: without the switch it would send
    monkeypatch.setenv("DO_NOT_TRACK", USAGE_DATA_OFF["DO_NOT_TRACK"])
    assert not event_logger.enabled()


def test_airflow_reads_usage_data_collection_as_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.configuration import conf

    for name, value in USAGE_DATA_OFF.items():
        monkeypatch.setenv(name, value)
    assert conf.getboolean("usage_data_collection", "enabled", fallback=True) is False


def test_great_expectations_has_no_sender_or_reads_its_switch_as_off() -> None:
    # GX 1.x sent analytics through posthog; the pinned release ships neither it nor the module.
    sender = importlib.util.find_spec("posthog")
    assert sender is None or USAGE_DATA_OFF["GX_ANALYTICS_ENABLED"] == "false"


def test_the_pinned_airflow_has_no_other_collection_to_switch_off() -> None:
    # If an upgrade brings a usage-data section back under another name, this fails: add its switch.
    airflow = importlib.util.find_spec("airflow")
    assert airflow is not None and airflow.origin is not None
    template = Path(airflow.origin).parent / "config_templates" / "config.yml"
    sections = set(yaml.safe_load(template.read_text()))
    collecting = {
        section for section in sections if re.search(r"usage|telemetry|analytics", section)
    }
    assert collecting <= {"usage_data_collection"}
