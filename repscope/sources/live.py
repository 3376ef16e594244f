"""Moved: :class:`~repscope.live.LiveRun` produces results, not checkpoints, so it lives in
:mod:`repscope.live`. This name keeps old imports working."""

from ..live import LiveRun

__all__ = ["LiveRun"]
