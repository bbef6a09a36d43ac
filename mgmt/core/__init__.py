"""The management node runtime: bus, ring, membership, database, errors, agent tasks.

Imports no service; services build on it.
"""
