"""Small engine helpers: a tiny throwaway image, push with in-band error checking."""

from __future__ import annotations

import io
import secrets
import tarfile
from typing import Any

import docker


class PushError(RuntimeError):
    """A push reported an error in its progress stream (HTTP status is 200 regardless)."""


def tiny_image(client: docker.DockerClient, repository: str, tag: str) -> str:
    """Import a one-file image with random content (unique ID); returns the image ID."""
    payload = f"reprobuild harness {secrets.token_hex(8)}\n".encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(payload)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(payload))
    result = client.api.import_image_from_data(
        buffer.getvalue(), repository=repository, tag=tag, changes=['CMD ["/hello.txt"]']
    )
    status = result if isinstance(result, str) else str(result)
    image_id: str = client.images.get(f"{repository}:{tag}").id
    assert image_id.startswith("sha256:"), status
    return image_id


def push(
    client: docker.DockerClient, repository: str, tag: str, auth: dict[str, str] | None = None
) -> str:
    """Push ``repository:tag``; returns the manifest digest, raises PushError on failure."""
    digest = ""
    kwargs: dict[str, Any] = {"stream": True, "decode": True}
    if auth is not None:
        kwargs["auth_config"] = auth
    for chunk in client.api.push(repository, tag, **kwargs):
        if "error" in chunk:
            raise PushError(f"push {repository}:{tag}: {chunk['error']}")
        aux = chunk.get("aux")
        if isinstance(aux, dict) and aux.get("Digest"):
            digest = str(aux["Digest"])
    if not digest:
        raise PushError(f"push {repository}:{tag}: no digest in the progress stream")
    return digest
