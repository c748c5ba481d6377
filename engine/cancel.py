"""``Cancelled``: raised inside work that was asked to stop.

It lives here, below every other module, so that model code (a decoding loop, a download) can
stop itself without importing the job queue; ``engine.jobs`` turns it into a cancelled job.
"""


class Cancelled(Exception):
    """Raised inside a job when its cancel token is set; the job ends as ``cancelled``."""
