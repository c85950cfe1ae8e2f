"""What to copy: listings, the merge-join, strategies and ignore rules."""

from s3migrate.planner.ignore import IgnoreRules
from s3migrate.planner.listing import ListedObject
from s3migrate.planner.plan import Planner, PlanStats
from s3migrate.planner.strategy import Action, Decision, SizeOnly

__all__ = ["Action", "Decision", "IgnoreRules", "ListedObject", "PlanStats", "Planner", "SizeOnly"]
