"""The ``pipcachefirst`` command line: our flags among pip's, sizes, and usage errors (exit status 2).

Every test runs against a cache under ``tmp_path`` (``PIPCACHEFIRST_DIR``),
with none of this machine's pipcachefirst variables; nothing here runs pip.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from pipcachefirst.commands.main import _split_pip_args, main
from pipcachefirst.commands.prune import size as _size


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for variable in ("PIPCACHEFIRST", "PIPCACHEFIRST_MODE", "PIP_DOWNLOAD_CACHE"):
        monkeypatch.delenv(variable, raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setenv("PIPCACHEFIRST_DIR", str(cache))
    return cache


# -- why / warm / venv: our flags picked out of pip's, wherever they stand ----------


def test_why_takes_its_own_flags_from_anywhere_among_pips_arguments() -> None:
    ours, pips = _split_pip_args(
        ["why", "-r", "requirements.txt", "--json", "--index-url", "https://mirror.local/simple", "--mode", "offline",
         "alpha==1.0"]
    )

    assert ours == ["why", "--json", "--mode", "offline"]
    assert pips == ["-r", "requirements.txt", "--index-url", "https://mirror.local/simple", "alpha==1.0"]


def test_a_flag_with_its_value_after_an_equals_sign_is_one_argument() -> None:
    assert _split_pip_args(["why", "alpha==1.0", "--mode=prefer-offline"]) == (
        ["why", "--mode=prefer-offline"],
        ["alpha==1.0"],
    )


def test_pips_own_options_that_look_like_ours_go_to_pip() -> None:
    # warm has no --json and no --mode: pip download gets them; why has no --python: pip install gets it
    assert _split_pip_args(["warm", "--json", "alpha==1.0"]) == (["warm"], ["--json", "alpha==1.0"])
    assert _split_pip_args(["why", "--python", "/usr/bin/python3.9", "alpha==1.0"]) == (
        ["why"],
        ["--python", "/usr/bin/python3.9", "alpha==1.0"],
    )


def test_help_is_ours_even_among_pips_arguments() -> None:
    split = _split_pip_args(["warm", "-r", "requirements.txt", "--help"])
    assert split == (["warm", "--help"], ["-r", "requirements.txt"])


def test_venv_takes_its_path_first_and_its_python_from_anywhere() -> None:
    ours, pips = _split_pip_args(["venv", ".venv", "-r", "requirements.txt", "--python", "python3.9", "--no-deps"])

    assert ours == ["venv", ".venv", "--python", "python3.9"]
    assert pips == ["-r", "requirements.txt", "--no-deps"]


def test_a_flag_missing_its_value_at_the_end_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert _split_pip_args(["why", "alpha==1.0", "--mode"]) == (["why", "--mode", ""], ["alpha==1.0"])
    with pytest.raises(SystemExit) as exit_info:
        main(["why", "alpha==1.0", "--mode"])
    assert exit_info.value.code == 2
    assert "--mode" in capsys.readouterr().err


# -- sizes for prune --max-size ------------------------------------------------------


@pytest.mark.parametrize(
    "text, size",
    [
        ("500M", 500 * 1024**2),
        ("2G", 2 * 1024**3),
        ("2g", 2 * 1024**3),
        ("1.5K", 1536),
        ("500MB", 500 * 1024**2),
        (" 2 G ", 2 * 1024**3),
        ("1T", 1024**4),
        ("4096", 4096),
        ("0", 0),
    ],
)
def test_a_user_gives_a_size_the_way_the_readme_does(text: str, size: int) -> None:
    assert _size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "G", "-1G", "2X", "1.2.3G", "2 GB extra", "1e3"])
def test_a_size_that_is_not_one_is_refused_with_an_example(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="500M or 2G"):
        _size(text)


@pytest.mark.parametrize("text, size", [("2GiB", 2 * 1024**3), ("1.5 KiB", 1536)])
def test_a_size_copied_from_pipcachefirsts_own_output_is_accepted(text: str, size: int) -> None:
    assert _size(text) == size


# -- usage errors: exit status 2, one line saying what is missing --------------------


def _exit_status(argv: list[str]) -> int | str | None:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        return exc.code


def test_no_command_at_all_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_status([]) == 2
    assert "COMMAND" in capsys.readouterr().err


def test_an_unknown_command_is_a_usage_error() -> None:
    assert _exit_status(["frobnicate"]) == 2


def test_prune_without_saying_what_to_prune_and_no_size_limit_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], own_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPCACHEFIRST_MAX_SIZE", "0")
    assert main(["prune"]) == 2
    assert capsys.readouterr().err.strip() == (
        "pipcachefirst prune: PIPCACHEFIRST_MAX_SIZE=0 sets no limit: say what to prune "
        "(--older-than DAYS and/or --max-size SIZE)"
    )
    assert not own_cache.exists()


def test_prune_with_a_size_that_is_not_one_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_status(["prune", "--max-size", "lots"]) == 2
    assert "not a size: 'lots'" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["enable", "disable"])
def test_enable_or_disable_without_a_target_is_a_usage_error(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command]) == 2
    assert capsys.readouterr().err.strip() == f"pipcachefirst {command}: say which: --virtualenv and/or --sitecustomize"


@pytest.mark.parametrize("command", ["why", "warm"])
def test_why_or_warm_with_nothing_to_work_on_is_a_usage_error(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command]) == 2
    assert capsys.readouterr().err.startswith(f"pipcachefirst {command}: name what to ")


def test_why_with_an_unknown_mode_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_status(["why", "--mode", "sometimes", "alpha==1.0"]) == 2
    assert "invalid choice: 'sometimes'" in capsys.readouterr().err


def test_venv_with_nothing_to_install_leaves_the_path_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "env"

    assert main(["venv", str(path)]) == 2
    assert "name what to install" in capsys.readouterr().err
    assert not path.exists()


def test_warm_while_switched_off_says_nothing_would_be_stored(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PIPCACHEFIRST", "0")

    assert main(["warm", "alpha==1.0"]) == 2
    assert "PIPCACHEFIRST turns pipcachefirst off; nothing would be stored" in capsys.readouterr().err


def test_prune_as_the_readme_shows_it_on_an_empty_cache(own_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    own_cache.mkdir()

    assert main(["prune", "--older-than", "30", "--max-size", "2G"]) == 0
    assert capsys.readouterr().out.strip() == (
        "removed 0 entries and 0 installed trees (0 B); 0 entries (0 B) and 0 trees (0 B) remain"
    )
