"""The fault-injection tests fork children: none may outlive its test."""

from __future__ import annotations

import pytest

from tests.reliability.harness import reap


@pytest.fixture(autouse=True)
def _no_child_left():
    yield
    reap()
