"""Hostile values from a config or a lock never reach the Dockerfile unquoted."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reprobuild.config import load_config
from reprobuild.errors import ConfigError, LockParseError
from reprobuild.generate.config import image_config_from
from reprobuild.generate.generator import dockerfile_string, generate
from reprobuild.generate.pins import PinFile
from reprobuild.lockfiles import read_lock

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "generate"


def _project(tmp_path: Path, reprobuild_table: str) -> Path:
    project = tmp_path / "p"
    shutil.copytree(FIXTURES / "pip", project)
    (project / "pyproject.toml").write_text(
        "[tool.reprobuild]\n" 'lockfile = "requirements.txt"\npython = "3.11"\n' + reprobuild_table
    )
    return project


def _dockerfile(project: Path) -> str:
    config = image_config_from(load_config(start=project))
    files = generate(config, read_lock(config.lockfile), PinFile.load(project / config.pins_file))
    return files.dockerfile


def test_env_and_label_values_are_quoted_verbatim(tmp_path: Path) -> None:
    hostile = r'$(touch /pwned) `id` ${HOME} "quoted" \ end'
    project = _project(
        tmp_path,
        f"env = {{ PAYLOAD = '{hostile}' }}\nlabels = {{ \"org.example.x\" = '{hostile}' }}\n"
        "cmd = [\"sh\", \"-c\", \"echo $(id) `id`\"]\n",
    )
    text = _dockerfile(project)
    quoted = dockerfile_string(hostile)
    assert f"PAYLOAD={quoted}" in text
    assert f"org.example.x={quoted}" in text
    assert quoted == r'"\$(touch /pwned) `id` \${HOME} \"quoted\" \\ end"'
    assert 'CMD ["sh", "-c", "echo $(id) `id`"]' in text  # exec form: JSON, no shell


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ('env = { PAYLOAD = "a\\nRUN touch /pwned" }', "single line"),
        ('env = { "BAD NAME" = "x" }', "not a valid environment variable name"),
        ('labels = { "Bad\\nKey" = "x" }', "label keys"),
        ('user = "root\\nRUN id"', "single line"),
        ('user = "$(id)"', "is not a user"),
        ('workdir = "/app\\"; touch /x"', "absolute path without quotes"),
        ('source = ["../outside"]', "relative path inside the project"),
        ('source = ["/etc/passwd"]', "relative path inside the project"),
        ('base-image = "python:3.11 AS x"', "invalid image reference"),
        ('cuda = "12.4; rm -rf /"', "must be"),
        ("typo-key = 1", "unknown key(s) typo-key"),
    ],
)
def test_hostile_config_is_refused(tmp_path: Path, table: str, needle: str) -> None:
    project = _project(tmp_path, table + "\n")
    with pytest.raises(ConfigError, match=None) as info:
        _dockerfile(project)
    assert needle in str(info.value)


def test_hostile_lock_values_are_refused(tmp_path: Path) -> None:
    project = _project(tmp_path, "")
    (project / "requirements.txt").write_text(
        'attrs==26.1.0 ; python_version >= "3" and $(touch /pwned) \\\n'
        "    --hash=sha256:" + "a" * 64 + "\n"
    )
    with pytest.raises(LockParseError):
        _dockerfile(project)
