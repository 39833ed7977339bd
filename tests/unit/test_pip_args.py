"""pip's configuration read without pip's parser, as pip reads it: files in pip's order, then ``PIP_*``."""

from __future__ import annotations

import os
from pathlib import Path

from pipcachefirst.pip.args import configured


def pip_conf(path: Path, text: str) -> Path:
    """A pip configuration file at ``path`` (its folders made)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_later_file_and_the_commands_own_section_win_and_variables_win_over_files(tmp_path: Path) -> None:
    pip_conf(tmp_path / "xdg" / "pip" / "pip.conf",
             "[global]\ncache-dir = /from/system/global\n[install]\nno_binary = :all:\n")
    named = pip_conf(tmp_path / "named.conf", "[global]\ncache-dir = /from/named\n")
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_CONFIG_DIRS": str(tmp_path / "xdg"),
               "PIP_CONFIG_FILE": str(named)}

    assert configured(["cache-dir", "no-binary"], "install", environ) == {"cache-dir": "/from/named",
                                                                        "no-binary": ":all:"}
    assert configured(["no-binary"], "download", environ) == {}  # another command's section is not read
    assert configured(["cache-dir"], "install", {**environ, "PIP_CACHE_DIR": "/from/variable"}) == {
        "cache-dir": "/from/variable"}


def test_pip_config_file_set_to_devnull_means_no_file_at_all(tmp_path: Path) -> None:
    pip_conf(tmp_path / "config" / "pip" / "pip.conf", "[global]\ncache-dir = /from/user\n")
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "PIP_CONFIG_FILE": os.devnull}
    assert configured(["cache-dir"], "install", environ) == {}


def test_the_commands_section_of_any_file_wins_over_global_of_a_later_one(tmp_path: Path) -> None:
    """pip merges each section over all files, then applies [global], then the command's section."""
    pip_conf(tmp_path / "xdg" / "pip" / "pip.conf", "[install]\ncache-dir = /from/system/install\n")
    pip_conf(tmp_path / "config" / "pip" / "pip.conf",
             "[global]\ncache-dir = /from/user/global\n--no_binary = :all:\nno-cache-dir =\n")
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_CONFIG_DIRS": str(tmp_path / "xdg")}

    assert configured(["cache-dir", "no-binary", "no-cache-dir"], "install", environ) == {
        "cache-dir": "/from/system/install", "no-binary": ":all:"}  # an empty value sets nothing


def test_a_config_file_named_by_the_variable_keeps_the_users_files_out(tmp_path: Path) -> None:
    pip_conf(tmp_path / "config" / "pip" / "pip.conf", "[install]\nrequire-hashes = true\n")
    named = pip_conf(tmp_path / "named.conf", "[global]\ntimeout = 5\n")
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_CONFIG_DIRS": str(tmp_path / "none")}

    assert configured(["require-hashes"], "install", environ) == {"require-hashes": "true"}
    assert configured(["require-hashes"], "install", {**environ, "PIP_CONFIG_FILE": str(named)}) == {}
