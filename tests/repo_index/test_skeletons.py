"""Issue 16: large definitions enter the prompt as skeletons, capped, on a real index.

A large class comes back as its header, the first paragraph of its docstring, its fields
and its members' signatures with the bodies elided; only members used near the cursor
keep their bodies. A 10,000-member class costs what a 60-member one does, and the request
stays fast. ``Snippet.brief`` is the signature alone, what the packer falls back to.
"""

from __future__ import annotations

import time

from repo_index.skeleton import MAX_MEMBERS, definition_text

from test_context_resolution import at_mark, definitions

SERVICE = '''class Service:
    """Talks to the backend.

    A second paragraph that the skeleton leaves out, with details nobody needs
    while calling one method.
    """

    timeout: float = 3.0
    retries = 2

    def connect(self, host: str) -> None:
        """Open the connection."""
        self.host = host
''' + "".join(f"        step_{i} = {i}\n" for i in range(30)) + '''
    def fetch(self, key: str) -> bytes:
        """Read one key."""
        data = self.host + key
''' + "".join(f"        part_{i} = {i}\n" for i in range(30)) + '''        return data.encode()

    def close(self) -> None:
        self.host = ""
'''


def test_a_large_class_is_a_skeleton_and_the_method_in_use_comes_whole(make_tree, open_ws):
    root = make_tree({"svc.py": SERVICE})
    ws = open_ws(root)
    ws.build()
    case = "from svc import Service\n\n\ndef go():\n    s = Service()\n    s.connect('h')\n    return Service(█\n"
    got = {s.symbol: s for s in definitions(at_mark(ws, "app.py", case))}
    text = got["Service"].text
    assert text.startswith('class Service:\n    """Talks to the backend.\n    """\n    timeout: float = 3.0\n    retries = 2\n')
    assert "second paragraph" not in text
    for signature in ("def connect(self, host: str) -> None:", "def fetch(self, key: str) -> bytes:", "def close(self) -> None:"):
        assert f"    {signature}\n" in text
    assert "step_3 = 3" not in text and "part_3 = 3" not in text and "\n        ...\n" not in text
    assert text.count("\n    ...") == 3  # each body elided
    # the method used near the cursor comes on its own, whole, resolved through `s = Service()`
    assert got["connect"].resolution == "constructor" and "step_29 = 29" in got["connect"].text
    assert got["Service"].brief.startswith("class Service:") and "def fetch" not in got["Service"].brief
    assert len(got["Service"].brief.split("\n")) <= 3


def test_members_used_near_the_cursor_keep_their_bodies_in_the_skeleton(make_tree, open_ws):
    root = make_tree({"svc.py": SERVICE})
    ws = open_ws(root)
    ws.build()
    [service] = [d for d in ws.symbols("svc.py") if d.name == "Service"]
    members = [d for d in ws.symbols("svc.py") if d.parent == "Service"]
    lines = SERVICE.split("\n")
    text = definition_text(service, lines, members, max_lines=40, used={"fetch"})
    assert "part_3 = 3" in text and "step_3 = 3" not in text
    assert definition_text(service, lines, members, max_lines=200) == "\n".join(lines[:81])  # small enough: whole


def test_a_10000_member_class_is_capped_and_fast(make_tree, open_ws):
    members = "".join(f"    def method_{i}(self, x):\n        return x + {i}\n\n" for i in range(10_000))
    root = make_tree({"big.py": f"class Big:\n    \"\"\"Huge.\"\"\"\n\n{members}"})
    ws = open_ws(root)
    ws.build()
    case = "from big import Big\n\nb = Big()\nb.method_9999(1)\nBig(█\n"
    at_mark(ws, "app.py", case)  # the first request reads the file and its symbols
    started = time.perf_counter()
    got = {s.symbol: s for s in definitions(at_mark(ws, "app.py", case))}
    assert time.perf_counter() - started < 1.0
    snip = got["Big"]
    assert snip.text.count("def method_") == MAX_MEMBERS
    assert f"# ... {10_000 - MAX_MEMBERS} more members" in snip.text
    assert len(snip.text) < 6_000
    assert got["method_9999"].text == "    def method_9999(self, x):\n        return x + 9999"
