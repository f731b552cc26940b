"""Image reference grammar: normalisation, edge cases and round trips (no I/O)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reprobuild.errors import ReprobuildError
from reprobuild.registry.errors import InvalidReferenceError
from reprobuild.registry.reference import (
    ImageRef,
    is_loopback_host,
    parse_reference,
    validate_digest,
)

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("python", "docker.io", "library/python", None, None),
        ("python:3.11-slim", "docker.io", "library/python", "3.11-slim", None),
        ("library/python:3", "docker.io", "library/python", "3", None),
        ("docker.io/python", "docker.io", "library/python", None, None),
        ("docker.io/library/python", "docker.io", "library/python", None, None),
        ("index.docker.io/python:3", "docker.io", "library/python", "3", None),
        ("index.docker.io/foo/bar", "docker.io", "foo/bar", None, None),
        (
            "nvidia/cuda:12.4.1-base-ubuntu22.04",
            "docker.io",
            "nvidia/cuda",
            "12.4.1-base-ubuntu22.04",
            None,
        ),
        ("ghcr.io/owner/repo/sub:v1", "ghcr.io", "owner/repo/sub", "v1", None),
        ("localhost/foo", "localhost", "foo", None, None),
        ("localhost:5000/foo:bar", "localhost:5000", "foo", "bar", None),
        ("127.0.0.1:5000/a/b@" + D, "127.0.0.1:5000", "a/b", None, D),
        ("[::1]:5000/foo:t", "[::1]:5000", "foo", "t", None),
        ("[fe80::1]/foo", "[fe80::1]", "foo", None, None),
        ("registry:5000/foo", "registry:5000", "foo", None, None),
        ("Registry/foo", "Registry", "foo", None, None),  # upper case => a host
        ("python:3.11@" + D, "docker.io", "library/python", "3.11", D),
        ("python@" + D, "docker.io", "library/python", None, D),
        ("a/b__c.d-e---f_g", "docker.io", "a/b__c.d-e---f_g", None, None),
        ("foo:_under", "docker.io", "library/foo", "_under", None),
        ("foo:" + "t" * 128, "docker.io", "library/foo", "t" * 128, None),
        ("localhost:5000", "docker.io", "library/localhost", "5000", None),  # Docker's reading
        ("quay.io/a/b@sha512:" + "0" * 128, "quay.io", "a/b", None, "sha512:" + "0" * 128),
    ],
)
def test_parse_valid(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = parse_reference(text)
    assert ref == ImageRef(registry, repository, tag, digest)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("Python", "lowercase"),
        ("foo/Bar", "lowercase"),
        ("docker.io/Foo", "lowercase"),
        ("a" * 64, "image ID"),
        ("foo:", "invalid tag"),
        ("foo:-x", "invalid tag"),
        ("foo:.x", "invalid tag"),
        ("foo:" + "t" * 129, "invalid tag"),
        ("foo:t\u00e9", "invalid tag"),
        ("foo@sha256:abc", "64 lower-case hex"),
        ("foo@sha256:" + "A" * 64, "64 lower-case hex"),
        ("foo@sha256:" + "a" * 65, "64 lower-case hex"),
        ("foo@md5:" + "a" * 32, "unsupported digest algorithm"),
        ("foo@" + "a" * 64, "expected algorithm:hex"),
        ("foo@", "expected algorithm:hex"),
        ("foo@sha256:", "expected algorithm:hex"),
        ("foo@@" + D, "invalid digest"),
        ("-foo", "path component"),
        ("foo-", "path component"),
        ("foo//bar", "path component"),
        ("foo/", "path component"),
        ("foo_-bar", "path component"),
        ("foo___bar", "path component"),
        ("foo..bar", "path component"),
        ("host.io/", "repository name is empty"),
        ("-host.io/foo", "registry host"),
        ("host.io:port/foo", "registry host"),
        ("ho_st.io/foo", "registry host"),
        ("foo bar", "whitespace"),
        (" foo", "whitespace"),
        ("example.com/" + "a" * 250, "longer than 255"),
        (":tag", "repository name is empty"),
    ],
)
def test_parse_invalid(text: str, reason: str) -> None:
    with pytest.raises(InvalidReferenceError) as info:
        parse_reference(text)
    message = str(info.value)
    assert message.startswith(f"invalid image reference {text!r}: ")
    assert reason in message
    assert isinstance(info.value, ReprobuildError)


def test_forms() -> None:
    ref = parse_reference("python:3.11@" + D)
    assert ref.canonical == "docker.io/library/python:3.11@" + D
    assert ref.familiar == "python:3.11@" + D
    assert str(ref) == ref.canonical
    assert ref.manifest_reference == D
    assert ref.api_host == "registry-1.docker.io"
    assert parse_reference("foo/bar").familiar == "foo/bar"
    assert parse_reference("library/a/b").familiar == "library/a/b"
    assert parse_reference("ghcr.io/x/y:1").familiar == "ghcr.io/x/y:1"
    assert parse_reference("ghcr.io/x/y").api_host == "ghcr.io"
    # a Hub namespace that looks like a host keeps its registry to stay unambiguous
    assert parse_reference("docker.io/a.b/c").familiar == "docker.io/a.b/c"
    assert parse_reference("python").manifest_reference == "latest"
    assert parse_reference("python:3").manifest_reference == "3"


def test_with_digest_and_tag() -> None:
    ref = parse_reference("python:3.11")
    assert ref.with_digest(D).familiar == "python:3.11@" + D
    assert ref.with_digest(D).with_digest(None) == ref
    assert ref.with_tag(None).familiar == "python"
    with pytest.raises(InvalidReferenceError):
        ref.with_digest("sha256:xyz")
    with pytest.raises(InvalidReferenceError):
        ref.with_tag("-bad")


def test_validate_digest() -> None:
    assert validate_digest(D) == D
    with pytest.raises(InvalidReferenceError, match="sha256"):
        validate_digest("sha256:1234")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("localhost:5000", True),
        ("127.0.0.1:5000", True),
        ("127.9.8.7", True),
        ("[::1]:5000", True),
        ("[::1]", True),
        ("docker.io", False),
        ("127.example.com", False),
        ("10.0.0.1:5000", False),
        ("localhost.example.com", False),
    ],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


_alnum = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)
_separator = st.sampled_from([".", "_", "__", "-", "--"])
_component = st.builds(
    lambda first, rest: first + "".join(sep + word for sep, word in rest),
    _alnum,
    st.lists(st.tuples(_separator, _alnum), max_size=2),
)
_domain_part = st.builds(lambda a, b: a + ("-" + b if b else ""), _alnum, st.none() | _alnum)
_registry = st.one_of(
    st.just("docker.io"),
    st.just("localhost"),
    st.builds(lambda a, b: f"{a}.{b}", _domain_part, _domain_part),
    st.builds(lambda a, p: f"{a}.io:{p}", _domain_part, st.integers(1, 65535)),
    st.builds(lambda p: f"127.0.0.1:{p}", st.integers(1, 65535)),
    st.builds(lambda p: f"[::1]:{p}", st.integers(1, 65535)),
)
_tag = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from("aZ9_"),
    st.text("abcXYZ019_.-", max_size=20),
)
_digest = st.sampled_from(["sha256:" + "a" * 64, "sha256:" + "0123456789abcdef" * 4])


@st.composite
def image_refs(draw: st.DrawFn) -> ImageRef:
    registry = draw(_registry)
    components = draw(st.lists(_component, min_size=1, max_size=3))
    if registry == "docker.io" and len(components) == 1:
        components = ["library", *components]
    return ImageRef(
        registry=registry,
        repository="/".join(components),
        tag=draw(st.none() | _tag),
        digest=draw(st.none() | _digest),
    )


@settings(deadline=None, max_examples=300)
@given(image_refs())
def test_round_trip(ref: ImageRef) -> None:
    assert parse_reference(str(ref)) == ref
    assert parse_reference(ref.canonical) == ref
    assert parse_reference(ref.familiar) == ref
