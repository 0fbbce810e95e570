"""SHA-256 for small data (names, configs, manifests, cache keys): CPython's builtin module,
which loads in ~0.1 ms, where hashlib loads OpenSSL first (~3-4 ms of a command that hashes
even one name). OpenSSL's speed matters only for blobs: those use hashlib."""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hashlib import sha256
else:
    try:
        from _sha256 import sha256  # CPython <= 3.11
    except ImportError:  # renamed _sha2 in 3.12
        from hashlib import sha256

__all__ = ["sha256"]
