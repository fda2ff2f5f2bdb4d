"""Downloading one signed audio link into the archive, streamed, without any credentials.

The links in ``recording`` and ``voicemail`` are pre-signed storage URLs: the signature in the
query is the whole authorisation, and the storage host is not Aircall's API. So the session
sends no Authorization header at all: not the Aircall credentials, not a ``~/.netrc`` entry,
not after a redirect. A file is read in chunks straight into the archive (memory bounded by a
chunk), and must be as long as its Content-Length says: a cut transfer is a failure, never an
archived file. Server errors (5xx), lost connections and cut transfers are tried again a couple
of times; a refusal (4xx, e.g. 403 for an expired link) is reported as ``LinkRefused`` at once,
so that the caller can refresh the link.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import requests

from aircall_assets.recordings.archive import Archive, Stored

CHUNK_BYTES = 64 * 1024
TIMEOUT_SECONDS = (10.0, 60.0)  # connect, then between two reads
ATTEMPTS = 3
_S3_ERROR = re.compile(r"<Code>([^<]{1,64})</Code>\s*<Message>([^<]{0,200})</Message>")


class FetchFailed(Exception):
    """The file could not be archived; the message is the row's ``error``."""


class LinkRefused(FetchFailed):
    """The storage refused the link (4xx); ``status`` 403 is what an expired link gets."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class _Retry(Exception):
    """A failure worth another attempt (5xx, connection, cut transfer)."""


class _NoCredentials(requests.auth.AuthBase):
    """Set as the session's auth, so that requests never falls back to ``~/.netrc``."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.pop("Authorization", None)
        return request


class _AnonymousSession(requests.Session):
    """A session that never sends Authorization, even after a redirect (where requests would
    otherwise look ``~/.netrc`` up for the new host)."""

    def __init__(self) -> None:
        super().__init__()
        self.auth = _NoCredentials()
        self.headers["Accept-Encoding"] = "identity"  # Content-Length counts the bytes stored

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response) -> None:
        prepared_request.headers.pop("Authorization", None)


def _refusal(response: requests.Response) -> str:
    """``HTTP 403 AccessDenied: Request has expired``: the status and S3's reason, if given."""
    body = response.raw.read(4096, decode_content=False) or b""
    found = _S3_ERROR.search(body.decode("utf-8", "replace"))
    reason = f" {found.group(1)}: {found.group(2)}" if found else f" {response.reason or ''}"
    return f"HTTP {response.status_code}{reason}".rstrip()


def _counted(response: requests.Response, chunk_bytes: int) -> Iterator[bytes]:
    """The body in chunks; raises ``_Retry`` when it ends before its Content-Length."""
    announced = response.headers.get("Content-Length")
    expected = int(announced) if announced and announced.isdigit() else None
    received = 0
    try:
        for chunk in response.iter_content(chunk_bytes):
            received += len(chunk)
            yield chunk
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
        raise _Retry(f"transfer cut after {received:,} of {expected or '?'} bytes") from exc
    if expected is not None and received != expected:
        raise _Retry(f"transfer cut after {received:,} of {expected:,} bytes")


class AudioFetcher:
    """Archives links, one thread-local anonymous session per worker thread."""

    def __init__(
        self,
        attempts: int = ATTEMPTS,
        backoff_seconds: float = 1.0,
        chunk_bytes: int = CHUNK_BYTES,
        timeout: tuple[float, float] = TIMEOUT_SECONDS,
    ) -> None:
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.chunk_bytes = chunk_bytes
        self.timeout = timeout
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = _AnonymousSession()
        return session

    def archive(self, url: str, archive: Archive, uri: str) -> Stored:
        """Download ``url`` into ``uri``: the stored size and hash, or ``FetchFailed``."""
        last = "no attempt"
        for attempt in range(1, self.attempts + 1):
            try:
                return self._once(url, archive, uri)
            except _Retry as retry:
                last = str(retry)
            except (requests.ConnectionError, requests.Timeout) as exc:
                last = f"connection failed ({type(exc).__name__})"
            except requests.RequestException as exc:  # a link it cannot follow (bad URL, loop)
                raise FetchFailed(f"cannot follow the link: {type(exc).__name__}") from None
            if attempt < self.attempts:
                time.sleep(self.backoff_seconds * 2 ** (attempt - 1))
        raise FetchFailed(f"{last} (after {self.attempts} attempts)")

    def _once(self, url: str, archive: Archive, uri: str) -> Stored:
        with self._session().get(url, stream=True, timeout=self.timeout) as response:
            if response.status_code >= 500:
                raise _Retry(_refusal(response))
            if response.status_code != 200:
                raise LinkRefused(_refusal(response), response.status_code)
            return archive.write(uri, _counted(response, self.chunk_bytes))
