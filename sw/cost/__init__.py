"""Cost model: training, deployment and inference of LoRA-on-chip against the
alternatives, from activity the simulated chip performed (model.py), priced by a
per-operation table whose entries cite their sources (table.py)."""

from rmlora.sw.cost.flow import PUBLISHED, flow_costs
from rmlora.sw.cost.table import OpTable, table_for

__all__ = ["PUBLISHED", "OpTable", "flow_costs", "table_for"]
