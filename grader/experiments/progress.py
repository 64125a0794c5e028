"""Progress lines of an experiment as it happens: written inside the sandbox, printed outside.

The sandboxed part appends one line per event (an epoch trained, a mode or an
arm done) to ``steps/progress.txt`` in its output folder, flushed at once; the
trusted side tails that file while the part runs and prints each new line. A
file and not the process's stdout: the sandbox keeps stdout for ``run.log``
and hands it over only when the process ends. The file is the submission's
(its process can write it too), so the reader takes regular files only,
bounded bytes and lines, printable characters only.

The epoch meters need no help from the student's code: for NLI a forward hook
on the input embeddings counts the examples seen in training mode (the
grader's batch size and set size make an epoch); for Keras, ``Model.fit``
gets one extra callback while the part runs.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
import time
from pathlib import Path
from typing import Callable

PROGRESS_FILE = "steps/progress.txt"
"""Relative to a part's output folder. Under ``steps/``: the orchestrator never collects it as an artifact."""
MAX_LINE_CHARS = 300
MAX_PROGRESS_BYTES = 1024 * 1024


class ProgressWriter:
    """Inside the sandbox: append a line to the progress file and to stdout (``run.log``)."""

    def __init__(self, out: Path | str, label: str):
        self.path = Path(out) / PROGRESS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.label = label
        self.start = time.perf_counter()

    def __call__(self, text: str) -> None:
        line = f"{self.label}: {text} [{time.perf_counter() - self.start:.0f} s]"
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
        print(line, flush=True)


# ---------------------------------------------------------------------------------------------
# epoch meters (inside the sandbox)


@contextlib.contextmanager
def torch_epochs(model, n_train: int, epochs: int, say: Callable[[str], None]):
    """Say "epoch k/E trained" when the model has seen k·n_train examples in training mode."""
    seen = [0]

    def hook(module, inputs):
        if not module.training or not inputs or not hasattr(inputs[0], "shape") or not inputs[0].shape:
            return
        before = seen[0] // n_train
        seen[0] += int(inputs[0].shape[0])
        after = seen[0] // n_train
        for epoch in range(before + 1, min(after, epochs) + 1):
            say(f"epoch {epoch}/{epochs} trained")

    handle = None
    with contextlib.suppress(Exception):      # a model without input embeddings trains without a meter
        handle = model.get_input_embeddings().register_forward_pre_hook(hook)
    try:
        yield
    finally:
        if handle is not None:
            handle.remove()


@contextlib.contextmanager
def keras_epochs(epochs: int, say: Callable[[str], None]):
    """Say "epoch k/E: loss ..., val_loss ..." at the end of every epoch of any ``keras.Model.fit``."""
    import keras

    class EpochLine(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            shown = ", ".join(f"{k} {float(v):.4f}" for k, v in (logs or {}).items()
                              if k in ("loss", "val_loss", "auc", "val_auc"))
            say(f"epoch {epoch + 1}/{epochs}" + (f": {shown}" if shown else ""))

    original = keras.Model.fit

    def fit(self, *args, **kwargs):
        if len(args) < 6:       # callbacks is fit's sixth positional parameter
            kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), EpochLine()]
        return original(self, *args, **kwargs)

    keras.Model.fit = fit
    try:
        yield
    finally:
        keras.Model.fit = original


# ---------------------------------------------------------------------------------------------
# the trusted reader


def printable(line: str) -> str:
    """``line`` without control characters (no terminal escapes from the sandbox), at most MAX_LINE_CHARS."""
    return "".join(ch for ch in line if ch.isprintable())[:MAX_LINE_CHARS]


class ProgressTail:
    """Outside the sandbox: print each new line of a part's progress file while the part runs.

    ``with ProgressTail(path, emit, root=out): run the part``. The file may appear late, be removed
    before the last look (the descriptor kept open still reads it), be replaced (a part run again) or
    be anything the submission made of it: only a regular file is read, at most MAX_PROGRESS_BYTES in
    all, and no link is followed below ``root`` (the folder the trusted side made; the submission can
    write everything under it, ``steps/`` included). Default ``root``: the file's own folder.
    """

    def __init__(self, path: Path | str, emit: Callable[[str], None], interval: float = 0.25,
                 root: Path | str | None = None):
        self.path, self.emit, self.interval = Path(path), emit, interval
        self.root = Path(root) if root is not None else self.path.parent
        self._names = self.path.relative_to(self.root).parts
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._fd: int | None = None
        self._inode = None
        self._read = 0
        self._partial = b""
        self._lock = threading.Lock()

    def __enter__(self) -> "ProgressTail":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.poll()
        if self._fd is not None:        # the thread has ended: nothing else reads it
            os.close(self._fd)
            self._fd = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    def _open(self) -> None:
        """Open the file at ``path`` when it is a regular file other than the one already open."""
        try:
            fd = self._open_without_links()
        except OSError:
            return
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or (info.st_dev, info.st_ino) == self._inode:
            os.close(fd)
            return
        if self._fd is not None:
            self._drain()
            os.close(self._fd)
        self._fd, self._inode, self._partial = fd, (info.st_dev, info.st_ino), b""

    def _open_without_links(self) -> int:
        """The file's descriptor, each folder below ``root`` and the file itself opened with O_NOFOLLOW."""
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for name in self._names[:-1]:
                inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = inner
            return os.open(self._names[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
        finally:
            os.close(fd)

    def _drain(self) -> None:
        while self._fd is not None and self._read < MAX_PROGRESS_BYTES:
            try:
                chunk = os.read(self._fd, min(64 * 1024, MAX_PROGRESS_BYTES - self._read))
            except OSError:
                return
            if not chunk:
                return
            self._read += len(chunk)
            *lines, self._partial = (self._partial + chunk).split(b"\n")
            self._partial = self._partial[-MAX_LINE_CHARS * 4:]
            for raw in lines:
                text = printable(raw.decode("utf-8", errors="replace"))
                if text:
                    self.emit(text)

    def poll(self) -> None:
        with self._lock:
            self._drain()
            self._open()
            self._drain()
