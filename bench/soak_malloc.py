"""Does RSS creep because of glibc's heap? Two servers side by side for 4 minutes, one with a
fixed mmap threshold (big image buffers always go back to the system), RSS every 30 s.

    .venv/bin/python bench/soak_malloc.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from bench_load import make_slides, proc_stat  # noqa: E402
from support import Server, StreamReader, wait_for  # noqa: E402

MINUTES = 4


def run(label: str, env: dict[str, str], core: str, results: dict[str, list[str]]) -> None:
    """One server on `core` showing 1080p slides every 0.2 s, 5 clients churning."""
    work = Path(tempfile.mkdtemp(prefix=f"framecast-soak-{label}-"))
    make_slides(work / "images")
    config = work / "config.toml"
    config.write_text(
        '[server]\nhost = "127.0.0.1"\n[stream]\nquality = 80\n[slideshow]\ninterval = 0.2\n'
    )
    server = Server(config, wrapper=["taskset", "-c", core], env={**os.environ, **env})
    server.wait_ready()
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            reader = StreamReader(server.port)
            wait_for(lambda r=reader: r.count() >= 2, timeout=10, what="two frames")
            reader.close()

    workers = [threading.Thread(target=churn, daemon=True) for _ in range(5)]
    for worker in workers:
        worker.start()
    samples = []
    for _ in range(MINUTES * 2 + 1):
        samples.append(f"{proc_stat(server.process.pid)[1] / 1024:.0f}")
        time.sleep(30)
    stop.set()
    for worker in workers:
        worker.join(15)
    server.stop()
    results[label] = samples


def main() -> None:
    results: dict[str, list[str]] = {}
    runs = [
        threading.Thread(target=run, args=("glibc default", {}, "0", results)),
        threading.Thread(
            target=run,
            args=(
                "MALLOC_MMAP_THRESHOLD_=1048576",
                {"MALLOC_MMAP_THRESHOLD_": "1048576"},
                "1",
                results,
            ),
        ),
    ]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join()
    print("| server | RSS MB every 30 s |\n|---|---|")
    for label, samples in results.items():
        print(f"| {label} | {' '.join(samples)} |")


if __name__ == "__main__":
    main()
