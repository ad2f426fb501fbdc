"""Published GyroDeblurNet numbers (spec ``gyrodeblurnet.md`` §7), kept apart from measured results.

Every number here comes from **[S]: AI-written secondary notes on the paper (papernotes.org), not verified
against the paper**. PSNR/SSIM are said to be on GyroBlur-Synth and NIQE/TOPIQ on GyroBlur-Real; the data,
training and protocol differ from any gyrobench run, so these rows are never ranked with measured results and
appear only in a separate, labelled block (``reference.md`` and a separate section of ``index.html``).
"""

from __future__ import annotations

SOURCE_NOTE = (
    "Published numbers quoted by secondary notes [S] (papernotes.org summaries of Yang et al., "
    "CVPR 2025), NOT verified against the paper (spec gyrodeblurnet.md §7). PSNR/SSIM: GyroBlur-Synth; "
    "NIQE/TOPIQ: GyroBlur-Real. Different data and protocol from the measured tables: do not compare "
    "row by row."
)

#: (method, type, PSNR, SSIM, NIQE, TOPIQ) — spec §7 "Main comparison" [S]
MAIN_TABLE: tuple[tuple[str, str, float, float, float, float], ...] = (
    ("NAFNet", "single-image", 25.06, 0.709, 5.27, 0.409),
    ("FFTformer", "single-image", 26.01, 0.748, 4.98, 0.434),
    ("Stripformer", "single-image", 25.93, 0.740, 4.71, 0.456),
    ("DeepGyro", "gyro", 23.78, 0.665, 5.64, 0.381),
    ("EggNet", "gyro", 25.49, 0.727, 5.18, 0.413),
    ("INformer", "gyro", 25.11, 0.710, 5.29, 0.408),
    ("Nan et al.", "non-blind", 22.22, 0.531, 5.81, 0.348),
    ("GyroDeblurNet", "gyro", 27.28, 0.780, 4.47, 0.548),
)
COLUMNS = ("method", "type", "PSNR ↑", "SSIM ↑", "NIQE ↓", "TOPIQ ↑")


def reference_markdown() -> str:
    lines = [
        "# Published reference numbers (unverified secondary source [S])",
        "",
        f"> {SOURCE_NOTE}",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for name, kind, psnr, ssim, niqe, topiq in MAIN_TABLE:
        lines.append(f"| {name} | {kind} | {psnr:.2f} | {ssim:.3f} | {niqe:.2f} | {topiq:.3f} |")
    return "\n".join(lines) + "\n"


def reference_rows() -> list[dict]:
    return [dict(zip(("method", "type", "psnr", "ssim", "niqe", "topiq_nr"), row)) for row in MAIN_TABLE]
