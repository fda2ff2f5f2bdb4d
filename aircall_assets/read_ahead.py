"""An iterator's next items produced by a background thread while the caller works on this one.

Otherwise producing and consuming take turns: a read waits for each page's answer before it
checks and spools it, a PostgreSQL load waits for DuckDB to type each batch before it sends it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

PREFETCH_PAGES = 2  # pages read ahead while the caller processes the current one


class _Raised:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(items: Iterator[Any], depth: int = PREFETCH_PAGES) -> Iterator[Any]:
    """``items`` produced by a background thread at most ``depth`` ahead of the caller.

    A load wraps its whole stream of pages (every window, splits included), so the next page
    is requested while the caller checks and spools the current one, across window
    boundaries too: a window-by-window read-ahead leaves every window's first page
    unoverlapped. Only pages the caller would read anyway are read;
    pacing and retries are unchanged (the limiter is thread-safe); an error is raised in the
    caller; if the caller stops early, the reader stops after the request in flight.
    """
    ready: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(done)
        except BaseException as error:  # handed to the caller
            put(_Raised(error))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=read, name="aircall-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            item = ready.get()
            if item is done:
                return
            if isinstance(item, _Raised):
                raise item.error
            yield item
    finally:
        stop.set()
        reader.join()
