"""The cache fills itself from what pip downloads and builds, and heals what breaks."""

from __future__ import annotations

import hashlib
import os
import time

from tests.conftest import World, sha256_of


def test_a_downloaded_file_is_recorded_with_its_provenance(world: World) -> None:
    wheel = world.publish_wheel("alpha", "1.0")
    before = time.time()
    world.install("alpha==1.0")

    [record] = world.records()
    assert record["filename"] == wheel.name
    assert record["sha256"] == sha256_of(wheel)
    assert record["size"] == wheel.stat().st_size
    assert record["url"] == f"{world.server.url}/main/alpha/{wheel.name}"
    assert record["origin"] == world.index_url().rstrip("/")
    assert record["stored_at"] >= before
    assert world.cached_file(wheel.name).read_bytes() == wheel.read_bytes()


def test_credentials_in_the_index_url_never_reach_the_cache(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    secret_url = world.index_url().replace("http://", "http://someone:s3cret-token@")
    world.install("alpha==1.0", env={"PIP_INDEX_URL": secret_url})

    cached_text = "".join(p.read_text(errors="replace") for p in world.cache_root.rglob("*.json"))
    assert "s3cret-token" not in cached_text and "someone" not in cached_text
    run = world.install("alpha==1.0", "-v", env={"PIP_INDEX_URL": secret_url})
    assert run.requests == []
    assert "s3cret-token" not in "\n".join(run.lines())


def test_an_sdist_pin_is_served_and_its_built_wheel_reused_without_a_build(world: World) -> None:
    world.publish_sdist("alpha", "1.0")
    requirements = world.write("requirements.txt", "alpha==1.0\n")

    first = world.install("-r", str(requirements))
    assert "Building wheel" in first.output or "Created wheel" in first.output
    kinds = sorted((r["kind"], r["filename"]) for r in world.records())
    assert kinds == [("built", "alpha-1.0-py3-none-any.whl"), ("download", "alpha-1.0.tar.gz")]

    for _ in range(2):
        venv = world.new_venv()
        again = world.install("-r", str(requirements), "-v", venv=venv)
        assert again.requests == []
        assert "Building wheel" not in again.output
        assert "pipcachefirst: alpha==1.0 from cache (alpha-1.0.tar.gz)" in again.stdout
        assert "pipcachefirst: alpha-1.0-py3-none-any.whl built earlier from alpha-1.0.tar.gz" in again.stdout
        assert "1.0" in venv.run(["-c", "import alpha_mod; print(alpha_mod.VERSION)"], check=True).stdout


def test_a_built_wheel_is_tied_to_its_sdist(world: World) -> None:
    world.publish_sdist("alpha", "1.0")
    venv = world.new_venv()
    world.install("alpha==1.0", venv=venv)
    [sdist] = [r for r in world.records() if r["kind"] == "download"]
    [built] = [r for r in world.records() if r["kind"] == "built"]

    assert built["built_from"] == sdist["sha256"]
    assert built["origin"] == sdist["origin"]
    building_python = venv.run(
        ["-c", "import sys; print(f'{sys.implementation.name}-{sys.version_info[0]}.{sys.version_info[1]}')"],
        check=True,
    ).stdout.strip()
    assert built["built_by"] == building_python, "the interpreter that built it, as pip's wheel cache keys it"


def test_a_truncated_cached_file_is_never_installed_and_the_entry_heals(world: World) -> None:
    wheel = world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0")
    cached = world.cached_file(wheel.name)
    cached.write_bytes(cached.read_bytes()[:100])

    run = world.install("alpha==1.0", "-v")
    assert f"GET /main/alpha/{wheel.name}" in run.requests, "pip downloads the file again"
    assert "pipcachefirst: alpha==1.0 not from cache: cached file was damaged and moved aside" in run.stdout
    assert world.cached_file(wheel.name).read_bytes() == wheel.read_bytes()
    assert list((world.cache_root / "quarantine").iterdir()), "the bad file is kept aside"

    healed = world.install("alpha==1.0")
    assert healed.requests == []


def test_a_same_size_corruption_is_caught_too(world: World) -> None:
    payload = os.urandom(100_000)
    wheel = world.publish_wheel("alpha", "1.0", payload=payload)
    world.publish_wheel("beta", "1.0", payload=os.urandom(100_000))  # alpha's twin, left untouched
    world.install("alpha==1.0", "beta==1.0")
    cached = world.cached_file(wheel.name)
    damaged = bytearray(cached.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF  # a byte of the payload flipped: same size, other bytes
    cached.write_bytes(bytes(damaged))

    venv = world.new_venv()
    run = world.install("alpha==1.0", "beta==1.0", "-v", venv=venv)
    assert [r for r in run.requests if "beta" in r] == [], "the untouched twin is served in the same run"
    assert "pipcachefirst: beta==1.0 from cache (beta-1.0-py3-none-any.whl)" in run.stdout
    assert "pipcachefirst: alpha==1.0 not from cache: cached file was damaged and moved aside" in run.stdout
    assert run.requests.count(f"GET /main/alpha/{wheel.name}") == 1, "pip downloads alpha again, once"
    quarantined = [sha256_of(p) for p in (world.cache_root / "quarantine").glob("*")]
    assert hashlib.sha256(damaged).hexdigest() in quarantined, "the damaged file is kept aside"
    assert (venv.site_packages / "alpha_payload.bin").read_bytes() == payload, "the good bytes are installed"
    assert world.cached_file(wheel.name).read_bytes() == wheel.read_bytes(), "the entry healed"


def test_pip_download_fills_the_cache_for_a_later_install(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    download = world.pip(world.new_venv(), "download", "-d", str(world.tmp / "d"), "alpha==1.0")
    assert download.returncode == 0, download.output

    run = world.install("alpha==1.0")
    assert run.requests == []


def test_every_file_pip_downloads_is_stored_whole_by_the_time_the_command_ends(world: World) -> None:
    """Files are stored on a thread while pip goes on; the command waits for it before pip removes its downloads.

    ``pip download`` does little after its last download, so a command that
    did not wait would end (or remove the files) while the last ones are
    still being copied: their records would be missing.
    """
    wheels = [world.publish_wheel(name, "1.0", payload=os.urandom(4_000_000)) for name in ("alpha", "beta", "gamma")]
    pins = ["alpha==1.0", "beta==1.0", "gamma==1.0"]
    download = world.pip(world.new_venv(), "download", "--no-deps", "-d", str(world.tmp / "d"), *pins)
    assert download.returncode == 0, download.output

    assert sorted(r["filename"] for r in world.records()) == sorted(w.name for w in wheels)
    for wheel in wheels:
        assert world.cached_file(wheel.name).read_bytes() == wheel.read_bytes()
    assert list(world.cache_root.rglob(".tmp-*")) == [], "nothing half written"
    assert world.install(*pins).requests == [], "all three served"
