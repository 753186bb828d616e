"""Tasks as plug-ins: one module each, one shared pipeline for all of them.

    from rmlora.sw.tasks import TASKS, run_task
    summary = run_task(TASKS["face"], seed=0, check_backend=None)

A task (task.py) declares its data, model, flow configuration, typed targets
(targets.py), command-line options and report; ``register`` (registry.py) adds it to
the command line, `make sim`, `rmlora cost`, `rmlora report` and the robustness
sweep. Built in: face.py, speaker.py (ClassifierTask, classifier.py) and
diffusion.py (a sampler).
"""

from importlib import import_module

from rmlora.sw.tasks.pipeline import run_task
from rmlora.sw.tasks.registry import TASKS, register, task_named, unregister
from rmlora.sw.tasks.task import Task

# The built-in tasks register themselves on import, in this order (`make sim`'s).
BUILT_IN = ("face", "speaker", "diffusion")
for _module in BUILT_IN:
    import_module(f"rmlora.sw.tasks.{_module}")

__all__ = ["BUILT_IN", "TASKS", "Task", "register", "run_task", "task_named", "unregister"]
