"""模拟省份 · the synthetic province: the ground truth for every demo and test of puhui.

A documented causal model (docs/SIMULATION.md) generates a Zhejiang-like province in which
firm health drives every source, defaults and fraud leave realistic traces, and every table
matches the canonical data model. Entry point: :func:`simulate_province`.
"""

from puhui.data.simulate.config import SimulationConfig, SimulationConfigError, build_config
from puhui.data.simulate.province import Progress, SimulationReport, simulate_province
from puhui.data.simulate.realism import RealismReport

__all__ = [
    "Progress",
    "RealismReport",
    "SimulationConfig",
    "SimulationConfigError",
    "SimulationReport",
    "build_config",
    "simulate_province",
]
