"""Workbooks and files the engine writes: the finance case, clinician shortlists."""
