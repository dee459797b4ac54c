"""The campaign's user-facing error."""


class CampaignError(Exception):
    """A campaign cannot proceed: a one-line message naming the file or
    option at fault (the CLI prints it and exits with status 2)."""
