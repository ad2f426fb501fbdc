"""Pictures: camera-motion-field glyphs and colour coding (``cmf_plot``)."""

from .cmf_plot import (
    cmf_colorwheel,
    colorwheel_legend,
    load_rgb,
    net_displacement,
    render_cmf,
    save_png,
    trajectories,
)

__all__ = [
    "cmf_colorwheel",
    "colorwheel_legend",
    "load_rgb",
    "net_displacement",
    "render_cmf",
    "save_png",
    "trajectories",
]
