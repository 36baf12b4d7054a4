"""policyqa's measuring tools: ``policyqa bench`` and ``policyqa soak``.

They sit on top of the core (``policyqa``) and the web app (``policyqa_app``), whose server they
start in a process of its own; neither package ever imports them, and the server does not ship
them. Both commands register through the ``policyqa.commands`` entry point.

Modules:
    bench: the ``bench`` command: the plan of a run and the order of its measurements.
    measure: in-process measurements (index build, cold start, warm latency, the synthetic corpus).
    synthetic: a corpus of real sentences resampled to a given number of passages.
    http_load: the HTTP server under concurrent load, its throughput, latency and memory.
    report: the targets, the table of target, measured, baseline and ratio, and its Markdown.
    machine: the machine a run is on, and what ``/proc`` says of a process.
    soak: the ``soak`` command: mixed load on a real server for minutes, errors and memory growth.
"""
