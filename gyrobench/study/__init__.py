"""Learning studies: ``gyrobench study SUITE.yaml`` trains, validates and evaluates every run of a suite file
and publishes one table with learning curves (see ``docs/study.md``)."""

from .budget import calibrate_seconds_per_step, crop_gmacs, plan_budget
from .runner import run_study
from .suite import Suite, load_suite, parse_suite, train_mapping

__all__ = ["Suite", "load_suite", "parse_suite", "train_mapping", "plan_budget", "crop_gmacs",
           "calibrate_seconds_per_step", "run_study"]
