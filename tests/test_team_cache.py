"""A team cache on S3: every CI runner starts warm, every sdist is built once per team.

Each test runs real pip against a real S3 server (SeaweedFS, started by the
tests) and the loopback index.  A *runner* is a pip cache and a venv of its
own, as a fresh CI machine has: what one runner shares, another finds.
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Dict, List

import pytest

from pipcachefirst.team import s3
from tests.conftest import PipRun, World, index_pages
from tests.support import s3server
from tests.support.envs import Venv, isolated_environ
from tests.support.s3server import S3Server, s3_server  # noqa: F401 -- the session's S3 server

pytestmark = [pytest.mark.same_on_every_pip, pytest.mark.same_on_every_python]


class Team:
    """One team's cache: a prefix of the test bucket, and the environment that points a pip at it."""

    def __init__(self, world: World, server: S3Server) -> None:
        self.world = world
        self.server = server
        self.prefix = f"team-{uuid.uuid4().hex[:8]}"
        self._runners = 0

    def env(self, identity: str = "writer", **extra: str) -> Dict[str, str]:
        key = getattr(self.server, identity)
        env = {
            "PIPCACHEFIRST_REMOTE": f"s3://{self.server.bucket}/{self.prefix}",
            "AWS_ENDPOINT_URL_S3": self.server.endpoint,
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": key.access_key,
            "AWS_SECRET_ACCESS_KEY": key.secret_key,
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
            "AWS_CONFIG_FILE": "/nonexistent",
        }
        env.update(extra)
        return env

    def runner_env(self, identity: str = "writer", **extra: str) -> Dict[str, str]:
        """A new runner: its own empty pip cache, and the team cache."""
        self._runners += 1
        env = self.env(identity, **extra)
        env["PIP_CACHE_DIR"] = str(self.world.tmp / f"runner{self._runners}-cache")
        return env

    def admin(self) -> s3.Client:
        return s3.Client(self.server.remote(self.server.admin))

    def objects(self) -> Dict[str, int]:
        admin = self.admin()
        return dict(admin.list(self.prefix + "/"))


@pytest.fixture
def team(world: World, s3_server: S3Server) -> Team:  # noqa: F811
    return Team(world, s3_server)


def _lock(world: World) -> Path:
    """A lockfile of a wheel, an sdist (built on install) and a wheel that needs the sdist."""
    world.publish_wheel("alpha", "1.0")
    world.publish_sdist("beta", "2.0")
    world.publish_wheel("gamma", "3.0", requires=["beta==2.0"])
    return world.write("requirements.txt", "alpha==1.0\nbeta==2.0\ngamma==3.0\n")


def _freeze(venv: Venv) -> List[str]:
    return [line for line in venv.freeze() if "==" in line and not line.startswith(("#", "pip==", "pipcachefirst"))]


def _said(run: PipRun, text: str) -> List[str]:
    """pipcachefirst's lines (information or warnings) that contain ``text``."""
    return [line for line in run.output.splitlines() if "pipcachefirst:" in line and text in line]


def _built(run: PipRun) -> bool:
    return "Building wheel" in run.output or "Created wheel" in run.output


def test_a_second_runner_installs_the_whole_lockfile_from_the_team_cache(world: World, team: Team) -> None:
    lock = _lock(world)
    first_venv = world.new_venv()
    first = world.install("-r", str(lock), env=team.runner_env(), venv=first_venv)
    assert _built(first), "the first runner builds the sdist"
    assert "pipcachefirst: team cache: 0 files fetched, 4 shared" in first.output
    shared = team.objects()
    assert len([k for k in shared if k.endswith(".json")]) == 4, shared  # 3 downloads, 1 built wheel

    second_venv = world.new_venv()
    second = world.install("-r", str(lock), "-v", env=team.runner_env(), venv=second_venv)
    assert second.requests == [], "no index request: every pin came from the team cache"
    assert not _built(second), "the sdist was built once per team"
    assert "pipcachefirst: 3 of 3 pinned requirements from cache" in second.output
    assert "pipcachefirst: team cache: 4 files fetched, 0 shared" in second.output
    assert _freeze(second_venv) == _freeze(first_venv)
    assert team.objects() == shared, "nothing was written twice"


def test_a_read_only_runner_reads_and_writes_nothing(world: World, team: Team) -> None:
    world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0", env=team.runner_env())
    world.publish_wheel("delta", "1.0")
    before = team.objects()

    switched = world.install("alpha==1.0", "delta==1.0", env=team.runner_env(PIPCACHEFIRST_REMOTE_READONLY="1"))
    assert index_pages(switched.requests) == ["GET /main/simple/delta/"], (
        "alpha from the team cache, delta from the index"
    )
    assert "refused" not in switched.output
    assert team.objects() == before

    reader = world.install("alpha==1.0", "delta==1.0", env=team.runner_env("reader"))
    assert index_pages(reader.requests) == ["GET /main/simple/delta/"]
    [line] = _said(reader, "refused a write")
    assert "reading only from now on" in line
    assert team.objects() == before


def test_a_stopped_team_cache_costs_one_line_and_pip_carries_on(world: World, team: Team) -> None:
    lock = _lock(world)
    world.install("-r", str(lock), env=team.runner_env())
    team.server.stop()
    try:
        env = team.runner_env()
        venv = world.new_venv()
        run = world.install("-r", str(lock), env=env, venv=venv)
        warnings = _said(run, "not answering")
        assert len(warnings) == 1, run.output
        assert len(index_pages(run.requests)) == 3, "pip went to the index instead"
        assert [line.split("==")[0] for line in _freeze(venv)] == ["alpha", "beta", "gamma"]

        world.publish_wheel("delta", "1.0")
        again = world.install("delta==1.0", env=env)  # the same machine's cache, a pin it lacks
        [line] = _said(again, "team cache")
        assert "failed for another pip" in line, "other pips on this machine do not knock again"
    finally:
        team.server.start()


def test_a_team_cache_that_never_answers_does_not_hold_pip(world: World, team: Team) -> None:
    world.publish_wheel("alpha", "1.0")
    with s3server.blackhole() as endpoint:
        env = team.runner_env(AWS_ENDPOINT_URL_S3=endpoint)
        started = time.monotonic()
        run = world.install("alpha==1.0", env=env)
        took = time.monotonic() - started
    assert _said(run, "not answering"), run.output
    assert index_pages(run.requests) == ["GET /main/simple/alpha/"]
    assert took < 30, "tight timeouts, no retries (the SDKs' defaults wait minutes)"


def test_wrong_credentials_are_one_line_and_never_shown(world: World, team: Team, tmp_path: Path) -> None:
    world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0", env=team.runner_env())
    secret = "wrong-" + uuid.uuid4().hex
    token = "token-" + uuid.uuid4().hex
    log = tmp_path / "pip.log"
    env = team.runner_env(AWS_SECRET_ACCESS_KEY=secret, AWS_SESSION_TOKEN=token)
    run = world.install("alpha==1.0", "-vvv", "--log", str(log), env=env)
    assert _said(run, "refused to be read"), run.output
    assert index_pages(run.requests) == ["GET /main/simple/alpha/"]
    for text in (run.output, log.read_text()):
        assert secret not in text and token not in text

    status = world.new_venv().run(["-m", "pipcachefirst", "status"], env=world.env(env), check=True).stdout
    assert secret not in status and token not in status
    assert f"s3://{team.server.bucket}/{team.prefix}" in status


def test_status_shows_the_team_cache_and_whether_it_answers(world: World, team: Team) -> None:
    venv = world.new_venv()
    status = venv.run(["-m", "pipcachefirst", "status"], env=world.env(team.env("reader")), check=True).stdout
    [line] = [line for line in status.splitlines() if line.startswith("team cache:")]
    assert f"s3://{team.server.bucket}/{team.prefix}" in line and "reachable" in line and "NOT" not in line
    assert team.server.reader.secret_key not in status

    readonly = venv.run(["-m", "pipcachefirst", "status"], env=world.env(team.env(PIPCACHEFIRST_REMOTE_READONLY="1")),
                        check=True).stdout
    assert "read-only" in readonly

    with s3server.closed_port() as endpoint:
        down = venv.run(["-m", "pipcachefirst", "status"], env=world.env(team.env(AWS_ENDPOINT_URL_S3=endpoint)),
                        check=True).stdout
    assert "NOT reachable" in down


def test_a_tampered_object_is_never_installed(world: World, team: Team) -> None:
    wheel = world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0", env=team.runner_env())
    [file_key] = [k for k in team.objects() if k.endswith(wheel.name)]
    tampered = bytearray(wheel.read_bytes())
    tampered[len(tampered) // 2] ^= 0xFF
    admin = team.admin()
    admin.put(file_key, bytes(tampered), hashlib.sha256(tampered).hexdigest(), len(tampered), create_only=False)

    env = team.runner_env()
    venv = world.new_venv()
    run = world.install("alpha==1.0", env=env, venv=venv)
    [line] = _said(run, "does not match its record")
    assert wheel.name in line
    assert index_pages(run.requests) == ["GET /main/simple/alpha/"], "pip fetched the real file from the index"
    cached = list(Path(env["PIP_CACHE_DIR"]).rglob(wheel.name))
    assert all(p.read_bytes() == wheel.read_bytes() for p in cached)


def test_two_runners_sharing_the_same_files_at_once(world: World, team: Team) -> None:
    lock = _lock(world)
    runners = []
    for _ in range(2):
        venv = world.new_venv()
        env = world.env(team.runner_env())
        command = [str(venv.python), "-m", "pip", "install", "-r", str(lock)]
        runners.append(subprocess.Popen(command, env=isolated_environ(env), stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True))
    for proc in runners:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, out + err

    records = [k for k in team.objects() if k.endswith(".json")]
    downloads = [k for k in records if "/built/" not in k]
    assert len(downloads) == 3, "each downloaded file once: the second writer found it there"
    assert 1 <= len(records) - len(downloads) <= 2, "a wheel built from beta (each runner built its own bytes)"
    third = world.install("-r", str(lock), env=team.runner_env())
    assert third.requests == [] and not _built(third)


def test_a_team_cache_that_stops_answering_mid_run_costs_one_line(world: World, team: Team) -> None:
    world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0", env=team.runner_env())
    world.publish_wheel("delta", "1.0")
    before = team.objects()

    venv = world.new_venv()
    command = [str(venv.python), "-m", "pip", "install", "-v", "alpha==1.0", "delta==1.0"]
    pip = subprocess.Popen(command, env=isolated_environ(world.env(team.runner_env())), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    assert pip.stdout is not None and team.server.process is not None
    output = []
    try:
        for line in pip.stdout:
            output.append(line)
            if line.startswith("Installing collected packages"):
                team.server.process.send_signal(signal.SIGSTOP)  # alive, connected, silent: a hung server
        pip.wait(timeout=120)
    finally:
        team.server.process.send_signal(signal.SIGCONT)
    run = PipRun(pip.returncode, "".join(output), "", world.server.take_requests())
    assert run.returncode == 0, run.output
    assert _said(run, "alpha-1.0-py3-none-any.whl fetched from the team cache"), "read before it hung"
    assert len(_said(run, "not answering")) == 1, run.output
    assert index_pages(run.requests) == ["GET /main/simple/delta/"]
    assert "alpha==1.0" in venv.freeze() and "delta==1.0" in venv.freeze()
    assert team.objects() == before, "delta's upload never happened, nor half of it"



def test_with_pinned_hashes_a_writer_cannot_change_what_is_installed(world: World, team: Team) -> None:
    wheel = world.publish_wheel("alpha", "1.0")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    lock = world.write("requirements.txt", f"alpha==1.0 --hash=sha256:{digest}\n")
    world.install("-r", str(lock), env=team.runner_env())

    # someone with write access adds other bytes under the same file name, with a record that fits them
    [record_key] = [k for k in team.objects() if k.endswith(".json")]
    admin = team.admin()
    record = json.loads(admin.get(record_key) or b"{}")
    evil = wheel.read_bytes().replace(b"1.0", b"6.6")
    record.update(sha256=hashlib.sha256(evil).hexdigest(), size=len(evil))
    folder = record_key.rsplit("/", 1)[0] + "/" + record["sha256"]
    admin.put(f"{folder}/{wheel.name}", evil, record["sha256"], len(evil))
    text = json.dumps(record).encode()
    admin.put(folder + ".json", text, hashlib.sha256(text).hexdigest(), len(text))

    env = team.runner_env()
    run = world.install("--require-hashes", "-r", str(lock), env=env)
    assert run.requests == [], "the pinned hash chose the team's genuine file"
    cached = list(Path(env["PIP_CACHE_DIR"]).rglob(wheel.name))
    assert cached and all(p.read_bytes() == wheel.read_bytes() for p in cached), "the other bytes never came"
