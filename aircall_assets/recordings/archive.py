"""Where archived audio lives: a local folder or any fsspec URL, one file per call and kind.

The archive is ``AIRCALL_ARCHIVE_URL`` (default ``data/recordings``, beside the default DuckDB
file); an fsspec URL (``s3://bucket/prefix``, ``gs://...``) works where its fsspec package is
installed. Files are laid out by the call's UTC day and id, under the account's schema so that
two accounts never share a folder: ``<archive>/<schema>/YYYY/MM/DD/<call id>/<kind>.mp3``.

A file is written under a temporary name beside its final one, hashed as it is written, and
moved into place only once complete: a crash or a cut download never leaves a partial file
under the final name (on an object store the move is a server-side copy; the temporary object
of a crashed run may remain, never the final one).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import fsspec
from fsspec.core import split_protocol, url_to_fs
from fsspec.registry import known_implementations

ARCHIVE_URL_ENV = "AIRCALL_ARCHIVE_URL"
DEFAULT_ARCHIVE_URL = "data/recordings"
EXTENSION = ".mp3"


class ArchiveError(ValueError):
    """The archive URL cannot be used; the message says what to change or install."""


def archive_url() -> str:
    """``AIRCALL_ARCHIVE_URL``, or the default local folder."""
    return os.environ.get(ARCHIVE_URL_ENV) or DEFAULT_ARCHIVE_URL


def shown(url: str) -> str:
    """The URL without any password in it, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def check_archive_url(url: str) -> str:
    """``url`` if fsspec can open it here, else an ``ArchiveError`` naming the package to
    install (checked when the definitions load, not at the first download)."""
    protocol, _ = split_protocol(url)
    if protocol is None or protocol == "file":
        return url
    try:
        fsspec.get_filesystem_class(protocol)
    except ValueError:
        known = ", ".join(sorted(p for p in known_implementations if len(p) > 2))
        raise ArchiveError(
            f"{ARCHIVE_URL_ENV}={shown(url)}: fsspec knows no protocol '{protocol}'; use a "
            f"local folder or one of: {known}"
        ) from None
    except ImportError:
        package = known_implementations[protocol]["class"].split(".")[0]
        raise ArchiveError(
            f"{ARCHIVE_URL_ENV}={shown(url)}: the '{protocol}' protocol needs the fsspec "
            f"package {package}, which is not installed: pip install {package}"
        ) from None
    return url


@dataclass(frozen=True)
class Stored:
    """A complete file as written: its size and SHA-256 (hex)."""

    bytes: int
    sha256: str


class Archive:
    """The files of one archive URL; ``uri`` values are full fsspec URLs (``file:///...``)."""

    def __init__(self, url: str) -> None:
        check_archive_url(url)
        self.url = url
        self._fs, self._root = url_to_fs(url)

    def uri(self, schema: str, started_at: datetime, call_id: int, kind: str) -> str:
        """Where the call's audio of ``kind`` goes: by the call's UTC day, then its id."""
        day = f"{started_at:%Y/%m/%d}"
        path = f"{self._root.rstrip('/')}/{schema}/{day}/{call_id}/{kind}{EXTENSION}"
        return self._fs.unstrip_protocol(path)

    def size(self, uri: str) -> int | None:
        """The stored file's size in bytes, or None when there is none."""
        path = self._fs._strip_protocol(uri)
        try:
            return int(self._fs.size(path))
        except FileNotFoundError:
            return None

    def write(self, uri: str, chunks: Iterable[bytes]) -> Stored:
        """Write ``chunks`` as the file ``uri``, hashing them on the way; in place only when
        every chunk came. An exception from ``chunks`` (a cut download) leaves no file."""
        path = self._fs._strip_protocol(uri)
        temporary = f"{path}.part-{uuid.uuid4().hex[:12]}"
        self._fs.makedirs(self._fs._parent(path), exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        try:
            with self._fs.open(temporary, "wb") as out:
                for chunk in chunks:
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            self._fs.mv(temporary, path)
        except BaseException:
            if self._fs.exists(temporary):
                self._fs.rm(temporary)
            raise
        return Stored(size, digest.hexdigest())
