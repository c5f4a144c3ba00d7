"""The train job (``job``) and what its attempts' child processes share with it (``protocol``).

Nothing is imported here: ``tfedge.train_attempt`` imports ``tfedge.train.protocol``, which runs
this file first, and must not pull in the job that supervises it (nor its code digest).
"""
