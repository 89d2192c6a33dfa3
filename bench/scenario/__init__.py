"""Scenario files: their schema (schema.py, deployment.py), reading them with file:line errors
(loader.py, errors.py)."""
