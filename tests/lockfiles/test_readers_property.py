"""Every registered reader returns a Lock or raises LockParseError, whatever it is fed.

Readers are taken from ``reprobuild.lockfiles.READERS``, so a reader added to the
registry is covered without touching this file. Inputs: arbitrary bytes and text,
lines drawn from TOML/YAML/requirements/explicit-lock fragments, and small valid-ish
documents of every format with random edits.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reprobuild.errors import LockParseError
from reprobuild.lockfiles import READERS, reader_for
from reprobuild.models import Lock, LockFormat

# A directory that does not exist: a reader that follows `-r other.txt` includes must
# report the missing file as a LockParseError, never read something real.
FUZZ_DIR = Path(tempfile.gettempdir()) / "reprobuild-fuzz-does-not-exist"

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_SHA = "a" * 64
_WHEEL = "https://h/demo-1.0-py3-none-any.whl"
_MD5 = "d7c89558ba9fa0495403155b64376d81"
FRAGMENTS = (
    # requirements
    "numpy==1.26.4 \\",
    f"    --hash=sha256:{_SHA}",
    "--hash=md5:zz",
    "requests[socks]>=2 ; python_version >= '3.8'",
    "-e .",
    "-e git+https://github.com/org/repo.git@main#egg=repo",
    "--index-url https://user:secret@pypi.example/simple",
    "--extra-index-url https://pypi.example/simple",
    "-c constraints.txt",
    "-r other.txt",
    "pkg @ https://files.example/pkg-1.0-py3-none-any.whl",
    "# via -r requirements.in",
    "\\",
    # TOML (poetry / uv / pylock)
    "[[package]]",
    "[[packages]]",
    "[[distribution]]",
    "[metadata]",
    "[metadata.files]",
    "[package.source]",
    "[manifest]",
    'name = "demo"',
    'version = "1.0"',
    "version = 1",
    "revision = 3",
    'lock-version = "1.0"',
    'lock-version = "2.0"',
    'content-hash = "abc"',
    'python-versions = "*"',
    'requires-python = ">=3.9"',
    f'files = [{{file = "demo-1.0.tar.gz", hash = "sha256:{_SHA}"}}]',
    f'wheels = [{{ url = "{_WHEEL}", hashes = {{ sha256 = "{_SHA}" }} }}]',
    f'sdist = {{ url = "https://h/demo-1.0.tar.gz", hash = "sha256:{_SHA}", size = 3 }}',
    'source = { registry = "https://pypi.org/simple" }',
    'source = { editable = "." }',
    'source = "directory+/abs/path"',
    'type = "directory"',
    'url = "."',
    "develop = true",
    "dependencies = [{ name = 7 }]",
    "hash = 3",
    "wheels = 1",
    "[",
    "]]",
    # YAML (conda-lock)
    "version: 1",
    "version: 2",
    "metadata:",
    "  platforms: [linux-64]",
    "  channels:",
    "  - url: conda-forge",
    "  - conda-forge",
    "  content_hash: {linux-64: abc}",
    "package:",
    "- name: demo",
    "  version: '1.0'",
    "  manager: pip",
    "  manager: conda",
    "  platform: linux-64",
    "  url: https://conda.anaconda.org/conda-forge/linux-64/demo-1.0-h0_0.conda",
    f"  hash: {_MD5}",
    f"  hash: {{md5: {_MD5}, sha256: {_SHA}}}",
    "  category: main",
    "  categories: [main, 1]",
    "- 3",
    "  - ",
    "&a [*a]",
    "!!binary x",
    "key: 2001-13-45",
    "? complex",
    "---",
    # explicit conda
    "@EXPLICIT",
    "# platform: linux-64",
    "# input_hash: abc",
    f"https://conda.anaconda.org/conda-forge/linux-64/demo-1.0-h0_0.conda#{_MD5}",
    f"https://conda.anaconda.org/conda-forge/noarch/x-1-0.tar.bz2#sha256:{_SHA}",
    "https://conda.anaconda.org/conda-forge/linux-64/bad.conda#",
    f"# pip demo @ https://files.example/demo-1.0-py3-none-any.whl#sha256={_SHA}",
    "# pip @ nothing",
)

SEEDS = (
    f"demo==1.0 \\\n    --hash=sha256:{_SHA}\nother==2.0\n",
    '[[package]]\nname = "demo"\nversion = "1.0"\noptional = false\npython-versions = "*"\n'
    f'files = [{{file = "demo-1.0.tar.gz", hash = "sha256:{_SHA}"}}]\n\n'
    '[metadata]\nlock-version = "2.0"\npython-versions = "^3.10"\ncontent-hash = "abc"\n',
    'version = 1\nrequires-python = ">=3.10"\n\n[[package]]\nname = "demo"\nversion = "1.0"\n'
    'source = { registry = "https://pypi.org/simple" }\n'
    f'sdist = {{ url = "https://h/demo-1.0.tar.gz", hash = "sha256:{_SHA}", size = 3 }}\n',
    'lock-version = "1.0"\ncreated-by = "uv"\n\n[[packages]]\nname = "demo"\nversion = "1.0"\n'
    f'wheels = [{{ url = "{_WHEEL}", hashes = {{ sha256 = "{_SHA}" }} }}]\n',
    "version: 1\nmetadata:\n  platforms: [linux-64]\n  channels: [conda-forge]\n"
    "  content_hash: {linux-64: abc}\npackage:\n- name: demo\n  version: '1.0'\n"
    "  manager: conda\n  platform: linux-64\n"
    "  url: https://conda.anaconda.org/conda-forge/linux-64/demo-1.0-h0_0.conda\n"
    f"  hash: {{md5: {_MD5}}}\n  category: main\n",
    "# platform: linux-64\n@EXPLICIT\n"
    f"https://conda.anaconda.org/conda-forge/linux-64/demo-1.0-h0_0.conda#{_MD5}\n"
    f"# pip demo @ https://files.example/demo-1.0-py3-none-any.whl#sha256={_SHA}\n",
)

_fragment_lines = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)), max_size=25
).map("\n".join)


@st.composite
def _edited_seed(draw: st.DrawFn) -> str:
    """A valid-ish document of some format with a few random splices."""
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        start = draw(st.integers(min_value=0, max_value=len(text)))
        end = draw(st.integers(min_value=start, max_value=min(len(text), start + 12)))
        insert = draw(st.one_of(st.text(max_size=8), st.sampled_from(FRAGMENTS)))
        text = text[:start] + insert + text[end:]
    return text


DOCUMENTS = st.one_of(
    st.binary(max_size=512),
    st.text(max_size=512).map(str.encode),
    _fragment_lines.map(str.encode),
    _edited_seed().map(str.encode),
)


@pytest.mark.parametrize("fmt", list(READERS), ids=str)
def test_reader_returns_a_lock_or_raises_lock_parse_error(fmt: LockFormat) -> None:
    if importlib.util.find_spec(READERS[fmt]) is None:
        pytest.skip(f"{READERS[fmt]} is not written yet")
    reader = reader_for(fmt)
    path = FUZZ_DIR / "lockfile"

    @SETTINGS
    @given(data=DOCUMENTS)
    def check(data: bytes) -> None:
        try:
            result = reader(path, data)
        except LockParseError as exc:
            # The CLI prints the message as one line.
            assert str(exc) and "\n" not in str(exc)
            return
        assert isinstance(result, Lock)

    check()
