"""Alerts: one incident model for every kind of trouble, deduplicated in the state store, and the
one notifier that sends each opened and resolved incident to every sink."""
