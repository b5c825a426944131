"""Ray's `uv run` worker hook is off for the drivers (spam_core.raylocal)."""

from __future__ import annotations

import os

from spam_core.raylocal import UV_HOOK, workers_without_uv_run


def test_the_hook_is_off_in_the_environment_and_in_an_imported_ray(monkeypatch):
    from ray._private import ray_constants

    monkeypatch.setenv(UV_HOOK, "1")
    monkeypatch.setattr(ray_constants, "RAY_ENABLE_UV_RUN_RUNTIME_ENV", True)
    workers_without_uv_run()
    assert os.environ[UV_HOOK] == "0"
    assert ray_constants.RAY_ENABLE_UV_RUN_RUNTIME_ENV is False


def test_ray_reads_the_constant_the_rule_sets(monkeypatch):
    """The name this rule patches is the one ray.init consults (a Ray upgrade that renames it
    fails here, not in a hung cluster job)."""
    import inspect

    from ray._private import worker

    monkeypatch.setenv(UV_HOOK, "0")
    assert "ray_constants.RAY_ENABLE_UV_RUN_RUNTIME_ENV" in inspect.getsource(
        worker._maybe_modify_runtime_env
    )
