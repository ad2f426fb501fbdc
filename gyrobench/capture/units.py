"""Units of gyro logs and photo times: explicit names, quantities with a unit suffix, and safe inference.

- Time units: ``ns``, ``us`` (also ``µs``), ``ms``, ``s``. Rate units: ``rad/s``, ``deg/s``.
- A quantity on the command line carries its unit: ``20ms``, ``0.02 s``, ``1234567890ns``.
- :func:`infer_time_unit`: a gyro's median sample interval identifies its time unit when the rate is between
  50 Hz and 2 kHz (0.5-20 ms): the four units' ranges do not overlap there. Rates cannot be inferred (shake of
  a few rad/s and of a few deg/s look alike), so a rate unit must be stated; :func:`rate_unit_from_name` reads it
  from a column name such as ``gx_dps`` or ``wx_rad_s``.
"""

from __future__ import annotations

import math
import re

import numpy as np

__all__ = ["TIME_UNITS", "RATE_UNITS", "parse_time_unit", "parse_rate_unit", "parse_quantity_ns",
           "infer_time_unit", "time_unit_from_name", "rate_unit_from_name"]

#: ns per unit
TIME_UNITS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
#: rad/s per unit
RATE_UNITS = {"rad/s": 1.0, "deg/s": math.pi / 180.0}
_TIME_ALIASES = {"µs": "us", "μs": "us", "usec": "us", "msec": "ms", "sec": "s", "nsec": "ns"}
_RATE_ALIASES = {"rad_s": "rad/s", "rads": "rad/s", "radps": "rad/s", "rad/sec": "rad/s", "deg_s": "deg/s",
                 "dps": "deg/s", "degps": "deg/s", "deg/sec": "deg/s", "°/s": "deg/s"}
_PLAUSIBLE_DT_S = (0.5e-3, 20e-3)


def parse_time_unit(text: str, where: str = "time unit") -> str:
    u = _TIME_ALIASES.get(str(text).strip(), str(text).strip())
    if u not in TIME_UNITS:
        raise ValueError(f"{where}: unknown time unit {text!r}; use one of ns, us, ms, s")
    return u


def parse_rate_unit(text: str, where: str = "rate unit") -> str:
    u = _RATE_ALIASES.get(str(text).strip().lower(), str(text).strip().lower())
    if u not in RATE_UNITS:
        raise ValueError(f"{where}: unknown rate unit {text!r}; use rad/s or deg/s")
    return u


def parse_quantity_ns(text: str, where: str = "time") -> int:
    """``"20ms"`` / ``"0.02 s"`` / ``"1234ns"`` -> int ns; a bare number is an error naming the fix."""
    m = re.fullmatch(r"\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zA-Zµμ]+)\s*", str(text))
    if not m:
        raise ValueError(f"{where}: {text!r} has no unit; write it with one, e.g. 20ms, 0.02s or 20000000ns")
    value, unit = m.groups()
    unit = parse_time_unit(unit, where)
    if unit == "ns" and re.fullmatch(r"[-+]?\d+", value):
        return int(value)  # exact for large integer timestamps
    return int(round(float(value) * TIME_UNITS[unit]))


def infer_time_unit(t) -> str | None:
    """The unit whose median interval falls in 0.5-20 ms, or None when the spacing fits no unit."""
    t = np.asarray(t, dtype=np.float64)
    if t.size < 3:
        return None
    d = np.diff(t)
    d = d[d > 0]
    if d.size == 0:
        return None
    med = float(np.median(d))
    for unit, scale in TIME_UNITS.items():
        dt_s = med * scale * 1e-9
        if _PLAUSIBLE_DT_S[0] <= dt_s <= _PLAUSIBLE_DT_S[1]:
            return unit
    return None


def time_unit_from_name(name: str) -> str | None:
    """``t_ns`` / ``time_s`` / ``timestamp_us`` / ``t[ms]`` -> the unit, or None."""
    m = re.search(r"[_\[\( ](ns|us|µs|ms|s|sec|msec|usec|nsec)[\]\)]?$", str(name).strip().lower())
    return _TIME_ALIASES.get(m.group(1), m.group(1)) if m else None


def rate_unit_from_name(name: str) -> str | None:
    """``gx_dps`` / ``wx_rad_s`` / ``gyro_x[deg/s]`` -> the unit, or None."""
    s = str(name).strip().lower()
    m = re.search(r"[_\[\( ](rad/s|rad_s|radps|rads|deg/s|deg_s|dps|degps)[\]\)]?$", s)
    return _RATE_ALIASES.get(m.group(1), m.group(1)) if m else None
