"""Checking: the numerical gradient check of any layer or model."""

from zerokara.check.gradcheck import GradEntry, GradReport, gradcheck

__all__ = ["gradcheck", "GradReport", "GradEntry"]
