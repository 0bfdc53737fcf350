"""benchmarks/joint_errors_2d.py: per-joint 2D errors and their labelled / unlabelled means on hand-made cases."""
import importlib.util
from pathlib import Path

import numpy as np

_spec = importlib.util.spec_from_file_location(
    "joint_errors_2d", Path(__file__).resolve().parents[1] / "benchmarks" / "joint_errors_2d.py")
je = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(je)


def test_per_joint_error_in_256px_units_over_visible_joints_only():
    gt = np.zeros((2, 17, 2))
    uv = gt.copy()
    uv[:, 9, 0] = 3.0                       # neck/nose 3 px off at a 64 px input = 12 px@256
    uv[1, 0, 1] = 4.0                       # pelvis 4 px off on image 1, which hides it
    vis = np.ones((2, 17), bool)
    vis[1, 0] = False
    per = je.joint_errors(uv, gt, vis, 64)
    assert np.isclose(per[9], 12.0) and per[0] == 0.0 and np.isclose(per[[j for j in range(17) if j != 9]], 0).all()
    s = je.summarise(per, vis.sum(0), (7, 9))
    assert s["labelled_px256"] == 0.0 and np.isclose(s["unlabelled_px256"], 6.0)   # (0 + 12) / 2
    assert np.isclose(s["px256"], 24.0 / 33)                                        # 2 x 12 over 33 visible joints
    assert np.isnan(je.summarise(per, vis.sum(0), ())["unlabelled_px256"])
