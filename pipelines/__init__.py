"""Kubeflow pipelines of spam-platform (see README.md); compiled specs live in ``compiled/``."""
