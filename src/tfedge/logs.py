"""Send everything a job prints, TensorFlow's C++ logging included, to its Snakemake log."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def job_log(path: str) -> Iterator[None]:
    """Redirect file descriptors 1 and 2 to ``path`` and log at INFO level there.

    Redirecting the descriptors (not just ``sys.stdout``) also captures what TensorFlow's
    native code writes, which would otherwise clutter the Snakemake console.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "a", buffering=1) as stream:
        os.dup2(stream.fileno(), 1)
        os.dup2(stream.fileno(), 2)
        logging.basicConfig(
            level=logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
            force=True,
        )
        try:
            yield
        except BaseException:
            logging.getLogger("tfedge").exception("job failed")
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for descriptor in saved:
                os.close(descriptor)
