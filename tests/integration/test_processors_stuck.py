"""A worker whose consumer lost its place in a partition finds it again, on a real broker.

Faust's consumer can go past records of a partition without delivering them, or leave the
group's offset behind records that are done; at a partition's tail no later record shows it,
and only a restart used to move the partition again (``stream_processors/stuck.py``). The
place is lost on purpose here, once the worker has caught up (``lost_place_worker``), and the
worker must catch up again by itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dossierhub.stack import Stack
from producers.synthetic import lifecycles
from schemas.admin import TopicAdmin
from schemas.topics import processor_topics
from tests.helpers import REPO, isolated_stack
from tests.integration.lost_place_worker import BACK
from tests.integration.test_processors_recovery import AGENCIES, _publish

pytestmark = pytest.mark.timeout(600)

DOSSIERS = 1_000


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with isolated_stack(tmp_path_factory.mktemp("stuck")) as stack:
        admin = TopicAdmin({"bootstrap.servers": stack.kafka.bootstrap})
        assert all(r.ok for r in admin.apply(processor_topics(1)))
        _publish(stack, list(lifecycles(DOSSIERS, agencies=AGENCIES, seed=3, per_day=100)))
        yield stack


def _lose_place(stack: Stack, app_id: str, mode: str) -> dict[str, Any]:
    home = Path(stack.settings.home)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIERHUB_")}
    env["DOSSIERHUB_HOME"] = str(stack.settings.home)
    done = subprocess.run(
        [sys.executable, "-m", "tests.integration.lost_place_worker", str(home), app_id, mode],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=400,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.returncode == 0, done.stderr[-3000:]
    assert lines, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(lines[-1])
    assert "error" not in result, f"{result['error']}\n{done.stderr[-3000:]}"
    assert result["exit"] == 0, done.stderr[-3000:]
    return result


def test_records_done_but_not_committed_are_committed(stack: Stack) -> None:
    result = _lose_place(stack, "lost-commit", "commit")
    assert "found_again_s" in result
    assert result["recommitted"] == 1
    assert result["rewound"] == 0  # nothing to read again: only the commit was missing
    assert result["copies_since"] == 0


def test_records_the_consumer_went_past_are_read_again(stack: Stack) -> None:
    result = _lose_place(stack, "lost-records", "seek")
    assert "found_again_s" in result
    assert result["rewound"] == 1
    assert result["recommitted"] == 0
    # the 50 records came through the dossier stage again, which knew them by their sources
    assert result["copies_since"] == BACK
