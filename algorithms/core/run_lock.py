"""One training process per run directory.

Two processes training the same run (the same `marl benchmark` command started twice, two machines of a Ray
cluster sharing storage, `marl train --resume` in two terminals) would interleave their metrics.csv rows and
overwrite each other's checkpoints. A Trainer therefore holds an OS lock (flock) on RUN/checkpoints/train.lock
while it owns the directory. The OS drops the lock when the process ends, however it ends, so a killed run never
leaves a stale lock behind; the file itself stays (removing it would let two processes lock two different files).
`marl tune` holds the same kind of lock on its tuning directory (another lock file), for the same reason.
"""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import BinaryIO

from algorithms.errors import MARLError

try:
    import fcntl
except ImportError:  # Windows has no flock: runs there are not protected against a second process
    fcntl = None

LOCK_FILE = Path("checkpoints") / "train.lock"


class RunLock:
    """Held from construction until release() (or until the process ends). Raises MARLError "run-in-use",
    naming the holder, if another process holds it. `lock_file` is relative to `run_dir`."""

    def __init__(self, run_dir: Path, lock_file: Path = LOCK_FILE, doing: str = "being trained"):
        path = run_dir / lock_file
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file: BinaryIO | None = open(path, "a+b")
        if fcntl is None:
            return
        try:
            fcntl.flock(self.file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # held by another process
            self.file.seek(0)
            holder = self.file.read(300).decode(errors="replace").strip() or "another process"
            self.release()
            raise MARLError("run-in-use", f"{run_dir} is {doing} by {holder}",
                            "wait for that process to finish or stop it; two processes training one run would "
                            "corrupt its metrics and checkpoints") from None
        except OSError as err:  # a file system that cannot lock: say so rather than train unprotected
            self.release()
            raise MARLError("run-lock-failed", f"cannot lock {path}: {err}",
                            "put the run directory on a file system with file locks (local disk, NFSv4)") from None
        self.file.truncate(0)
        self.file.write(f"pid {os.getpid()} on {socket.gethostname()} since "
                        f"{time.strftime('%Y-%m-%d %H:%M:%S')}".encode())
        self.file.flush()

    def release(self) -> None:
        if self.file is not None:
            self.file.close()  # closing the descriptor drops the lock
            self.file = None
