"""The reliability scenarios on the small profile, sharing one work directory (and baseline)."""

from __future__ import annotations

import pytest

from reliability.profiles import SMALL


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("reliability")


@pytest.fixture(scope="session")
def profile():
    return SMALL
