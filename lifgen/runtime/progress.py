"""The progress bar of a run in chunks (run(progress=True)), whole or sharded."""

import sys


class ProgressBar:
    """A one-line progress bar on standard error."""

    def __init__(self, total: int) -> None:
        self.total = max(total, 1)
        self.update(0)

    def update(self, done: int) -> None:
        filled = int(40 * done / self.total)
        write = getattr(sys.stderr, "write_raw", sys.stderr.write)  # (the CLI's Printable)
        write(f"\r[{'#' * filled}{' ' * (40 - filled)}] {100 * done / self.total:5.1f}%")
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")
