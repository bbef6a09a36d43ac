"""The volume service's flows: one module per operation, their shared steps in steps.py."""
