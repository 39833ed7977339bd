"""A user keeps pip's self-version check on: a fresh venv asks the index about pip only when pip must.

pip keeps the latest pip it found on the index in a state file per
environment (named after ``sys.prefix``) in its cache's ``selfcheck`` folder,
and asks again when that answer is more than a week old.  Every fresh venv
has no state of its own; with pipcachefirst it takes the folder's newest
answer while pip's own rule still counts it as current.  The loopback index's
log is the witness: ``GET /main/simple/pip/`` is pip's self-version check.
"""

from __future__ import annotations

import datetime
import json
from importlib import metadata

from tests.conftest import World

CHECK_ON = {"PIP_DISABLE_PIP_VERSION_CHECK": "0"}
PIPS_PAGE = "GET /main/simple/pip/"
NOTICE = f"{metadata.version('pip')} -> 99.0"  # "A new release of pip (is) available: 26.3 -> 99.0"


def _age_every_state(world: World, days: int) -> None:
    """Move each answer in pip's selfcheck folder ``days`` into the past, in the date format its pip wrote."""
    for path in (world.pip_cache / "selfcheck").iterdir():
        state = json.loads(path.read_text())
        text = state["last_check"]
        if text.endswith("Z"):  # pip before 23.3: "%Y-%m-%dT%H:%M:%SZ", naive UTC
            when = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ") - datetime.timedelta(days=days)
            state["last_check"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            when = datetime.datetime.fromisoformat(text) - datetime.timedelta(days=days)
            state["last_check"] = when.isoformat()
        path.write_text(json.dumps(state))


def test_a_fresh_venv_takes_pips_answer_from_the_state_another_venv_left(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.publish_wheel("pip", "99.0")  # the index has a newer pip: pip's notice shows

    first = world.install("alpha==1.0", env=CHECK_ON)
    assert PIPS_PAGE in first.requests, "the first venv: pip asks, as always"
    assert NOTICE in first.stderr

    second = world.install("alpha==1.0", env=CHECK_ON)
    assert second.requests == [], "nor the pin nor pip's own page: one state file read"
    assert NOTICE in second.stderr, "the notice plain pip shows, from the answer pip found a moment ago"

    plain = world.install("alpha==1.0", env={**CHECK_ON, "PIPCACHEFIRST": "0"})
    assert PIPS_PAGE in plain.requests, "plain pip in a fresh venv asks every time"
    assert NOTICE in plain.stderr


def test_an_answer_older_than_pips_week_is_not_taken(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.publish_wheel("pip", "99.0")
    world.install("alpha==1.0", env=CHECK_ON)
    _age_every_state(world, days=8)

    stale = world.install("alpha==1.0", env=CHECK_ON)
    assert stale.requests == [PIPS_PAGE], "pip's own rule: a week-old answer is asked again"
    assert NOTICE in stale.stderr

    fresh = world.install("alpha==1.0", env=CHECK_ON)
    assert fresh.requests == [], "the answer the last venv found"
    assert NOTICE in fresh.stderr
