"""Real-server test harness: Docker engine, registries, token issuer, fault proxy, base images.

Everything here starts real processes (``scripts/services.sh``, ``/usr/bin/docker-registry``)
on 127.0.0.1; ``tests/conftest.py`` exposes them as session fixtures.
"""
