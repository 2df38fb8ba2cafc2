from __future__ import annotations

from pathlib import Path

import pytest

from dossierhub.errors import ConfigError
from dossierhub.settings import Settings, redact_url


def test_defaults_need_no_environment() -> None:
    settings = Settings.from_env({})
    assert settings.home.name == ".dossierhub"
    assert settings.kafka_bootstrap is None
    assert settings.effective_warehouse_url == f"chdb://{settings.home / 'warehouse'}"


def test_environment_overrides(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "DOSSIERHUB_HOME": str(tmp_path),
            "DOSSIERHUB_KAFKA_BOOTSTRAP": "k1:9092,k2:9092",
            "DOSSIERHUB_REGISTRY_URL": "http://reg:8080/apis/ccompat/v7/",
            "DOSSIERHUB_WAREHOUSE_URL": "clickhouse://writer:s3cret@ch:9000/hub",
            "DOSSIERHUB_KAFKA_HEAP": "2g",
            "DOSSIERHUB_STARTUP_TIMEOUT": "30",
            "UNRELATED": "ignored",
        }
    )
    assert settings.home == tmp_path
    assert settings.kafka_bootstrap == "k1:9092,k2:9092"
    assert settings.registry_url == "http://reg:8080/apis/ccompat/v7"
    assert settings.kafka_heap == "2g"
    assert settings.startup_timeout_s == 30.0
    assert settings.redacted()["warehouse_url"] == "clickhouse://writer:***@ch:9000/hub"


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("DOSSIERHUB_KAFKA_BOOTSTRAP", "no-port", "host:port"),
        ("DOSSIERHUB_KAFKA_BOOTSTRAP", "h:99999", "host:port"),
        ("DOSSIERHUB_REGISTRY_URL", "ftp://x", "http"),
        ("DOSSIERHUB_WAREHOUSE_URL", "mysql://x", "chdb:///path"),
        ("DOSSIERHUB_KAFKA_HEAP", "lots", "512m"),
        ("DOSSIERHUB_STARTUP_TIMEOUT", "-3", "positive"),
        ("DOSSIERHUB_KAFKA_BOOTSTRAPP", "h:1", "unknown setting"),
        ("DOSSIERHUB_KAFKA_SECURITY", "ssl", "plaintext or sasl"),
        ("DOSSIERHUB_KAFKA_USER", "../admin", "letters, digits"),
        ("DOSSIERHUB_WAREHOUSE_ANALYST_URL", "chdb:///x", "clickhouse://"),
    ],
)
def test_bad_values_name_the_variable_and_value(name: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value})
    message = caught.value.one_line()
    assert name in message
    assert fragment in message
    assert "\n" not in message


def test_password_never_printed() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"DOSSIERHUB_WAREHOUSE_URL": "postgres://u:hunter2@h/db"})
    assert "hunter2" not in caught.value.one_line()
    assert redact_url("clickhouse://u:hunter2@h:1/d") == "clickhouse://u:***@h:1/d"


def test_security_settings() -> None:
    default = Settings.from_env({})
    assert (default.kafka_security, default.http_host) == ("plaintext", "127.0.0.1")
    secured = Settings.from_env(
        {
            "DOSSIERHUB_KAFKA_SECURITY": "SASL",
            "DOSSIERHUB_KAFKA_USER": "svc-sink",
            "DOSSIERHUB_HTTP_HOST": "0.0.0.0",
            "DOSSIERHUB_WAREHOUSE_ANALYST_URL": "clickhouse://analyst:pw@ch:9000/hub",
        }
    )
    assert secured.kafka_security == "sasl"
    assert secured.kafka_user == "svc-sink"
    assert secured.http_host == "0.0.0.0"
    assert secured.warehouse_analyst_url == "clickhouse://analyst:pw@ch:9000/hub"


def test_lag_status_thresholds() -> None:
    assert Settings.from_env({}).lag_stall_after_s == 120.0
    settings = Settings.from_env(
        {"DOSSIERHUB_LAG_STALL_SECONDS": "30", "DOSSIERHUB_LAG_STOP_SECONDS": "90"}
    )
    assert (settings.lag_stall_after_s, settings.lag_stop_after_s) == (30.0, 90.0)
    with pytest.raises(ConfigError, match="LAG_STOP_SECONDS"):
        Settings.from_env({"DOSSIERHUB_LAG_STALL_SECONDS": "700"})
    with pytest.raises(ConfigError, match="LAG_STALL_SECONDS"):
        Settings.from_env({"DOSSIERHUB_LAG_STALL_SECONDS": "-1"})
