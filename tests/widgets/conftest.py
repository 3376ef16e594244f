"""Widgets in these tests get a comm that serialises every message as a kernel would, so that a
message the front end could not receive fails here (the default comm outside a kernel drops
messages unread)."""

import json
from typing import ClassVar

import pytest

comm = pytest.importorskip("comm")


class SerialisingComm(comm.base_comm.BaseComm):
    sent: ClassVar[list[dict]] = []

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        json.dumps(data)  # raises for anything a kernel could not send
        sizes = [len(memoryview(b).cast("B")) for b in buffers or ()]  # C-contiguous only
        SerialisingComm.sent.append({"comm_id": self.comm_id, "data": data, "buffers": sizes})


@pytest.fixture(autouse=True)
def serialising_comm(monkeypatch):
    import ipywidgets.widgets.widget as widget_module

    def create(**kwargs):
        return SerialisingComm(**kwargs)

    monkeypatch.setattr(widget_module.comm, "create_comm", create)
    SerialisingComm.sent.clear()
    return SerialisingComm


@pytest.fixture(autouse=True)
def no_drawing_errors(request):
    """Every Scrubber built in a test must end without a drawing error shown to the user."""
    from repscope.widgets import Scrubber

    made = []
    original = Scrubber.__init__

    def tracking(self, *args, **kwargs):
        made.append(self)
        original(self, *args, **kwargs)

    Scrubber.__init__ = tracking
    yield
    Scrubber.__init__ = original
    for s in made:
        message = getattr(s, "message", None)  # (absent when the constructor refused its input)
        assert message is None or "could not draw" not in message.value, message.value
