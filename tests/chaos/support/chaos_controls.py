"""A control module recording every hook it sees, to compare the call order across tools."""

from __future__ import annotations

import os
from typing import Any


def _log(line: str) -> None:
    with open(os.environ["CONTROL_LOG"], "a") as fh:
        fh.write(line + "\n")


def _name(context: Any) -> str:
    if isinstance(context, dict):
        return str(context.get("name") or context.get("title") or "")
    return type(context).__name__


def before_experiment_control(context: Any, **kwargs: Any) -> None:
    _log(f"before experiment {_name(context)}")


def after_experiment_control(context: Any, state: Any, **kwargs: Any) -> None:
    _log(f"after experiment status={state.get('status') if isinstance(state, dict) else None}")


def before_hypothesis_control(context: Any, **kwargs: Any) -> None:
    _log(f"before hypothesis {_name(context)}")


def after_hypothesis_control(context: Any, state: Any, **kwargs: Any) -> None:
    _log(f"after hypothesis met={state.get('steady_state_met')}")


def before_method_control(context: Any, **kwargs: Any) -> None:
    _log("before method")


def after_method_control(context: Any, state: Any, **kwargs: Any) -> None:
    _log(f"after method runs={len(state)}")


def before_rollback_control(context: Any, **kwargs: Any) -> None:
    _log("before rollback")


def after_rollback_control(context: Any, state: Any, **kwargs: Any) -> None:
    _log(f"after rollback runs={len(state)}")


def before_activity_control(context: Any, **kwargs: Any) -> None:
    _log(f"before activity {_name(context)}")


def after_activity_control(context: Any, state: Any, **kwargs: Any) -> None:
    _log(f"after activity {_name(context)} {state.get('status')}")
