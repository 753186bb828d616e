"""rmlora: a simulated hybrid analogue-digital compute-in-memory chip for LoRA-based
machine unlearning and continual learning, and the host software around it."""

__version__ = "0.1.0"
