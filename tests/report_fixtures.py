"""Result files as `memlab verify --json` and `memlab figure N` write them, made up for the report's tests.

The schemas follow memlab.verification._report (claims / summary / config) and the figure modules'
JSON; the values are invented (chosen so the expected page content can be worked out by hand).
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'

#: Figure 1's representative time t_16 of the 26-point grid and its VP SNR ψ = (1 − t²)/t² (α = √(1 − t²), σ = t).
T16 = 0.36028
PSI16 = (1 - T16**2) / T16**2


def png_bytes(width: int = 12, height: int = 8) -> bytes:
    """A valid RGB PNG (solid colour), written by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x20\x60\xc0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def claims() -> list[dict]:
    """One claim per verdict (holds, fails with a counterexample, inconclusive, error), a claim with the
    issue-10 power field, one with hostile text, one with almost nothing, one with an unknown verdict."""

    def claim(claim_id, paper_ref, verdict, **extra):
        base = {
            "id": claim_id,
            "paper_ref": paper_ref,
            "statement": f"statement of {claim_id}",
            "kind": "identity",
            "verdict": verdict,
            "measured": {"value": 0.5, "se": 0.01, "what": "measured thing"},
            "expected": {"value": 0.0, "se": None, "what": "expected thing"},
            "tolerance": {"value": 3.0, "why": "3 SE"},
            "settings": {"tried": 4, "summary": "4 settings"},
            "counterexample": None,
            "details": {"notes": ["a note"], "elapsed_s": 1.5, "crashed": False},
        }
        base.update(extra)
        return base

    return [
        claim("lemma-2.1", "Lemma 2.1", "holds"),
        claim(
            "thm-3.1",
            "Theorem 3.1",
            "holds",
            measured={
                "value": 0.002,
                "se": 0.001,
                "what": "sup |ratio - 1|",
                "by_d": {"10": [0.3, 0.03], "200": [0.002, 0.001]},
            },
            power={"detectable_relative_error": 0.02, "method": "injected multiplicative errors"},
        ),
        claim(
            "thm-3.2",
            "Theorem 3.2",
            "fails",
            measured={"value": 3.5, "se": 0.1, "what": "C", "ranges_by_d": {"10": [0.7, 3.5]}},
            counterexample={"d": 10, "M": 1, "note": HOSTILE},
        ),
        claim("prop-C.4", "Proposition C.4", "inconclusive"),
        claim("eq-13", "eq. 13", "error", details={"crashed": True, "crash": "ValueError: boom", "elapsed_s": 0.1}),
        claim("app-B", "App. B", "holds", statement=HOSTILE),
        {"id": "bare-claim"},
        claim("odd", "Lemma D.1", "undecidable"),
    ]


def write_verify_json(path: Path, claim_list: list[dict] | None = None) -> Path:
    claim_list = claims() if claim_list is None else claim_list
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "claims": claim_list,
                "summary": {"total": len(claim_list), "elapsed_s": 12.5},
                "config": {
                    "budget": "quick",
                    "seed": 7,
                    "started_utc": "2026-01-01T00:00:00+00:00",
                    "elapsed_s": 12.5,
                    "versions": {
                        "memlab": "0.1.0",
                        "python": "3.11.7",
                        "numpy": "2.0",
                        "scipy": "1.14",
                        "jax": "0.4.35",
                    },
                    "device": {"backend": "cpu", "device_count": 1, "devices": ["cpu:0"], "device_kind": "cpu"},
                },
            }
        ),
        encoding="utf-8",
    )
    return path


#: Figure 1 fixture: x̂_*'s excess 6.5 ± 0.013 against the approximation 6.565 (ratio 0.990099 ± 0.00198).
FIG1_EXCESS, FIG1_SE, FIG1_APPROX = 6.5, 0.013, 6.565


def write_figure1(figures: Path, *, n: int = 200) -> Path:
    folder = figures / "figure1"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "figure1.png").write_bytes(png_bytes(40, 20))
    (folder / "figure1.pdf").write_bytes(b"%PDF-1.4\n")
    # excess of x_pmem,M falls linearly, 2 (1 - M/N) d: it crosses x_*'s 6.5 between M = 187 and 188 (d = 50)
    rows = [
        "t,psi,M,loss_mem,excess_pmem,excess_pmem_se,excess_pmem_approx_c1,excess_pmem_approx_c2,"
        "excess_gen,excess_gen_se,excess_gen_approx"
    ]
    for m in range(1, n + 1):
        pmem = (n - m) * 100 / n  # = 2 (1 - M/N) d, in exact binary arithmetic for N = 200
        rows.append(f"{T16},{PSI16},{m},0,{pmem!r},0.01,0,0,{FIG1_EXCESS},{FIG1_SE},{FIG1_APPROX}")
    (folder / "figure1.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    first_below = next(m for m in range(1, n + 1) if (n - m) * 100 / n < FIG1_EXCESS)
    (folder / "figure1.json").write_text(
        json.dumps(
            {
                "config": {
                    "figure": 1,
                    "n": n,
                    "d": 50,
                    "k": 12,
                    "sigma2": 1.0,
                    "draws": 100,
                    "seed": 3,
                    "schedule": "vp",
                    "t_indices": [16],
                    "t": [T16],
                    "psi": [PSI16],
                    "note": HOSTILE,
                },
                "versions": {
                    "memlab": "0.1.0",
                    "python": "3.11.7",
                    "numpy": "2.0",
                    "jax": "0.4.35",
                    "matplotlib": "3.9",
                },
                "device": {"backend": "cpu", "device_count": 1, "devices": ["cpu:0"], "device_kind": "cpu"},
                "timings": {"total_s": 5.5},
                "summary": {
                    "t": T16,
                    "psi": PSI16,
                    "excess_gen": FIG1_EXCESS,
                    "excess_gen_se": FIG1_SE,
                    "excess_gen_approx": FIG1_APPROX,
                    "smallest_m_pmem_below_gen": first_below,
                    "n": n,
                },
            }
        ),
        encoding="utf-8",
    )
    return folder


def write_figure2(figures: Path) -> Path:
    """Figure 2 fixture: M_pt = 170 of N = 200 (0.85), 95 % CI [150, 170]."""
    folder = figures / "figure2"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "figure2.png").write_bytes(png_bytes(30, 10))
    (folder / "figure2.csv").write_text("seed,m\n0,40\n", encoding="utf-8")
    (folder / "figure2_baselines.csv").write_text("seed\n0\n", encoding="utf-8")
    (folder / "figure2.json").write_text(
        json.dumps(
            {
                "figure": 2,
                "settings": {"preset": "cpu", "n": 200, "d": 50, "k": 12, "sigma2": 1.0, "epochs": 1000, "seeds": [0]},
                "versions": {"memlab": "0.1.0"},
                "timings": {"wall_seconds": 61.0},
                "created": "2026-01-01T00:00:00+0000",
                "transition": {
                    "seed": 0,
                    "m_start": 150,
                    "m_pt": 170,
                    "m_pt_ci": [150, 170],
                    "m_pt_grid_bracket": [150, 170],
                    "m_end": 190,
                    "confidence": 0.95,
                },
            }
        ),
        encoding="utf-8",
    )
    return folder


def m_star_over_n(psi: float, c: float) -> float:
    """eq. 14 with λ on one time: M*/N = 1 − 1/(C (ψ σ*² + 1)), σ*² = 1 (written out here, not memlab's code)."""
    return 1 - 1 / (c * (psi + 1))
