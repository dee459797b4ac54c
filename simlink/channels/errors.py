"""The one exception type of :mod:`simlink.channels`."""


class ChannelError(Exception):
    """Bad input to a channel source or dataset: a one-line message that names
    the offending file or configuration field."""
