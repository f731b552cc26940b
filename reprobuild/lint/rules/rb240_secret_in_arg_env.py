"""RB240 secret-in-arg-env: an ``ARG`` or ``ENV`` whose name says it holds a secret.

## What it does

Flags ``ARG`` and ``ENV`` names made of words such as ``TOKEN``, ``PASSWORD``,
``PASSWD``, ``PASS``, ``SECRET``, ``CREDENTIAL(S)``, ``API_KEY``/``APIKEY``,
``ACCESS_KEY``, ``PRIVATE_KEY``, ``SECRET_KEY``, ``AUTH_KEY`` or ``NPM_TOKEN``-style
names (``GITHUB_TOKEN``, ``HF_TOKEN``, ``AWS_SECRET_ACCESS_KEY``, ``DB_PASSWORD``).
Words are split on ``_`` and ``-`` and compared case-insensitively, so ``PASSTHROUGH``
or ``TOKENIZERS_PARALLELISM`` are not flagged.

Names that *point to* a secret rather than hold it are not flagged: a last word of
``FILE``, ``PATH``, ``DIR``, ``URL``, ``URI``, ``ENDPOINT``, ``NAME``, ``ID`` after a
secret word that is not itself a key (``PASSWORD_FILE``, ``TOKEN_URL``, ``SECRET_NAME``
…), as well as ``*_LENGTH``, ``*_TYPE``, ``*_ENABLED``. ``KEY`` alone is not a secret
word either: ``GPG_KEY`` in the official Python images is a public key fingerprint.

## Why is this bad?

Build arguments are recorded in the image history (``docker history`` shows them) and
in build provenance; ``ENV`` values are in the image config of every container started
from it. Anyone who can pull the image can read them, forever, even if a later layer
"unsets" them.

## Example

```dockerfile
ARG GITHUB_TOKEN
RUN git clone https://${GITHUB_TOKEN}@github.com/acme/private.git
```

## Fix

Pass the secret as a BuildKit secret mount, which is never written to the image:

```dockerfile
RUN --mount=type=secret,id=github_token \\
    git clone https://$(cat /run/secrets/github_token)@github.com/acme/private.git
```

and build with ``docker build --secret id=github_token,env=GITHUB_TOKEN .``. For runtime
secrets, inject them when the container starts (orchestrator secrets, env files), not in
the image.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

from reprobuild.dockerfile import Dockerfile, DockerfileContext, parse_key_values
from reprobuild.dockerfile.findings import violation
from reprobuild.lint.rule import Rule, Severity, Target, Violation

_SECRET_WORDS = frozenset(
    {"TOKEN", "PASSWORD", "PASSWD", "PASS", "PWD", "SECRET", "SECRETS", "CREDENTIAL",
     "CREDENTIALS", "APIKEY", "PASSPHRASE"}
)
_SECRET_PAIRS = frozenset(
    {("API", "KEY"), ("ACCESS", "KEY"), ("PRIVATE", "KEY"), ("SECRET", "KEY"),
     ("AUTH", "KEY"), ("CLIENT", "SECRET"), ("SIGNING", "KEY"), ("ENCRYPTION", "KEY")}
)
_POINTER_WORDS = frozenset({"FILE", "FILES", "PATH", "DIR", "URL", "URI", "ENDPOINT", "NAME", "ID"})
_HARMLESS_LAST = frozenset({"LENGTH", "TYPE", "ENABLED", "REQUIRED", "POLICY", "EXPIRY"})
_WORD = re.compile(r"[_\-]+")


def is_secret_name(name: str) -> bool:
    """Whether ``name`` (an ARG/ENV name) looks like it holds a secret value."""
    words = [w for w in _WORD.split(name.upper()) if w]
    if not words or words[-1] in _HARMLESS_LAST:
        return False
    pairs = set(itertools.pairwise(words))
    key_like = bool(pairs & _SECRET_PAIRS)
    if words[-1] in _POINTER_WORDS and len(words) > 1:
        # ACCESS_KEY_ID is half of a credential; PASSWORD_FILE only says where one is.
        return key_like and words[-1] == "ID"
    # PWD alone is the shell's working directory.
    return key_like or (any(w in _SECRET_WORDS for w in words) and words != ["PWD"])


def check(dockerfile: Dockerfile, ctx: DockerfileContext) -> Iterator[Violation]:
    for instruction in dockerfile.instructions_of("ARG", "ENV"):
        legacy = instruction.keyword == "ENV"
        for name, _value in parse_key_values(instruction.value, legacy=legacy):
            if not is_secret_name(name):
                continue
            yield violation(
                instruction,
                f"{instruction.keyword} {name} looks like a secret: build args and ENV values "
                "are readable in the image history and config; use "
                "`RUN --mount=type=secret,id=…` instead",
                line=instruction.line_of(name),
            )


RULE = Rule(
    code="RB240",
    name="secret-in-arg-env",
    severity=Severity.WARNING,
    summary="ARG/ENV name that looks like a secret (TOKEN, PASSWORD, API_KEY, …)",
    target=Target.DOCKERFILE,
    check=check,
    doc=__doc__ or "",
)
