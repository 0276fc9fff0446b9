"""Declarative GitOps reconciler for Zoom settings."""

__version__ = "0.1.0"
