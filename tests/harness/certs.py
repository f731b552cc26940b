"""Self-signed certificates: TLS for a registry and the token-signing certificate."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class CertPair:
    """A private key and its self-signed certificate, on disk and in memory."""

    key_path: Path
    cert_path: Path
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def cert_der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)


def make_self_signed(directory: Path, name: str, *, ip_sans: tuple[str, ...] = ()) -> CertPair:
    """Write ``<name>.key`` / ``<name>.pem``: RSA-2048, valid one day around now.

    The certificate is its own CA (BasicConstraints ca=True) so it can sit in a registry's
    ``rootcertbundle`` or a client's CA file and verify itself.
    """
    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    if ip_sans:
        sans = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_sans]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    key_path = directory / f"{name}.key"
    cert_path = directory / f"{name}.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return CertPair(key_path=key_path, cert_path=cert_path, key=key, cert=cert)
