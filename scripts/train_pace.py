#!/usr/bin/env python3
"""Trains the twin's degradation-pace model from a fleet's run-to-failure histories and exports it as ONNX.

The physics gives the shape of a bearing defect's growth (ln s grows linearly in load-weighted hours, from the
initiation severity to the failure threshold); this model gives its pace for one pump from how that pump ran
before the defect appeared. Input: a fleet directory written by `twin fleet` (pumps.csv, histories.csv). Output:
an ONNX model the twin loads (the scenario's `pace_model`), its version in the ONNX metadata.

    target/peers-venv/bin/python scripts/train_pace.py FLEET_DIR --output pace.onnx

Features (the twin computes the same at detection, see the README): 1-hour exponential means, over the minutes the
pump ran before the defect, of the speed ratio n/n_r, the winding temperature (degC), the vibration RMS (mm/s) and
the current ratio I/I_r. Target: ln of the pace, ln(s_f / s_0) / tau_f, tau_f the load-weighted hours
(sum of the physics' growth factor g times the hours) from the defect's onset to the failure.
"""

import argparse
import csv
import json
import math
import pickle
import sys
from datetime import date

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

# The twin's pace features, in input order: (name, unit). Must equal twin_models::degradation::PACE_FEATURES.
FEATURES = [("speed_ratio", "1"), ("winding_temp_c", "degC"), ("vib_rms_mm_s", "mm/s"), ("current_ratio", "1")]
# Time constant of the features' exponential means, s; minutes a pump must have run before they count.
EMA_TAU_S = 3600.0
MIN_MINUTES = 30
# The physics' failure threshold (twin_models::degradation::FAILURE_SEVERITY).
FAILURE_SEVERITY = 1.0
# Running: above this share of the rated speed.
RUNNING_SPEED_RATIO = 0.1


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def number(text, where):
    try:
        v = float(text)
    except ValueError:
        fail(f"{where}: \"{text}\" is not a number")
    return v


def read_fleet(fleet_dir):
    """The fleet's pumps (pumps.csv) and each one's history rows (histories.csv), in time order."""
    pumps = {}
    path = f"{fleet_dir}/pumps.csv"
    try:
        with open(path, newline="") as f:
            for i, row in enumerate(csv.DictReader(f), start=2):
                if not row.get("failure_s"):
                    continue  # censored: no failure within the run
                pumps[row["pump"]] = {
                    "onset_s": number(row["onset_s"], f"{path}:{i}: onset_s"),
                    "onset_severity": number(row["onset_severity"], f"{path}:{i}: onset_severity"),
                    "failure_s": number(row["failure_s"], f"{path}:{i}: failure_s"),
                    "rated_speed_rpm": number(row["rated_speed_rpm"], f"{path}:{i}: rated_speed_rpm"),
                    "rated_current_a": number(row["rated_current_a"], f"{path}:{i}: rated_current_a"),
                    "rows": [],
                }
        path = f"{fleet_dir}/histories.csv"
        with open(path, newline="") as f:
            for i, row in enumerate(csv.DictReader(f), start=2):
                p = pumps.get(row["pump"])
                if p is None:
                    continue
                p["rows"].append(
                    tuple(
                        number(row[c], f"{path}:{i}: {c}")
                        for c in ("t_s", "speed_rpm", "winding_temp_c", "vib_rms", "motor_current_a", "growth_factor")
                    )
                )
    except OSError as e:
        fail(f"{path}: {e.strerror}")
    except KeyError as e:
        fail(f"{path}: no column {e}")
    return pumps


def features(p):
    """The pump's pace features at its defect's onset (None when it ran too little before)."""
    ema, running_s, last_t = None, 0.0, 0.0
    for t, speed, winding, vib, current, _g in p["rows"]:
        if t > p["onset_s"]:
            break
        dt, last_t = t - last_t, t
        speed_ratio = speed / p["rated_speed_rpm"]
        if speed_ratio <= RUNNING_SPEED_RATIO or dt <= 0.0:
            continue
        x = [speed_ratio, winding, vib, current / p["rated_current_a"]]
        alpha = 1.0 - math.exp(-dt / EMA_TAU_S)
        ema = x if ema is None else [e + alpha * (v - e) for e, v in zip(ema, x)]
        running_s += dt
    return ema if running_s >= 60.0 * MIN_MINUTES else None


def ln_pace(p):
    """ln of the pace the history shows: ln(s_f / s_0) over the load-weighted hours from onset to failure."""
    tau_h, last_t = 0.0, None
    for t, _s, _w, _v, _c, g in p["rows"]:
        if last_t is not None and p["onset_s"] < t <= p["failure_s"]:
            tau_h += g * (t - last_t) / 3600.0
        last_t = t
    if tau_h <= 0.0:
        return None
    return math.log(math.log(FAILURE_SEVERITY / p["onset_severity"]) / tau_h)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("fleet", help="fleet directory written by `twin fleet` (pumps.csv, histories.csv)")
    ap.add_argument("--output", required=True, help="the ONNX model to write")
    ap.add_argument("--version", default=f"pace-{date.today().isoformat()}", help="the model's version")
    ap.add_argument("--sklearn", help="also pickle the scikit-learn pipeline here (to compare predictions)")
    args = ap.parse_args()

    pumps = read_fleet(args.fleet)
    names, xs, ys = [], [], []
    for name, p in sorted(pumps.items()):
        x, y = features(p), ln_pace(p)
        if x is not None and y is not None:
            names.append(name)
            xs.append(x)
            ys.append(y)
    if len(xs) < 8:
        fail(f"{args.fleet}: {len(xs)} pumps ran to failure with usable histories; at least 8 are needed")
    X, y = np.array(xs, dtype=np.float64), np.array(ys, dtype=np.float64)

    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    folds = KFold(n_splits=min(5, len(y)), shuffle=True, random_state=0)
    held_out = cross_val_predict(model, X, y, cv=folds)
    residual = y - held_out
    residual_sd = float(np.sqrt(np.mean(residual**2)))
    mae = float(np.mean(np.abs(residual)))
    model.fit(X, y)

    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType

    onx = convert_sklearn(model, initial_types=[("features", DoubleTensorType([None, len(FEATURES)]))])
    try:
        with open(f"{args.fleet}/fleet.json") as f:
            fleet = json.load(f).get("command", args.fleet)
    except (OSError, ValueError):
        fleet = args.fleet
    meta = {
        "twin.version": args.version,
        "twin.target": "ln_pace_per_h",
        "twin.features": json.dumps([{"name": n, "unit": u} for n, u in FEATURES]),
        "twin.residual_sd_ln": repr(residual_sd),
        "twin.heldout_mae_ln": repr(mae),
        "twin.training_fleet": f"{fleet} ({len(y)} pumps)",
    }
    for k, v in meta.items():
        entry = onx.metadata_props.add()
        entry.key, entry.value = k, v
    with open(args.output, "wb") as f:
        f.write(onx.SerializeToString())
    if args.sklearn:
        with open(args.sklearn, "wb") as f:
            pickle.dump(model, f)
    spread = float(np.std(y))
    print(
        f"{args.output}: {len(y)} pumps; log-pace spread {spread:.3f}; held-out (5-fold) MAE {mae:.3f}, "
        f"residual sd {residual_sd:.3f}; alpha {model[-1].alpha_:.3g}; ops "
        + ",".join(sorted({n.op_type for n in onx.graph.node}))
    )


if __name__ == "__main__":
    main()
