"""The built-in complexity meters: the plugin ``aibench.complexity``.

Each meter is a module of this package that defines ``METERS``, the meter classes it registers
(each constructible without arguments: a prediction-side meter is re-created by name in the
prediction step, :mod:`aibench_plugins.components.complexity`). :data:`METER_MODULES` names them,
one line each; they are imported when the plugin registers its meters, never when the prediction
step imports one of them (it then imports this package and that module only).
"""

from __future__ import annotations

from importlib import import_module

from aibench_plugins import Register, hookimpl

#: the modules of this package that hold built-in meters, one line each, in registration order
METER_MODULES: tuple[str, ...] = (
    "params",
    "macs",
    "time",
    "memory",
    "energy",
    "step",
    "endpoint",
)


@hookimpl
def aibench_register_complexity_meters(register: Register) -> None:
    for name in METER_MODULES:
        for meter in import_module(f"{__name__}.{name}").METERS:
            register(meter())
