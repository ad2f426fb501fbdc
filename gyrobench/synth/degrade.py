"""Realistic degradation (RSBlur and GyroDeblurNet variants) as one torch module driven by a preset table.

Spec: ``rsblur.md`` §4 (steps B1-B13), §5 (TF differences), §10 (D6-D15) and ``gyrodeblurnet.md`` §6.1.
Presets are data (:mod:`gyrobench.synth.presets`); this module is the single code path:

    (B1: input is linear)  ->  B2 L_s = clip(L + a*M, 0, 1)  ->  B3 camera RGB (row vectors, 3x3)
    -> [clip]  ->  B5 inverse WB (per channel | GyroDeblurNet column quirk | none)  ->  B4 mosaic
    -> B6 X = K*Poisson(X/K) + s*N(0,1)  ->  B7 WB back  ->  B8 Malvar-He-Cutler demosaic (zero padding)
    -> [clip]  ->  B9 linear RGB  ->  B10 encode + clip (srgb) or clip (linear)
    -> B11 restore L_s >= 1  ->  B12 A7R3 CRF (optional, also on the target via :meth:`Degradation.target`)

Tensors: ``(B, 3, H, W)`` float32 (CHW), values in [0, 1], on any device. Inverse WB is applied per colour
before mosaicking, which equals dividing the Bayer planes by their colour's gain (element-wise ops commute).

Random draws: every scalar (``alpha``, Bayer ``pattern``, ``red_gain``, ``blue_gain``, shot scale ``K``,
read std ``s``, RSBlur ``session``) is drawn on the host with numpy in the order of D12 and returned in a
:class:`DegradationDraw`; the per-pixel Poisson/Gaussian samples come from a torch generator seeded with the
draw's per-sample ``noise_seed``. Passing ``draw=`` back replays the degradation bit-identically on the same
device type and library versions.

Border (mosaic presets): ``border="pad"`` reflect-pads 8 px (plus one row/column to reach even size), runs and
crops back, so the output has the input size and the Bayer phase is anchored at the image's top-left pixel
(D9). ``border="crop"`` is the on-the-fly convention: the input is the ``(p+8)`` patch and 4 px are removed on
each side (B13); use :meth:`Degradation.target` to crop the ground truth identically.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from gyrobench.color import a7r3_crf, linear_to_srgb, srgb_to_linear
from gyrobench.errors import GyrobenchError, ShapeError
from gyrobench.log import get_logger
from gyrobench.synth.presets import (
    BAYER_PATTERNS,
    PresetParams,
    camera_matrices,
    get_preset,
    realblur_wb_pairs,
    rsblur_sessions,
    session_gains,
)

__all__ = [
    "Degradation",
    "DegradationDraw",
    "mosaic",
    "mosaic_planes",
    "demosaic_malvar",
    "bayer_colour_map",
    "apply_color_matrix",
    "MALVAR_KERNELS",
]

log = get_logger("synth.degrade")

# Colour index (0=R, 1=G, 2=B) at the 2x2 cell offsets (row, col), in BAYER_PATTERNS order (rsblur.md B4).
_CELL = torch.tensor(
    [[[{"R": 0, "G": 1, "B": 2}[p[2 * i + j]] for j in range(2)] for i in range(2)] for p in BAYER_PATTERNS],
    dtype=torch.long,
)  # (4, 2, 2)

# Malvar-He-Cutler 2004 filters (rsblur.md B8; pipeline_params.json "malvar2004_kernels_div8"), each / 8.
_G_AT_RB = [[0, 0, -1, 0, 0], [0, 0, 2, 0, 0], [-1, 2, 4, 2, -1], [0, 0, 2, 0, 0], [0, 0, -1, 0, 0]]
_RB_AT_G_H = [[0, 0, 0.5, 0, 0], [0, -1, 0, -1, 0], [-1, 4, 5, 4, -1], [0, -1, 0, -1, 0], [0, 0, 0.5, 0, 0]]
_RB_AT_BR = [[0, 0, -1.5, 0, 0], [0, 2, 0, 2, 0], [-1.5, 0, 6, 0, -1.5], [0, 2, 0, 2, 0], [0, 0, -1.5, 0, 0]]
#: (4, 1, 5, 5): G at R/B, R/B at G with horizontal neighbours, R/B at G vertical (transpose), R at B / B at R.
MALVAR_KERNELS = (
    torch.tensor([_G_AT_RB, _RB_AT_G_H, np.array(_RB_AT_G_H).T.tolist(), _RB_AT_BR], dtype=torch.float64)[
        :, None
    ]
    / 8.0
)

_FIELDS = ("alpha", "pattern", "red_gain", "blue_gain", "shot", "read_std", "session", "noise_seed")


# ------------------------------------------------------------------------------------------ the draw record
@dataclass
class DegradationDraw:
    """Every random choice of one degradation call, one entry per sample (arrays of length B).

    ``alpha``: saturation scale a (B2; 0 when the preset has none). ``pattern``: index into
    ``BAYER_PATTERNS`` (-1 without mosaic). ``red_gain``/``blue_gain``: WB gains (1 when unused). ``shot``: K,
    Poisson scale (noise variance K*x). ``read_std``: s, read-noise standard deviation. ``session``: index into
    the sorted RSBlur session keys (-1 unless the session camera is used). ``noise_seed``: int64 seed of the
    per-sample torch generator for the Poisson and Gaussian samples. ``preset``: the preset name.
    """

    alpha: np.ndarray
    pattern: np.ndarray
    red_gain: np.ndarray
    blue_gain: np.ndarray
    shot: np.ndarray
    read_std: np.ndarray
    session: np.ndarray
    noise_seed: np.ndarray
    preset: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        ints = ("pattern", "session", "noise_seed")
        for name in _FIELDS:
            arr = np.atleast_1d(np.asarray(getattr(self, name)))
            arr = arr.astype(np.int64 if name in ints else np.float64)
            setattr(self, name, arr)
        n = {len(getattr(self, k)) for k in _FIELDS}
        if len(n) != 1:
            raise ShapeError(
                f"DegradationDraw: fields have different lengths {n}; every field needs one entry per sample"
            )

    def __len__(self) -> int:
        return len(self.alpha)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """``{field: array (B,)}`` (float64 / int64), e.g. to store as ``deg_*`` datasets in a shard."""
        return {k: getattr(self, k).copy() for k in _FIELDS}

    @classmethod
    def from_arrays(cls, d: dict, preset: str = "") -> DegradationDraw:
        missing = [k for k in _FIELDS if k not in d]
        if missing:
            raise GyrobenchError(
                f"degradation draw: missing field(s) {missing}; store all of {list(_FIELDS)}"
            )
        return cls(**{k: np.asarray(d[k]) for k in _FIELDS}, preset=preset)

    def to_json(self) -> dict:
        """JSON-able dict (lists of plain numbers), with the preset name and metadata."""
        out = {k: getattr(self, k).tolist() for k in _FIELDS}
        out["preset"] = self.preset
        out["meta"] = dict(self.meta)
        return out

    @classmethod
    def from_json(cls, d: dict) -> DegradationDraw:
        draw = cls.from_arrays(d, preset=d.get("preset", ""))
        draw.meta = dict(d.get("meta", {}))
        return draw

    def select(self, index) -> DegradationDraw:
        """The draws of a subset of samples (``index``: int, slice or integer array)."""
        idx = np.atleast_1d(np.arange(len(self))[index])
        return DegradationDraw(
            **{k: getattr(self, k)[idx] for k in _FIELDS}, preset=self.preset, meta=dict(self.meta)
        )

    @classmethod
    def concat(cls, draws: list[DegradationDraw]) -> DegradationDraw:
        return cls(
            **{k: np.concatenate([getattr(d, k) for d in draws]) for k in _FIELDS},
            preset=draws[0].preset if draws else "",
            meta=dict(draws[0].meta) if draws else {},
        )


# ------------------------------------------------------------------------------------ pure stage functions
def apply_color_matrix(x: torch.Tensor, m_row: torch.Tensor) -> torch.Tensor:
    """Row-vector colour transform ``out_c = sum_j x_j M[j, c]`` of ``x (B,3,H,W)`` by ``m_row (B,3,3)``/(3,3)."""
    if m_row.dim() == 2:
        m_row = m_row.expand(x.shape[0], 3, 3)
    return torch.einsum("bjhw,bjc->bchw", x, m_row.to(dtype=x.dtype))


def bayer_colour_map(pattern: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """``(B,1,h,w)`` long map of the colour (0=R, 1=G, 2=B) at every pixel for patterns ``(B,)`` (even h, w)."""
    cell = _CELL.to(pattern.device)[pattern]  # (B, 2, 2)
    return cell.repeat(1, (h + 1) // 2, (w + 1) // 2)[:, None, :h, :w]


def mosaic(rgb: torch.Tensor, pattern: torch.Tensor) -> torch.Tensor:
    """B4 as a single-channel CFA ``(B,1,H,W)``: each pixel keeps the channel its Bayer site samples."""
    b, _, h, w = rgb.shape
    return rgb.gather(1, bayer_colour_map(pattern, h, w))


def mosaic_planes(rgb: torch.Tensor, pattern: torch.Tensor) -> torch.Tensor:
    """B4 in the upstream layout: 4 planes ``(B,4,H/2,W/2)`` in 2x2 raster order (0,0), (0,1), (1,0), (1,1)."""
    return F.pixel_unshuffle(mosaic(rgb, pattern), 2)


def demosaic_malvar(cfa: torch.Tensor, pattern: torch.Tensor) -> torch.Tensor:
    """B8: Malvar-He-Cutler (ICASSP 2004) linear demosaic of ``cfa (B,1,H,W)`` -> ``(B,3,H,W)``, zero padding.

    Planes from B7 convert with ``F.pixel_shuffle(planes, 2)`` (depth-to-space). Exact on flat colours away
    from the 2-px zero-padded border (all filters sum to 1).
    """
    b, _, h, w = cfa.shape
    k = MALVAR_KERNELS.to(device=cfa.device, dtype=cfa.dtype)
    est = F.conv2d(cfa, k, padding=2)  # (B,4,H,W)
    g_rb, h_rb, v_rb, x_rb = est[:, 0:1], est[:, 1:2], est[:, 2:3], est[:, 3:4]
    col = bayer_colour_map(pattern, h, w)
    is_r, is_g, is_b = col == 0, col == 1, col == 2
    # rows containing R sites: a row's sites are all G except one colour, the same along the row.
    row_r = (_CELL.to(pattern.device)[pattern] == 0).any(dim=2)  # (B, 2): does cell row i contain R
    row_r = row_r.repeat(1, (h + 1) // 2)[:, :h][:, None, :, None].expand(b, 1, h, w)
    row_b = ~row_r
    red = torch.where(is_r, cfa, torch.where(is_g & row_r, h_rb, torch.where(is_g & row_b, v_rb, x_rb)))
    blue = torch.where(is_b, cfa, torch.where(is_g & row_b, h_rb, torch.where(is_g & row_r, v_rb, x_rb)))
    green = torch.where(is_g, cfa, g_rb)
    return torch.cat([red, green, blue], dim=1)


# ------------------------------------------------------------------------------------------------ module
def _as_numpy_rng(generator) -> np.random.Generator:
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, torch.Generator):
        seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item())
        return np.random.default_rng(seed)
    if generator is None or isinstance(generator, (int, np.integer)):
        return np.random.default_rng(generator)
    raise TypeError(
        f"generator must be None, an int seed, numpy Generator or torch.Generator, "
        f"got {type(generator).__name__}"
    )


class Degradation(torch.nn.Module):
    """The realistic degradation of a blurred batch, configured by a preset (name or PresetParams) + overrides.

    ``forward(blurred (B,3,H,W), sat_mask=None (B,1|3,H,W), generator=None, draw=None) -> (degraded, draw)``.

    Input: ``blurred`` is **linear light** in [0, 1] (docs/conventions.md §1; RSBlur's B1 decode of its sRGB PNGs is
    therefore already done: decode sRGB data with :func:`~gyrobench.color.srgb_to_linear` first), and
    ``sat_mask`` a fraction in [0, 1]. A missing ``sat_mask`` means no saturated pixels (alpha is still drawn and
    recorded). ``generator``: int seed, ``numpy.random.Generator`` or ``torch.Generator``; ignored when
    ``draw`` is given.

    Output: in the preset's output domain (rsblur.md D14), see :attr:`output_transfer`: ``"linear"``
    (GyroDeblurNet presets), ``"srgb"`` (B10 encode) or ``"a7r3_crf"`` (B12; RSBlur PyTorch / TF-RealBlur).
    Map the ground truth identically with :meth:`target` (never mix domains). For gyrobench's linear
    datasets and metrics use a linear output, e.g. ``Degradation("rsblur_pt", domain="linear", crf="none")``.

    >>> deg = Degradation("gyrodeblurnet_official")
    >>> y, d = deg(torch.full((2, 3, 8, 8), 0.5), generator=0)
    >>> tuple(y.shape), len(d)
    ((2, 3, 8, 8), 2)
    """

    def __init__(self, preset: str | PresetParams = "rsblur_pt", **overrides):
        super().__init__()
        self.params: PresetParams = get_preset(preset, **overrides)
        l2c, c2l, keys = camera_matrices(self.params.camera)
        # float32 like upstream (rsblur.md §9: a faithful float32 port is exact to ~3e-7 only)
        self.register_buffer("lin2cam", torch.tensor(l2c, dtype=torch.float32), persistent=False)
        self.register_buffer("cam2lin", torch.tensor(c2l, dtype=torch.float32), persistent=False)
        self.camera_keys = keys
        if self.output_transfer != "linear":
            log.warning(
                "Degradation(%s): output transfer is %r, not linear; map the ground truth with .target(sharp) "
                "(or pass domain='linear', crf='none' to keep gyrobench's linear convention)",
                self.params.name,
                self.output_transfer,
            )

    @property
    def name(self) -> str:
        return self.params.name

    @property
    def output_transfer(self) -> str:
        """Transfer function of the output (and of :meth:`target`): "linear", "srgb" or "a7r3_crf"."""
        if self.params.crf == "a7r3":
            return "a7r3_crf"
        return self.params.domain

    def extra_repr(self) -> str:
        return f"preset={self.params.name!r}, domain={self.params.domain!r}, per={self.params.per!r}"

    # -------------------------------------------------------------------------------------------- draws
    def sample_draw(self, batch: int, generator=None) -> DegradationDraw:
        """Draw every scalar for ``batch`` samples (order: a, pattern, r, b, K, s, noise seed; rsblur.md D12)."""
        p = self.params
        rng = _as_numpy_rng(generator)
        n = 1 if p.per == "batch" else batch

        def bc(v):  # broadcast a per-batch draw to every sample
            v = np.asarray(v)
            return np.repeat(v, batch) if v.size == 1 and batch > 1 else v

        alpha = rng.uniform(*p.sat_alpha, size=n) if p.sat_alpha is not None else np.zeros(n)
        if not p.mosaic:
            pattern = np.full(n, -1)
        elif p.bayer == "batch_quarters":
            pattern = (np.arange(batch) * 4) // max(batch, 1)
        else:
            pattern = rng.integers(0, 4, size=n)
        session = np.full(n, -1)
        if p.camera == "rsblur_session" or p.wb_gains == "rsblur_session":
            keys = rsblur_sessions()
            if p.session is not None:
                session = np.full(n, keys.index(p.session))
            else:
                session = rng.integers(0, len(keys), size=n)
        if p.wb == "none":
            red, blue = np.ones(n), np.ones(n)
        elif p.wb_gains == "uniform":
            red = rng.uniform(*p.wb_red_range, size=n)
            blue = rng.uniform(*p.wb_blue_range, size=n)
        elif p.wb_gains == "realblur_empirical":
            pairs, prob = realblur_wb_pairs(p.wb_tf_off_by_one)
            idx = rng.choice(len(pairs), size=n, p=prob)
            red, blue = pairs[idx, 0], pairs[idx, 1]
        else:  # rsblur_session
            g = session_gains()[session]
            red, blue = g[:, 0], g[:, 1]
        if p.noise == "rsblur":
            shot = p.beta1 * rng.uniform(*p.noise_jitter, size=n)
            read = p.beta2_std * rng.uniform(*p.noise_jitter, size=n)
        elif p.noise == "gyrodeblurnet":
            log2_shot = rng.uniform(*p.gdn_log2_shot_range, size=n)
            log2_read_var = (
                p.gdn_read_slope * log2_shot
                + p.gdn_read_intercept
                + rng.normal(0.0, p.gdn_read_eps_std, size=n)
            )
            shot, read = 2.0**log2_shot, np.sqrt(2.0**log2_read_var)
        else:
            shot, read = np.zeros(n), np.zeros(n)
        noise_seed = rng.integers(0, 2**62, size=batch)
        draw = DegradationDraw(
            alpha=bc(alpha),
            pattern=pattern if len(pattern) == batch else bc(pattern),
            red_gain=bc(red),
            blue_gain=bc(blue),
            shot=bc(shot),
            read_std=bc(read),
            session=bc(session),
            noise_seed=noise_seed,
            preset=p.name,
            meta={
                "camera": p.camera_label,
                "read_std_is": "standard deviation",
                "sessions": list(rsblur_sessions()) if p.camera == "rsblur_session" else [],
            },
        )
        return draw

    # ------------------------------------------------------------------------------------------ forward
    def forward(
        self,
        blurred: torch.Tensor,
        sat_mask: torch.Tensor | None = None,
        generator=None,
        draw: DegradationDraw | None = None,
    ):
        p = self.params
        x = blurred
        if x.dim() != 4 or x.shape[1] != 3:
            raise ShapeError(f"Degradation({p.name}): blurred must be (B,3,H,W), got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise ShapeError(f"Degradation({p.name}): blurred must be float in [0,1], got dtype {x.dtype}")
        bsz, _, h, w = x.shape
        if sat_mask is not None and (
            sat_mask.dim() != 4
            or sat_mask.shape[0] != bsz
            or sat_mask.shape[1] not in (1, 3)
            or sat_mask.shape[2:] != x.shape[2:]
        ):
            raise ShapeError(
                f"Degradation({p.name}): sat_mask must be (B,1|3,H,W) = ({bsz},1|3,{h},{w}), "
                f"got {tuple(sat_mask.shape)}"
            )
        if p.mosaic and p.border == "crop" and (h % 2 or w % 2 or h <= 8 or w <= 8):
            raise ShapeError(
                f"Degradation({p.name}, border='crop'): input must be an even (p+8)-sized patch, got {h}x{w}"
            )
        if draw is None:
            draw = self.sample_draw(bsz, generator)
        elif len(draw) != bsz:
            raise ShapeError(f"Degradation({p.name}): draw has {len(draw)} entries for a batch of {bsz}")
        dev, dt = x.device, x.dtype

        def col(a):  # (B,) numpy -> (B,1,1,1) tensor
            return torch.as_tensor(a, dtype=dt, device=dev).view(-1, 1, 1, 1)

        # B1 (done by the caller: input is linear), B2
        lin = x
        if p.sat_alpha is not None:
            if sat_mask is not None:
                lin = lin + col(draw.alpha) * sat_mask.to(dt)
            lin = lin.clamp(0.0, 1.0)
        keep = lin >= 1.0 if p.restore_saturated else None
        # border (mosaic presets)
        pad = None
        img = lin
        if p.mosaic and p.border == "pad":
            pad = (8, 8 + (w % 2), 8, 8 + (h % 2))
            img = F.pad(img, pad, mode="reflect") if min(h, w) > 8 + 1 else F.pad(img, pad, mode="replicate")
        # B3
        if p.camera == "rsblur_session":
            l2c = self.lin2cam[torch.as_tensor(draw.session, device=dev)]
            c2l = self.cam2lin[torch.as_tensor(draw.session, device=dev)]
        else:
            l2c, c2l = self.lin2cam[0], self.cam2lin[0]
        cam = apply_color_matrix(img, l2c)
        if p.clip_cam:
            cam = cam.clamp(0.0, 1.0)
        # B5 inverse WB
        gains = torch.stack(
            [
                torch.as_tensor(draw.red_gain, dtype=dt),
                torch.ones(bsz, dtype=dt),
                torch.as_tensor(draw.blue_gain, dtype=dt),
            ],
            dim=1,
        ).to(dev)  # (B,3)
        if p.wb == "per_channel":
            cam = cam / gains[:, :, None, None]
        elif p.wb == "columns_quirk":
            cam = self._columns(cam, gains, inverse=True)
        # B4 mosaic
        if p.mosaic:
            pattern = torch.as_tensor(draw.pattern, device=dev)
            if (pattern < 0).any():
                raise GyrobenchError(
                    f"Degradation({p.name}): draw has no Bayer pattern (-1) for a mosaic preset"
                )
            raw = mosaic(cam, pattern)
        else:
            raw = cam
        # B6 noise
        if p.noise != "none":
            raw = self._noise(raw, draw)
        # B7 WB back
        if p.wb == "per_channel":
            if p.mosaic:
                gmap = (
                    gains[:, :, None, None]
                    .expand(-1, -1, *raw.shape[2:])
                    .gather(1, bayer_colour_map(pattern, *raw.shape[2:]))
                )
                raw = raw * gmap
            else:
                raw = raw * gains[:, :, None, None]
        elif p.wb == "columns_quirk":
            raw = self._columns(raw, gains, inverse=False)
        # B8 demosaic
        rgb = demosaic_malvar(raw, pattern) if p.mosaic else raw
        if p.clip_before_forward_ccm:
            rgb = rgb.clamp(0.0, 1.0)
        # B9, B10
        out = apply_color_matrix(rgb, c2l)
        out = linear_to_srgb(out).clamp(0.0, 1.0) if p.domain == "srgb" else out.clamp(0.0, 1.0)
        if pad is not None:
            out = out[:, :, pad[2] : pad[2] + h, pad[0] : pad[0] + w]
        # B11
        if keep is not None:
            out = torch.where(keep, torch.ones_like(out), out)
        # B12
        if p.crf == "a7r3":
            out = a7r3_crf(srgb_to_linear(out) if p.domain == "srgb" else out)
        # B13
        if p.mosaic and p.border == "crop":
            out = out[:, :, 4:-4, 4:-4]
        return out, draw

    def target(self, sharp: torch.Tensor) -> torch.Tensor:
        """Map the *linear* ground truth (B,3,H,W) like the degraded image: to the output transfer
        (:attr:`output_transfer`: identity, sRGB encode, or B12 ``P7(G)``) and through the B13 border crop (if on).
        """
        p = self.params
        out = sharp
        if p.crf == "a7r3":
            out = a7r3_crf(out.clamp(0.0, 1.0))
        elif p.domain == "srgb":
            out = linear_to_srgb(out.clamp(0.0, 1.0))
        if p.mosaic and p.border == "crop":
            out = out[:, :, 4:-4, 4:-4]
        return out

    # --------------------------------------------------------------------------------------- internals
    @staticmethod
    def _columns(x: torch.Tensor, gains: torch.Tensor, inverse: bool) -> torch.Tensor:
        """GyroDeblurNet's WB as coded (gyrodeblurnet.md §6.1 step 4/7): pixel columns x=0 and x=2 of every
        row, all channels, divided (inverse) or multiplied by g_r and g_b."""
        scale = torch.ones(x.shape[0], 1, 1, x.shape[3], dtype=x.dtype, device=x.device)
        ncol = min(3, x.shape[3])
        if ncol > 0:
            scale[:, 0, 0, 0] = gains[:, 0]
        if ncol > 2:
            scale[:, 0, 0, 2] = gains[:, 2]
        return x / scale if inverse else x * scale

    @staticmethod
    def _noise(raw: torch.Tensor, draw: DegradationDraw) -> torch.Tensor:
        """B6: ``K * Poisson(X / K) + s * N(0, 1)`` per sample with its own seeded generator.

        Negative values (possible only with a non-positive colour matrix) get Poisson rate 0 (torch refuses
        negative rates); the Gaussian part still applies.
        """
        out = torch.empty_like(raw)
        for i in range(raw.shape[0]):
            k, s = float(draw.shot[i]), float(draw.read_std[i])
            g = torch.Generator(device=raw.device)
            g.manual_seed(int(draw.noise_seed[i]))
            xi = raw[i]
            if k > 0:
                xi = torch.poisson(xi.clamp_min(0.0) / k, generator=g) * k
            if s > 0:
                xi = xi + s * torch.randn(xi.shape, generator=g, device=raw.device, dtype=raw.dtype)
            out[i] = xi
        return out
