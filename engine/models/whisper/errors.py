"""Errors a person can act on when a checkpoint is not what it should be."""


class CheckpointError(Exception):
    """A model folder or weight file is missing, corrupt, truncated or of the wrong shape."""
