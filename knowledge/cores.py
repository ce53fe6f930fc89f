"""How this process shares the machine's cores between the model and numpy.

torch runs the model on its own OpenMP threads; numpy's OpenBLAS starts one thread per core as
well, and its idle threads spin. With both at work on a small machine they fight over the cores:
measured with bench/bench_bot.py's bursts of 100 chats on 2 cores, 28-32 answers/s with
OpenBLAS's default threads against 50-55 with one. So OpenBLAS runs single-threaded, and the one
large product a query needs (against every stored vector) is split over the searcher's own
threads instead (knowledge/index.py), which sleep rather than spin when there is nothing to do.
"""

from __future__ import annotations

import threading

_done = threading.Event()


def single_threaded_blas() -> None:
    """Limit numpy's BLAS to one thread in this process (once; torch's threads are its own)."""
    if _done.is_set():
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    _done.set()


def model_threads(threads: int) -> None:
    """The threads torch uses (BRIEF_MODEL_THREADS). One by default: a parallel region waits
    for its slowest thread, so on 2 cores a 2-thread model stalls whenever the question's bm25
    query holds the other core; with one, they run side by side, and a burst of questions costs
    less CPU (bench/RESULTS.md: 100 chats at once, 62 answers/s against 38 with 2 threads)."""
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
