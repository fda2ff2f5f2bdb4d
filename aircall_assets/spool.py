"""What a read fetched, kept on disk until the load commits, so that a rerun can resume.

The records are kept as the API sent them, in chunks: each one zstd-compressed JSON array of
consecutive pages of one leaf window (``windows.iter_window``), written under a temporary name and
renamed once whole, so a chunk on disk is always complete. ``manifest.json`` beside them says
how far the read got: the windows done (everything dated before ``done_until``), the leaf window
in progress (its bounds, the total the API reported, the pages spooled) and the figures the
asset checks need. It is rewritten, also by rename, after every chunk.

A chunk is closed at the end of each leaf window, after every page of a paced read (each
page costs budget, and writing it takes well under a millisecond), and at least every
``FLUSH_SECONDS`` otherwise: a read killed at any point loses at most the pages since, while a
fast unpaced read (a local simulator) writes a handful of chunks.

A resumable spool belongs to one table, run range and column selection (its ``identity``) and
lives in a folder named after it; one whose identity differs, or older than its maximum age,
is discarded instead of resumed. Only one run uses a spool at a time (an ``flock`` held while
it is open); a second run of the same range at once gets a private spool that it does not
keep.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
import zstandard

from aircall_assets.client.windows import WindowPage

SPOOL_DIR_ENV = "AIRCALL_SPOOL_DIR"
MAX_AGE_ENV = "AIRCALL_SPOOL_MAX_AGE_H"
DEFAULT_MAX_AGE_HOURS = 24.0
CHUNK_SUFFIX = ".json.zst"
FLUSH_SECONDS = 0.5
ZSTD_LEVEL = 1  # ~20x smaller than the JSON, for a few % of a load's CPU
PRIVATE_PREFIX = "private-"


def spool_root() -> Path:
    """Where spools live: ``$AIRCALL_SPOOL_DIR``, else a folder of the temp dir (it survives a
    killed process; on Kubernetes, point it at a volume that survives the pod)."""
    configured = os.environ.get(SPOOL_DIR_ENV)
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "aircall_spool"


def max_age_seconds() -> float:
    """How long a spool may wait for its rerun (``$AIRCALL_SPOOL_MAX_AGE_H`` hours)."""
    raw = os.environ.get(MAX_AGE_ENV)
    try:
        hours = float(raw) if raw else DEFAULT_MAX_AGE_HOURS
    except ValueError:
        raise ValueError(f"{MAX_AGE_ENV}='{raw}' is not a number of hours (e.g. 24)") from None
    return hours * 3600


@dataclass
class Leaf:
    """The leaf window in progress: where it lies, what the API said it holds, how far."""

    start: int
    end: int
    total: int
    pages: int = 0
    outside: int = 0


@dataclass
class Manifest:
    identity: dict[str, Any]
    created_at: float
    done_until: int | None = None  # every window dated before it is spooled whole
    api_total: int = 0  # records the API reported for the windows spooled (leaves)
    windows: int = 0
    outside: int = 0  # records the API sent outside their window (dropped)
    rows: int = 0
    chunks: list[str] = field(default_factory=list)
    leaf: Leaf | None = None

    @classmethod
    def parse(cls, raw: bytes) -> Manifest:
        data = orjson.loads(raw)
        leaf = data.pop("leaf", None)
        return cls(**data, leaf=Leaf(**leaf) if leaf else None)


class Spool:
    """A folder of chunks and their manifest; see the module docstring."""

    def __init__(self, directory: Path, manifest: Manifest, lock_fd: int | None) -> None:
        self.directory = directory
        self.manifest = manifest
        self._lock_fd = lock_fd
        self._buffer: list[list[dict[str, Any]]] = []
        self._buffered_rows = 0
        self._last_flush = time.monotonic()

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def resumable(cls, identity: dict[str, Any], root: Path | None = None) -> Spool:
        """The spool of ``identity``: resumed if a fresh one is there."""
        root = root or spool_root()
        max_age = max_age_seconds()
        root.mkdir(parents=True, exist_ok=True)
        _sweep(root, max_age)
        directory = root / _folder_name(identity)
        lock_fd = _open_lock(directory)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            return cls.private(identity, root)
        manifest = _read_manifest(directory)
        fresh = Manifest(identity=identity, created_at=time.time())
        if (
            manifest is None
            or manifest.identity != identity
            or time.time() - manifest.created_at > max_age
            or not all((directory / name).exists() for name in manifest.chunks)
        ):
            _clear(directory)
            manifest = fresh
        return cls(directory, manifest, lock_fd)

    @classmethod
    def private(cls, identity: dict[str, Any] | None = None, root: Path | None = None) -> Spool:
        """A spool for one attempt only, removed by ``discard`` (or the next sweep)."""
        root = root or spool_root()
        root.mkdir(parents=True, exist_ok=True)
        directory = root / f"{PRIVATE_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"
        directory.mkdir()
        return cls(directory, Manifest(identity=identity or {}, created_at=time.time()), None)

    @property
    def resumed(self) -> bool:
        return bool(self.manifest.chunks) or self.manifest.done_until is not None

    # -- writing -----------------------------------------------------------------------------

    def add_page(self, page: WindowPage, keep_now: bool) -> None:
        """Spool one page of a leaf window; ``keep_now``: write it at once (it cost budget)."""
        manifest = self.manifest
        leaf = manifest.leaf
        if leaf is None or (leaf.start, leaf.end) != (page.window_start, page.window_end):
            self.flush()
            leaf = manifest.leaf = Leaf(page.window_start, page.window_end, page.window_total)
        leaf.pages = page.page
        leaf.outside += page.outside
        self._buffer.append(page.records)
        self._buffered_rows += len(page.records)
        if page.last:
            self.flush()
            manifest.done_until = leaf.end
            manifest.api_total += leaf.total
            manifest.windows += 1
            manifest.outside += leaf.outside
            manifest.leaf = None
            self._write_manifest()
        elif keep_now or time.monotonic() - self._last_flush >= FLUSH_SECONDS:
            self.flush()

    def add_records(self, records: list[dict[str, Any]]) -> None:
        """Spool records that belong to no window (a full table, a single object)."""
        self._buffer.append(records)
        self._buffered_rows += len(records)
        if time.monotonic() - self._last_flush >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write the buffered pages as one chunk, then the manifest that names it."""
        self._last_flush = time.monotonic()
        if not self._buffer:
            return
        leaf = self.manifest.leaf
        name = f"{len(self.manifest.chunks):08d}-{leaf.start if leaf else 'all'}{CHUNK_SUFFIX}"
        temporary = self.directory / (name + ".tmp")
        _write_chunk(temporary, self._buffer)
        os.replace(temporary, self.directory / name)
        self.manifest.chunks.append(name)
        self.manifest.rows += self._buffered_rows
        self._buffer, self._buffered_rows = [], 0
        self._write_manifest()

    def _write_manifest(self) -> None:
        temporary = self.directory / "manifest.json.tmp"
        temporary.write_bytes(orjson.dumps(asdict(self.manifest)))
        os.replace(temporary, self.directory / "manifest.json")

    # -- resuming ----------------------------------------------------------------------------

    def leaf_chunks(self) -> list[str]:
        leaf = self.manifest.leaf
        if leaf is None:
            return []
        return [
            n for n in self.manifest.chunks if n.split("-", 1)[1] == f"{leaf.start}{CHUNK_SUFFIX}"
        ]

    def leaf_ids(self, key: str) -> set[Any]:
        """The ids already spooled of the leaf window in progress (read back from its chunks)."""
        return {
            r.get(key) for name in self.leaf_chunks() for r in _read_chunk(self.directory / name)
        }

    def drop_leaf(self) -> None:
        """Forget the leaf window in progress: it changed, and is read again whole."""
        for name in self.leaf_chunks():
            self.manifest.rows -= len(_read_chunk(self.directory / name))
            self.manifest.chunks.remove(name)
            (self.directory / name).unlink()
        self.manifest.leaf = None
        self._write_manifest()

    # -- reading and ending ------------------------------------------------------------------

    @property
    def files(self) -> list[Path]:
        return [self.directory / name for name in self.manifest.chunks]

    def records(self) -> Iterator[list[dict[str, Any]]]:
        """The spooled records chunk by chunk (for warehouses that stream them themselves)."""
        for path in self.files:
            yield _read_chunk(path)

    def close(self) -> None:
        """Release the spool, keeping it for a rerun (a private one has none: it goes)."""
        if self._lock_fd is None:
            shutil.rmtree(self.directory, ignore_errors=True)
            return
        os.close(self._lock_fd)
        self._lock_fd = None

    def discard(self) -> None:
        """The load committed: nothing to resume any more."""
        shutil.rmtree(self.directory, ignore_errors=True)
        self.close()


def spool_pages(pages: Iterable[list[dict[str, Any]]]) -> Spool:
    """A private spool of ``pages`` (a load handed its records directly)."""
    spool = Spool.private()
    try:
        for records in pages:
            spool.add_records(records)
        spool.flush()
    except BaseException:
        spool.discard()
        raise
    return spool


def _folder_name(identity: dict[str, Any]) -> str:
    """One folder per company, table and range: a read of other columns replaces it."""
    where = {k: v for k, v in identity.items() if k != "columns"}
    digest = hashlib.sha256(orjson.dumps(where, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"{identity.get('table', 'load')}-{digest[:16]}"


def _read_manifest(directory: Path) -> Manifest | None:
    try:
        return Manifest.parse((directory / "manifest.json").read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError, TypeError):
        return None


def _clear(directory: Path) -> None:
    for path in directory.iterdir():
        if path.name != ".lock":
            path.unlink()


def _sweep(root: Path, max_age_seconds: float) -> None:
    """Remove spools nobody will resume: too old, or private to a process that died."""
    now = time.time()
    for directory in root.iterdir():
        if not directory.is_dir():
            continue
        if directory.name.startswith(PRIVATE_PREFIX):
            pid = directory.name[len(PRIVATE_PREFIX) :].split("-", 1)[0]
            if pid.isdigit() and not _process_alive(int(pid)):
                shutil.rmtree(directory, ignore_errors=True)
            continue
        # The age the manifest records, not the file's: the clock that wrote it, as resuming
        # compares (a file system's clock may differ). No manifest: nothing was kept.
        manifest = _read_manifest(directory)
        stale = manifest is None or now - manifest.created_at > max_age_seconds
        if stale and not _locked(directory):
            shutil.rmtree(directory, ignore_errors=True)


def _open_lock(directory: Path) -> int:
    """The lock file of ``directory``, created with it (again, if another process's sweep
    removed the folder between the two)."""
    for _ in range(3):
        directory.mkdir(exist_ok=True)
        try:
            return os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        except FileNotFoundError:
            continue
    raise FileNotFoundError(f"{directory} keeps disappearing: is another process removing it?")


def _locked(directory: Path) -> bool:
    try:
        fd = os.open(directory / ".lock", os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_chunk(path: Path, pages: list[list[dict[str, Any]]]) -> None:
    """The pages as one compressed JSON array (one ``orjson`` call per page: 3-5x cheaper than
    one per record)."""
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    with open(path, "wb") as raw, compressor.stream_writer(raw) as out:
        out.write(b"[")
        first = True
        for records in pages:
            if not records:
                continue
            if not first:
                out.write(b",")
            # the page's objects, without [ ] (a view: no copy of the page's bytes)
            out.write(memoryview(orjson.dumps(records))[1:-1])
            first = False
        out.write(b"]")


def _read_chunk(path: Path) -> list[dict[str, Any]]:
    with open(path, "rb") as raw:
        return orjson.loads(zstandard.ZstdDecompressor().stream_reader(raw).read())
