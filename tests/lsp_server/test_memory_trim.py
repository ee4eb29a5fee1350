"""Freed memory goes back to the system once the server is quiet (issue 18, soak figure).

The soak (bench/soak.py) grew RSS 15 % in 30 minutes with no live memory growing: the glibc
heaps kept what requests freed (``--trace``: RSS after a ``malloc_trim`` was within 2 % of the
start). ``tune_allocator`` now shares two heaps among the threads and hands freed pages back
a second after work ends. Checked here in a child process (real glibc, nothing faked): a
thread allocates and frees ~120 MB of 200 kB blocks, a few kept alive across the heap so its
top cannot shrink by itself; RSS must fall once the process is idle. Without the trimmer it
stays where the work left it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import sys, threading, time
sys.path.insert(0, {root!r})
from lsp_server import documents

def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

documents.tune_allocator()
kept = []

def work():
    t0 = time.process_time()
    while time.process_time() - t0 < 1.0:  # more CPU than TRIM_AFTER_CPU_S
        blocks = [bytearray(200_000) for _ in range(600)]
        kept.extend(blocks[::50])
        blocks.clear()

thread = threading.Thread(target=work)
thread.start()
thread.join()
busy = rss()
time.sleep(4 * getattr(documents, "TRIM_POLL_S", 1.0))
print(busy, rss(), sum(map(len, kept)) / 1e6)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim and /proc are Linux's")
def test_memory_freed_by_work_goes_back_to_the_system_once_quiet():
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT))], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    busy, idle, kept = map(float, out.stdout.split())
    assert busy - kept > 100, f"the work did not leave freed memory in the heap (RSS {busy:.0f} MB): nothing to test"
    assert busy - idle > 60, f"RSS {busy:.0f} MB after the work, {idle:.0f} MB once idle: the freed memory was kept"


def test_closing_a_document_drops_the_kept_split_of_its_text():
    from assistant import document
    from lsp_server.documents import DocumentStore

    store = DocumentStore("utf-16")
    text = "x = 1\n" * 700_000  # 4.2 MB
    store.open("file:///big.py", text, 1)
    document.lines_of(store.get("file:///big.py").text)
    assert document._last_split is not None and document._last_split[0] is text
    store.close("file:///big.py")
    assert document._last_split is None or document._last_split[0] is not text
