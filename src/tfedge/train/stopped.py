"""The error that ends a train job without a retry: the lock is taken, or an attempt failed.

Its own module because both the work folder's lock and the supervision of attempts raise it,
and the job lets it through to the log.
"""


class TrainingStopped(RuntimeError):
    """An attempt ended in a way that is not out of memory; the message says how and what to do."""
