"""Prefect flows and their thin tasks. Rules live in transforms/, SQL in sql/."""
