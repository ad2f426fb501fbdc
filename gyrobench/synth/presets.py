"""Degradation presets as data: one row of constants and switches per named pipeline variant.

The five presets of docs/conventions.md §6 (specs ``rsblur.md`` §4, §5, §10 D1/D15 and ``gyrodeblurnet.md`` §6.1) are
instances of one frozen dataclass, :class:`PresetParams`, consumed by the single code path in
:mod:`gyrobench.synth.degrade`. Nothing here is code that differs between presets: only values.

- ``rsblur_pt``: RSBlur PyTorch, rsblur.md §4 exactly: sRGB output + A7R3 CRF (B12), saturation a ~ U(0.25,1.75),
  A7R3 camera, per-channel WB r ~ U(1.9,2.4), b ~ U(1.5,1.9), Bayer pattern per sample + Malvar demosaic,
  RealBlur noise (8.8915e-5, 2.943e-5 std) x U(0.5,1.5), saturated restore (B11), one draw per sample.
- ``rsblur_tf_realblur``: TF poisson_gamma + cam_params_RealBlur + adopt_crf_realblur: as above but WB pairs
  drawn from RealBlur's as-shot rows (TF off-by-one kept), Bayer pattern by batch quarter, TF clips.
- ``rsblur_tf_rsblur``: TF poisson_RSBlur + cam_params_RSBlur: session CCM in D50 XYZ (Bradford) and session WB,
  RSBlur noise (1e-4, 9.1504e-4), TF clips, no CRF. The session is drawn uniformly per sample (gyrobench data
  has no RSBlur scene) unless fixed with ``session="0001"``.
- ``gyrodeblurnet_official``: GyroDeblurNet train.py as coded: linear, a ~ U(3,5), A7R3 stand-in CCM (*), the WB
  "column quirk" (pixel columns 0 and 2 scaled, colours untouched), log-log shot/read noise, no mosaic, no B11,
  one draw per batch.
- ``gyrodeblurnet``: the same with per-channel WB as the code's comments intend.

(*) ``CCM_matrix.mat`` of GyroDeblurNet is unreleased: the A7R3 composite linear-sRGB -> camera matrix is a
labelled stand-in (``camera_label``), recorded in every :class:`~gyrobench.synth.degrade.DegradationDraw`.

Override any field per use: ``Degradation("rsblur_pt", crf="none", domain="linear")``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from gyrobench.errors import RecipeError

__all__ = [
    "PresetParams",
    "PRESETS",
    "get_preset",
    "load_asset",
    "camera_matrices",
    "BAYER_PATTERNS",
    "realblur_wb_pairs",
    "rsblur_sessions",
]

#: Bayer patterns, in the order used for the integer ``pattern`` field of a draw (rsblur.md B4).
BAYER_PATTERNS = ("RGGB", "BGGR", "GRBG", "GBRG")

_CHOICES = {
    "domain": ("srgb", "linear"),
    "per": ("sample", "batch"),
    "camera": ("a7r3", "rsblur_session"),
    "wb": ("none", "per_channel", "columns_quirk"),
    "wb_gains": ("uniform", "realblur_empirical", "rsblur_session"),
    "bayer": ("uniform", "batch_quarters"),
    "noise": ("none", "rsblur", "gyrodeblurnet"),
    "crf": ("none", "a7r3"),
    "border": ("pad", "crop"),
}


@dataclass(frozen=True)
class PresetParams:
    """Constants and switches of the realistic degradation (one row of the preset table).

    Units: all intensities normalised to [0, 1] (white level 1, black level 0); gains dimensionless;
    ``beta1`` is the Poisson scale K (variance K*x), ``beta2_std`` the read-noise *standard deviation*.
    """

    name: str
    description: str = ""
    #: output domain (rsblur.md D14): "srgb" = B10 sRGB encode (+ B12 if crf); "linear" = linear output.
    #: The input is always linear (B1 decode done by the caller, docs/conventions.md §1).
    domain: str = "srgb"
    #: one parameter draw per "sample" or per "batch" (GyroDeblurNet train.py draws once per batch).
    per: str = "sample"
    #: saturation scale range U(lo, hi) for L_s = clip(L + a*M, 0, 1) (B2); None = no saturation synthesis.
    sat_alpha: tuple[float, float] | None = (0.25, 1.75)
    #: "a7r3": A7R3 composite matrices (B3/B9); "rsblur_session": per-session CCM with Bradford (§5).
    camera: str = "a7r3"
    camera_label: str = "Sony A7R3 (RealBlur camera), rsblur.md B3"
    #: fixed RSBlur session key ("0001".."0019") for camera/gains "rsblur_session"; None = drawn uniformly.
    session: str | None = None
    #: clip the camera image to [0, 1] after the inverse CCM (TF; rsblur.md D8).
    clip_cam: bool = False
    #: white balance: "per_channel" (R/r, B/b before noise), "none", or "columns_quirk" (GyroDeblurNet as coded:
    #: pixel columns x=0 and x=2 of every row scaled in all channels, gyrodeblurnet.md §6.1 step 4).
    wb: str = "per_channel"
    wb_gains: str = "uniform"
    wb_red_range: tuple[float, float] = (1.9, 2.4)
    wb_blue_range: tuple[float, float] = (1.5, 1.9)
    #: reproduce the TF draw over rows 0..N-2 of realblur_iso_wb_train (last row never drawn), rsblur.md §5/D6.
    wb_tf_off_by_one: bool = False
    #: mosaic + Malvar demosaic (B4, B8).
    mosaic: bool = True
    #: "uniform": pattern drawn per sample (PyTorch); "batch_quarters": sample i gets pattern floor(4 i / B) (TF).
    bayer: str = "uniform"
    #: "rsblur": K = beta1*U(jit), s = beta2_std*U(jit); "gyrodeblurnet": log-log line (gyrodeblurnet.md §6.1).
    noise: str = "rsblur"
    beta1: float = 8.8915e-05
    beta2_std: float = 2.943e-05
    noise_jitter: tuple[float, float] = (0.5, 1.5)
    gdn_log2_shot_range: tuple[float, float] = (-10.000994, -9.334882)
    gdn_read_slope: float = 3.15578751
    gdn_read_intercept: float = 10.00035142
    gdn_read_eps_std: float = 0.25
    #: clip to [0, 1] after white balance back / demosaic, before the forward CCM (TF; GyroDeblurNet step 7).
    clip_before_forward_ccm: bool = False
    #: B11: keep pixels with L_s >= 1 noise-free (exactly 1.0).
    restore_saturated: bool = True
    #: B12: "a7r3" re-encodes degraded image AND target with the A7R3 polynomial CRF.
    crf: str = "none"
    #: mosaic presets only: "pad" = reflect-pad 8 px (and to even size), run, crop back (D9, same size out);
    #: "crop" = input is the (p+8) patch, 4 px removed on each side (B13; output 8 px smaller).
    border: str = "pad"
    spec: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        for key, allowed in _CHOICES.items():
            val = getattr(self, key)
            if val not in allowed:
                raise RecipeError(
                    f"degradation preset {self.name!r}: field {key!r} = {val!r} is not one of "
                    f"{list(allowed)}; fix the value"
                )
        for key in ("sat_alpha", "wb_red_range", "wb_blue_range", "noise_jitter", "gdn_log2_shot_range"):
            val = getattr(self, key)
            if val is None:
                continue
            if len(val) != 2 or not float(val[0]) <= float(val[1]):
                raise RecipeError(
                    f"degradation preset {self.name!r}: field {key!r} = {val!r} must be a range "
                    "[lo, hi] with lo <= hi"
                )
        if self.camera == "rsblur_session" or self.wb_gains == "rsblur_session":
            if self.session is not None and self.session not in rsblur_sessions():
                raise RecipeError(
                    f"degradation preset {self.name!r}: field 'session' = {self.session!r} is not "
                    f"an RSBlur session ({', '.join(rsblur_sessions())})"
                )
        if self.beta1 <= 0 and self.noise == "rsblur":
            raise RecipeError(f"degradation preset {self.name!r}: field 'beta1' must be > 0")

    def replace(self, **overrides) -> PresetParams:
        """A copy with fields replaced; unknown field names raise RecipeError naming them."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise RecipeError(
                f"degradation preset {self.name!r}: unknown option(s) {unknown}; known: {sorted(names)}"
            )
        fixed = {k: (tuple(v) if isinstance(v, list) else v) for k, v in overrides.items()}
        return dataclasses.replace(self, **fixed)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_RSBLUR_ALPHA = (0.25, 1.75)
_REALBLUR_NOISE = {"beta1": 8.8915e-05, "beta2_std": 2.943e-05}
_RSBLUR_NOISE = {"beta1": 1e-4, "beta2_std": 9.1504e-4}
_GDN_LABEL = (
    "stand-in for GyroDeblurNet's unreleased CCM_matrix.mat: A7R3 composite linear-sRGB->camera "
    "matrix (rsblur.md B3, D15; gyrodeblurnet.md §1.3)"
)

# Each TF / GyroDeblurNet variant is its parent with the differences spelled out (rsblur.md §5 D1, D15).
_RSBLUR_PT = PresetParams(
    name="rsblur_pt",
    description="RSBlur PyTorch pipeline (Uformer-RSBlur), exactly rsblur.md §4 B1-B13 incl. A7R3 CRF",
    domain="srgb",
    per="sample",
    sat_alpha=_RSBLUR_ALPHA,
    camera="a7r3",
    clip_cam=False,
    wb="per_channel",
    wb_gains="uniform",
    mosaic=True,
    bayer="uniform",
    noise="rsblur",
    **_REALBLUR_NOISE,
    clip_before_forward_ccm=False,
    restore_saturated=True,
    crf="a7r3",
    spec="rsblur.md §4",
)
_RSBLUR_TF_REALBLUR = _RSBLUR_PT.replace(
    name="rsblur_tf_realblur",
    description="RSBlur TF (SRN-Deblur) poisson_gamma + cam_params_RealBlur + adopt_crf_realblur",
    clip_cam=True,
    wb_gains="realblur_empirical",
    wb_tf_off_by_one=True,
    bayer="batch_quarters",
    clip_before_forward_ccm=True,
    spec="rsblur.md §5, D1",
)
_RSBLUR_TF_RSBLUR = _RSBLUR_TF_REALBLUR.replace(
    name="rsblur_tf_rsblur",
    description="RSBlur TF (SRN-Deblur) poisson_RSBlur + cam_params_RSBlur (session CCM/WB, Bradford), no CRF",
    camera="rsblur_session",
    camera_label="RSBlur capture-session CCM (cell 1) in D50-adapted XYZ, rsblur.md §5",
    wb_gains="rsblur_session",
    wb_tf_off_by_one=False,
    **_RSBLUR_NOISE,
    crf="none",
)
_GDN_OFFICIAL = PresetParams(
    name="gyrodeblurnet_official",
    description="GyroDeblurNet train.py as coded (ff8beec): WB indexes pixel columns (no colour WB), "
    "no mosaic, no saturated restore, one draw per batch, linear RGB",
    domain="linear",
    per="batch",
    sat_alpha=(3.0, 5.0),
    camera="a7r3",
    camera_label=_GDN_LABEL,
    clip_cam=False,
    wb="columns_quirk",
    wb_gains="uniform",
    mosaic=False,
    noise="gyrodeblurnet",
    clip_before_forward_ccm=True,
    restore_saturated=False,
    crf="none",
    spec="gyrodeblurnet.md §6.1, rsblur.md §11, D15",
)
_GDN = _GDN_OFFICIAL.replace(
    name="gyrodeblurnet",
    description="GyroDeblurNet train.py with the per-channel white balance its comments intend",
    wb="per_channel",
    spec="gyrodeblurnet.md §6.1, rsblur.md D15",
)

PRESETS: dict[str, PresetParams] = {
    p.name: p for p in (_RSBLUR_PT, _RSBLUR_TF_REALBLUR, _RSBLUR_TF_RSBLUR, _GDN_OFFICIAL, _GDN)
}


def get_preset(preset: str | PresetParams, **overrides) -> PresetParams:
    """Look up a preset by name (RecipeError listing the names if unknown) and apply overrides."""
    if isinstance(preset, PresetParams):
        base = preset
    else:
        if preset not in PRESETS:
            raise RecipeError(f"unknown degradation preset {preset!r}; choose one of {sorted(PRESETS)}")
        base = PRESETS[preset]
    return base.replace(**overrides) if overrides else base


# ----------------------------------------------------------------------------------------------- assets
@functools.cache
def load_asset(name: str) -> dict:
    """A JSON file of ``gyrobench/assets/rsblur/`` (see its README for provenance)."""
    path = resources.files("gyrobench") / "assets" / "rsblur" / name
    return json.loads(path.read_text())


@functools.cache
def rsblur_sessions() -> tuple[str, ...]:
    return tuple(sorted(load_asset("rsblur_ccm_collections.json")["sessions"]))


@functools.cache
def realblur_wb_pairs(tf_off_by_one: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(gains (n,2) [red, blue], probabilities (n,))`` of RealBlur's as-shot WB (rsblur.md §7, D6)."""
    data = load_asset("realblur_wb_pairs.json")
    pairs = np.array([[p[0], p[1]] for p in data["pairs"]], dtype=np.float64)
    counts = np.array([p[2] for p in data["pairs"]], dtype=np.float64)
    if tf_off_by_one:
        last = np.array(data["last_row_pair"], dtype=np.float64)
        counts[np.all(pairs == last, axis=1)] -= 1
    return pairs, counts / counts.sum()


def _m(name: str) -> np.ndarray:
    return np.array(load_asset("color_matrices.json")[name]["matrix"], dtype=np.float64)


@functools.cache
def camera_matrices(camera: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Row-vector composite matrices ``(lin2cam (n,3,3), cam2lin (n,3,3), keys)``, float64.

    ``cam_row = lin_row @ lin2cam[i]`` and ``lin_row = cam_row @ cam2lin[i]``.

    - "a7r3" (n=1, rsblur.md B3/B9): ``lin2cam = M_lin2xyz @ a7r3_xyz2cam.T``,
      ``cam2lin = a7r3_cam2xyz.T @ M_xyz2lin`` (the file stores column-vector A7R3 matrices).
    - "rsblur_session" (n=19, rsblur.md §5): ``lin2cam = M_lin2xyz @ M_d652d50.T @ inv(C) @ M_d502d65.T @
      M_xyz2lin`` and the same chain with ``C`` for ``cam2lin``, ``C`` = session ``colorCorrectionMatrix_cell1``.
    """
    m_l2x, m_x2l = _m("M_lin2xyz"), _m("M_xyz2lin")
    if camera == "a7r3":
        l2c = m_l2x @ _m("a7r3_xyz2cam").T
        c2l = _m("a7r3_cam2xyz").T @ m_x2l
        return l2c[None], c2l[None], ("a7r3",)
    if camera == "rsblur_session":
        d65_50, d50_65 = _m("M_d652d50"), _m("M_d502d65")
        sessions = load_asset("rsblur_ccm_collections.json")["sessions"]
        keys = rsblur_sessions()
        l2c, c2l = [], []
        for k in keys:
            c = np.array(sessions[k]["colorCorrectionMatrix_cell1"], dtype=np.float64)
            l2c.append(m_l2x @ d65_50.T @ np.linalg.inv(c) @ d50_65.T @ m_x2l)
            c2l.append(m_l2x @ d65_50.T @ c @ d50_65.T @ m_x2l)
        return np.stack(l2c), np.stack(c2l), keys
    raise RecipeError(f"unknown camera {camera!r}; choose 'a7r3' or 'rsblur_session'")


@functools.cache
def session_gains() -> np.ndarray:
    """(19, 2) [red, blue] white-balance gains of the RSBlur sessions (``wb_param[3]``, ``wb_param[5]``)."""
    sessions = load_asset("rsblur_ccm_collections.json")["sessions"]
    return np.array(
        [[sessions[k]["wb_param"][3], sessions[k]["wb_param"][5]] for k in rsblur_sessions()],
        dtype=np.float64,
    )
