"""The registered tasks, by name: what `rmlora`, `make sim`, `rmlora cost`, `rmlora
report` and the robustness sweep loop over. A task module registers its task when
imported; rmlora.sw.tasks imports the built-in ones."""

from __future__ import annotations

from .task import Task

__all__ = ["TASKS", "register", "unregister", "task_named"]

TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    """Add ``task`` under its name (an error if the name is taken); returns it."""
    if task.name in TASKS:
        raise ValueError(f"task {task.name!r} is already registered")
    ordered = sorted([*TASKS.values(), task], key=lambda t: t.order)  # stable
    TASKS.clear()
    TASKS.update((t.name, t) for t in ordered)
    return task


def unregister(name: str) -> Task:
    return TASKS.pop(name)


def task_named(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"task {name!r}: choose one of {', '.join(TASKS)}")
    return TASKS[name]
