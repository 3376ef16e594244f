"""How a store's file is opened: read-write for writers, read-only for readers.

A writer (a scan, a :class:`~repscope.live.LiveRun`) opens the file read-write and proves it
can write; a file it cannot write (a file mode, an immutable flag, a read-only mount) is opened
for reading, with the reason. A reader (:func:`repscope.open`, ``repscope ls`` and ``export``,
the widgets) opens it with SQLite's ``mode=ro``: no journal change, no write, so the file is
left byte for byte as it was, and in WAL mode it never waits behind a writer. A file that is
empty or not a SQLite file is refused before SQLite opens it. A lock that SQLite gave up
waiting for is said as a lock, with the seconds waited — never "not a store".

SQLite's reader of a WAL-mode file creates the file's ``-wal`` and ``-shm`` when they are not
there, and only a connection that may write removes them: :func:`release` removes them again
when the reader made them, they are empty and no other connection uses the file.

Examples
--------
>>> import sqlite3, tempfile, pathlib
>>> from repscope.store_file import StoreError, open_reading
>>> path = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
>>> _ = path.write_text("a shopping list")
>>> try:
...     open_reading(str(path), 1.0)
... except StoreError as err:
...     print(str(err).replace(str(path), "notes.txt"))
notes.txt is not a repscope store: not a SQLite file (it begins b'a shopping list'; left as it is).
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

#: ``Store.read_only`` of a store opened with ``read_only=True``.
READING = "opened for reading only"


class StoreError(RuntimeError):
    """The store file cannot be used (not a repscope store, written by a newer repscope, or
    locked by another process)."""


class DamagedStoreError(StoreError):
    """SQLite cannot read part of the file (``database disk image is malformed``):
    ``repscope check`` says what it finds."""


def connect(target: str, timeout: float, *, uri: bool = False) -> sqlite3.Connection:
    return sqlite3.connect(
        target, timeout=timeout, isolation_level=None, check_same_thread=False, uri=uri
    )


def is_lock(err: sqlite3.Error) -> bool:
    """SQLite gave up waiting for another connection's lock."""
    return "locked" in str(err) or "busy" in str(err)


def sqlite_error(path: str, err: sqlite3.Error, waited: float, timeout: float) -> StoreError:
    """What SQLite's error means for a store: a lock (with the seconds waited), or a file that
    is not a store."""
    if is_lock(err):
        return StoreError(
            f"{path} is locked by another process: SQLite waited {waited:.1f} s "
            f"(timeout {timeout:g} s) and gave up ({err}). Another program is writing it (a "
            "store in rollback-journal mode, or a file held exclusively); try again when it "
            "has finished."
        )
    if type(err) is sqlite3.DatabaseError and "malformed" in str(err):
        return DamagedStoreError(
            f"{path} is damaged: SQLite cannot read it ({err}). `repscope check {path}` says "
            "what it finds."
        )
    return StoreError(f"{path} is not a repscope store (SQLite said: {err}).")


def open_writing(path: str, timeout: float) -> tuple[sqlite3.Connection, str | None]:
    """A read-write connection (created with the file when it is missing) and ``None``; or,
    for an existing file that cannot be written, a read-only one and the reason."""
    if path == ":memory:" or not Path(path).exists():
        try:
            return connect(path, timeout), None
        except sqlite3.Error as err:
            raise StoreError(f"{path}: cannot create the store ({err}).") from None
    why = unwritable(Path(path))
    if why is None:
        conn = connect(path, timeout)
        try:
            conn.execute("BEGIN IMMEDIATE")  # a write lock: proves the file is writable
            conn.execute("ROLLBACK")
            return conn, None
        except sqlite3.OperationalError as err:
            if is_lock(err):
                return conn, None  # another writer holds it: writable, just busy
            conn.close()
            if "readonly" not in str(err).replace(" ", "") and "read-only" not in str(err):
                raise StoreError(f"{path}: SQLite cannot open it ({err}).") from None
            why = f"SQLite cannot write it ({err})"
        except sqlite3.DatabaseError as err:
            conn.close()
            raise StoreError(f"{path} is not a repscope store (SQLite said: {err}).") from None
    try:
        conn, _ = open_reading(path, timeout)
    except StoreError as err:
        raise StoreError(f"{path} is read-only ({why}) and cannot be read either: {err}") from None
    return conn, why


def open_reading(path: str, timeout: float) -> tuple[sqlite3.Connection, bool]:
    """A ``mode=ro`` connection to an existing SQLite file, and whether it created the file's
    -wal and -shm (to pass to :func:`release`).

    Raises
    ------
    StoreError
        The file is missing, empty, not a SQLite file, not one SQLite can open, or locked for
        longer than ``timeout`` seconds.
    """
    file = Path(path)
    if not file.exists():
        raise StoreError(f"{path}: no such file (a store opened for reading is never created).")
    try:
        with file.open("rb") as f:
            head = f.read(16)
    except OSError as err:
        raise StoreError(f"{path}: cannot be read ({err}).") from None
    if not head:
        raise StoreError(f"{path} is an empty file, not a repscope store (left as it is).")
    if head != b"SQLite format 3\x00":
        raise StoreError(
            f"{path} is not a repscope store: not a SQLite file (it begins {head!r}; left as "
            "it is)."
        )
    fresh = not any(Path(path + end).exists() for end in ("-wal", "-shm"))
    uri = file.resolve().as_uri()
    first: sqlite3.Error | None = None
    # immutable: a WAL file in a folder that cannot be written, where the -shm cannot be made
    for flags in ("mode=ro", "immutable=1"):
        started = time.monotonic()
        conn = connect(f"{uri}?{flags}", timeout, uri=True)
        try:
            conn.execute("SELECT name FROM sqlite_master").fetchall()
            return conn, fresh and flags == "mode=ro"
        except sqlite3.Error as err:
            conn.close()
            if is_lock(err):
                raise sqlite_error(path, err, time.monotonic() - started, timeout) from None
            first = first or err
            if "unable to open" not in str(err):
                break
    assert first is not None
    raise sqlite_error(path, first, 0.0, timeout)


def release(conn: sqlite3.Connection, wal_of: str | None) -> None:
    """Close a store's connection; for a reader that created a WAL-mode file's -wal and -shm
    (``wal_of``: the file), remove them again while they are empty and nobody else uses the
    file."""
    conn.close()
    if wal_of is None:
        return
    path = Path(wal_of)
    wal = Path(wal_of + "-wal")
    try:
        if not wal.exists() or wal.stat().st_size or not path.exists():
            return  # gone already, or holding another process's writes: SQLite's to handle
        # mode=rw never creates the store; it reads one page and closes: the last connection
        # to close removes an empty -wal and the -shm, and writes nothing to the store
        cleaner = connect(f"{path.resolve().as_uri()}?mode=rw", 0.0, uri=True)
        try:
            cleaner.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        finally:
            cleaner.close()
    except (sqlite3.Error, OSError):
        pass


def unwritable(path: Path) -> str | None:
    """Why the process cannot write ``path`` (file mode, immutable flag, read-only mount), as
    far as the OS says before SQLite tries; ``None`` if it seems writable."""
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return "it is on a read-only file system"
    except (OSError, AttributeError):
        pass
    if not os.access(path, os.W_OK):
        return "the file cannot be written: its mode or an immutable flag"
    if not os.access(path.parent, os.W_OK):
        return "its folder cannot be written, and SQLite needs to create its journal there"
    return None
