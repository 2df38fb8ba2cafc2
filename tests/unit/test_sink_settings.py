"""The sink's two settings: batch size and batch time."""

from __future__ import annotations

import pytest

from dossierhub.errors import ConfigError
from dossierhub.settings import Settings
from sinks.sink import SinkOptions


def test_defaults_and_overrides() -> None:
    assert (Settings().sink_batch_rows, Settings().sink_batch_seconds) == (50_000, 1.0)
    settings = Settings.from_env(
        {"DOSSIERHUB_SINK_BATCH_ROWS": "2000", "DOSSIERHUB_SINK_BATCH_SECONDS": "0.25"}
    )
    options = SinkOptions.from_settings(settings)
    assert (options.batch_rows, options.batch_seconds) == (2_000, 0.25)
    assert set(options.routes) == set(options.routes.values())  # the hub's topics, as is


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DOSSIERHUB_SINK_BATCH_ROWS", "0"),
        ("DOSSIERHUB_SINK_BATCH_ROWS", "1e3"),
        ("DOSSIERHUB_SINK_BATCH_SECONDS", "-1"),
    ],
)
def test_bad_values_are_refused_with_the_value(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as error:
        Settings.from_env({name: value})
    assert (error.value.name, error.value.value) == (name, value)
