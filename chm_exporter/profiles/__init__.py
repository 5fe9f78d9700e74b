"""Vendor knowledge as data: profile models, loading, and turning walked rows into metrics."""

from chm_exporter.profiles.evaluate import evaluate_profiles
from chm_exporter.profiles.loader import load_profiles
from chm_exporter.profiles.model import Profile
from chm_exporter.profiles.plan import plan_walks
from chm_exporter.walk import WalkPlan, WalkResult

__all__ = ["Profile", "WalkPlan", "WalkResult", "evaluate_profiles", "load_profiles", "plan_walks"]
