"""Tasks as plug-ins: one module each, one shared pipeline for all of them.

    from rmlora.sw.tasks import TASKS, run_task
    summary = run_task(TASKS["face"], seed=0, check_backend=None)

A task (task.py) declares its data, model, flow configuration, typed targets
(targets.py), command-line options and report; ``register`` (registry.py) adds it to
the command line, `make sim`, `rmlora cost`, `rmlora report` and the robustness
sweep. Built in: face.py, speaker.py (ClassifierTask, classifier.py) and
diffusion.py (a sampler); a new module here is found and imported. sweep.py runs
a task over random choices of its options (`rmlora sweep`).
"""

import pkgutil
from importlib import import_module

from rmlora.sw.tasks.pipeline import run_task
from rmlora.sw.tasks.registry import TASKS, register, task_named, unregister
from rmlora.sw.tasks.task import Task

# A task module registers its task when imported, and every module of this package is
# imported: adding a task is adding its file (its `order` places it in `make sim`).
for _module in pkgutil.iter_modules(__path__):
    import_module(f"{__name__}.{_module.name}")

__all__ = ["TASKS", "Task", "register", "run_task", "task_named", "unregister"]
