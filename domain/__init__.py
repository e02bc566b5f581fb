"""The safeloop domain: aggregates, events, policies and the Application.

Imports only the standard library and eventsourcing. Time is always an argument.
"""
