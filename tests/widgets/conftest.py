"""Widgets in these tests get a comm that serialises every message as a kernel would, so that a
message the front end could not receive fails here (the default comm outside a kernel drops
messages unread). :class:`FrontEnd` plays the front end's part: it asks a Scrubber for data as
``js/src/view.js`` does and decodes what comes back."""

import json
from typing import ClassVar

import pytest

comm = pytest.importorskip("comm")


class SerialisingComm(comm.base_comm.BaseComm):
    sent: ClassVar[list[dict]] = []

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        json.dumps(data, allow_nan=False)  # raises for anything a kernel could not send
        raw = [bytes(memoryview(b).cast("B")) for b in buffers or ()]  # C-contiguous only
        SerialisingComm.sent.append(
            {"comm_id": self.comm_id, "data": data, "buffers": raw, "type": msg_type}
        )


@pytest.fixture(autouse=True)
def serialising_comm(monkeypatch):
    import ipywidgets.widgets.widget as widget_module

    def create(**kwargs):
        return SerialisingComm(**kwargs)

    monkeypatch.setattr(widget_module.comm, "create_comm", create)
    SerialisingComm.sent.clear()
    return SerialisingComm


class FrontEnd:
    """Sends a Scrubber the front end's requests and decodes the custom messages it answers."""

    def __init__(self, scrubber):
        self.s = scrubber

    def received(self):
        """Every data message the widget sent so far, decoded (numpy arrays in place)."""
        from repscope.widgets.protocol import unpack

        out = []
        for m in SerialisingComm.sent:
            if m["comm_id"] == self.s.comm.comm_id and m["data"].get("method") == "custom":
                out.append(unpack(m["data"]["content"], m["buffers"]))
        return out

    def ask(self, **request):
        """The messages that answer one request."""
        before = len(self.received())
        self.s._on_msg(self.s, request, [])
        return self.received()[before:]

    def hello(self):
        return self.ask(type="hello")

    def runs(self):
        return self.hello()[0]["runs"]

    def layer(self, layer, run=0):
        (m,) = self.ask(type="layer", run=run, layer=layer)
        return m

    def block(self, layer, block, run=0):
        (m,) = self.ask(type="block", run=run, layer=layer, block=block)
        return m

    def at(self, layer, step, run=0):
        """(block message, row) holding ``step`` of run ``run`` at ``layer``."""
        runs = self.runs()
        steps = list(runs[run]["steps"])
        i = max(j for j, s in enumerate(steps) if s <= step)
        size = self.layer(layer, run)["blocks"]["size"]
        return self.block(layer, i // size, run), i % size


@pytest.fixture
def front():
    return FrontEnd
