"""Monte Carlo campaigns: grid of cells, executors, results store, report.

Public API (used by the CLI): :func:`run`, :func:`prepare_data`,
:func:`train`, :func:`report`; errors are :class:`CampaignError`.
"""
from simlink.campaign.errors import CampaignError
from simlink.campaign.report import report
from simlink.campaign.runner import prepare_data, run, train
from simlink.campaign.store import TIMING_COLUMNS

__all__ = ["CampaignError", "TIMING_COLUMNS", "prepare_data", "report", "run", "train"]
