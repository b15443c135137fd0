"""Sourcing: decide which locations fulfil each order line."""
