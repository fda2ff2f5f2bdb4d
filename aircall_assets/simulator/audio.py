"""Signed, expiring links to call recordings and voicemails, and the audio behind them.

Aircall serves `recording` and `voicemail` as pre-signed storage URLs valid about an hour, so a
connector that archives audio must download soon after listing and survive expired links.
Here the links point at this simulator (`/audio/recordings/<call id>.mp3?expires=&signature=`)
and are issued when a response is built, while call pages stay cached as serialised bytes:
the generator writes a placeholder (`LINK_MARK` + path) into the JSON, the store notes where
each one lies when it serialises a day (`find_marks`), and `AudioLinks.sign` swaps those of a
response for full signed URLs by slicing: no decoding, no scan of the page.

The signature is a keyed BLAKE2b MAC over (path, expiry) with a per-seed secret (HMAC's
guarantees at a third of the cost of hmac.digest, which matters at one per link of every
page), so two simulators built from equal configs accept each other's links, and a link
cannot be moved to another call or given a later expiry. Downloads need no API credentials
and do not count against the API's rate limit, like the storage they stand for, and errors
are S3-like XML.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import re
from array import array
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl

from .config import SimulatorConfig

AUDIO_PREFIX = "/audio/"
AUDIO_KINDS = ("recording", "voicemail")
# Placeholder for "base URL" in generated links; orjson writes it as the 6 bytes `\u0000`,
# which no generated text contains.
LINK_MARK = "\x00"
_PREFIX = AUDIO_PREFIX.encode()
_MARK = b"\\u0000" + _PREFIX  # how a placeholder's start looks once serialised
_PATH = re.compile(r"^/audio/(recording|voicemail)s/(\d+)\.mp3$")
MIN_AUDIO_BYTES = 8 * 1024
MAX_AUDIO_BYTES = 400 * 1024
_BYTES_PER_SECOND = 72  # keeps a 90-minute call under MAX_AUDIO_BYTES: tests stay fast
MPEG_TYPE = "audio/mpeg"
XML_TYPE = "application/xml"


def placeholder(kind: str, call_id: int) -> str:
    """The unsigned link the generator stores in a call; `AudioLinks.sign` completes it."""
    return f"{LINK_MARK}{AUDIO_PREFIX}{kind}s/{call_id}.mp3"


def find_marks(blob: bytes) -> array[int]:
    """Offsets of every serialised placeholder in `blob` (what `AudioLinks.sign` needs)."""
    marks = array("q")
    position = blob.find(_MARK)
    while position != -1:
        marks.append(position)
        position = blob.find(_MARK, position + len(_MARK))
    return marks


def audio_path(kind: str, call_id: int) -> str:
    """`/audio/recordings/<id>.mp3`: the path a link of this call and kind points at."""
    return f"{AUDIO_PREFIX}{kind}s/{call_id}.mp3"


def parse_path(path: str) -> tuple[str, int] | None:
    """(kind, call id) of an audio path, or None if it names no audio file."""
    match = _PATH.match(path)
    return None if match is None else (match.group(1), int(match.group(2)))


def audio_size(duration: int) -> int:
    """Bytes of a file: grows with the call's duration, within [MIN, MAX]_AUDIO_BYTES."""
    return min(MAX_AUDIO_BYTES, MIN_AUDIO_BYTES + _BYTES_PER_SECOND * max(duration, 0))


def audio_bytes(seed: int, call_id: int, kind: str, duration: int) -> bytes:
    """The file of one call's recording or voicemail: `ID3`, then seeded random bytes."""
    rng = random.Random(f"{seed}:audio:{kind}:{call_id}")
    return b"ID3" + rng.randbytes(audio_size(duration) - 3)


def s3_error(code: str, message: str) -> bytes:
    """The XML body S3 answers a refused request with."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()


class AudioLinks:
    """Signs placeholder links at response time and checks links when they are followed."""

    def __init__(self, config: SimulatorConfig, base_url: Callable[[], str]) -> None:
        secret = hashlib.sha256(f"{config.seed}:audio-links".encode()).digest()
        # Copying a keyed state costs less than keying a new one, at one MAC per link.
        self._keyed = hashlib.blake2b(key=secret, digest_size=32)
        self._ttl = config.audio_link_ttl_seconds
        self._base_url = base_url

    def _mac(self, message: bytes) -> str:
        state = self._keyed.copy()
        state.update(message)
        return state.hexdigest()

    def signature(self, path: str, expires: int) -> str:
        """MAC of (path, expiry): what a link's `signature` must be."""
        return self._mac(f"{path}\n{expires}".encode())

    def url(self, path: str, expires: int) -> str:
        """A full link to `path` valid until `expires`, signed (tests forge expired ones)."""
        signature = self.signature(path, expires)
        return f"{self._base_url()}{path}?expires={expires}&signature={signature}"

    def sign(self, chunk: bytes, marks: Iterable[int], now: int) -> bytes:
        """Serialised calls with the placeholders at `marks` (offsets into `chunk`, ascending)
        replaced by links valid until now + ttl: one MAC and a few slices per link."""
        expires = now + self._ttl
        base = self._base_url().encode()
        query = b"?expires=%d&signature=" % expires
        suffix = b"\n%d" % expires
        mac = self._mac
        out: list[bytes] = []
        done = 0
        for mark in marks:
            start = mark + len(_MARK) - len(_PREFIX)
            end = chunk.index(b'"', start)
            path = chunk[start:end]
            out += (chunk[done:mark], base, path, query, mac(path + suffix).encode())
            done = end
        if not out:
            return chunk
        out.append(chunk[done:])
        return b"".join(out)

    def refusal(self, path: str, query: str, now: int) -> tuple[str, str] | None:
        """None for a valid, unexpired link; else the S3 (code, message) to answer 403 with."""
        params = dict(parse_qsl(query))
        expires, signature = params.get("expires", ""), params.get("signature", "")
        if not expires or not signature:
            return "AccessDenied", "Query-string authentication requires expires and signature"
        if not expires.isdigit() or not hmac.compare_digest(
            signature.encode(), self.signature(path, int(expires)).encode()
        ):
            return (
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided",
            )
        if now > int(expires):
            return "AccessDenied", "Request has expired"
        return None
