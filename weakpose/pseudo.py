"""The pseudo-labels of Sec. 3.3 ("Additional Regularization"): the pre-trained 2D model labels the multi-view
training images of the indoor sources (H and I) once, at the switch to the main stage; joints with confidence above
tau then serve as L_H targets, so a constant background cannot drive the network to one degenerate pose."""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader

from weakpose.camera import transform_points
from weakpose.data.loaders import Images2D
from weakpose.evaluate import infer
from weakpose.progress import progress_bar

SOURCES = ("H", "I")  # Sec. 3.3: the regularisation is used for the two indoor datasets


@torch.no_grad()
def pseudo_labels(model, data, cfg, device: torch.device, autocast: bool = False, verbose: bool = True
                  ) -> torch.Tensor:
    """Labels of every row of the canonical dataset ``data``: (rows, J, 3) [u, v in stored-crop px, confidence].

    Its training images are cropped as in evaluation (no augmentation) and passed through ``model`` (in eval mode
    here, left in train mode). Joints in ``cfg.free_2d_joints`` (no 2D source labels them, so the model never had a
    target there and its confidence means nothing: measured 0.75 on neck/nose of the 2D=M model at 118 px@256 error)
    get confidence 0, i.e. no pseudo-label. Rows outside the training split stay zero."""
    model.eval()
    lab = torch.zeros(len(data), 17, 3, device=device)
    stored, margin = data.crop_size, float(data.meta["crop_margin"])
    batches = DataLoader(Images2D([data], "train"), batch_size=cfg.eval_batch, num_workers=cfg.num_workers)
    for batch in progress_bar(batches, desc=f"pseudo-labels {data.name}", disable=not verbose, leave=False):
        out = infer(model, batch["image"].to(device), None, stored, margin, cfg.input_size, cfg.channels_last,
                    autocast=autocast)
        uv = transform_points(torch.linalg.inv(out["A"]), out["uv"].double()).float()
        lab[batch["row"].to(device)] = torch.cat([uv, out["conf"].float()[..., None]], -1)
    lab[:, list(cfg.free_2d_joints), 2] = 0.0
    if verbose:
        rows = torch.as_tensor(np.nonzero(data.split_mask("train"))[0], device=device)
        frac = (lab[rows, :, 2] > cfg.pseudo_tau).float().mean()
        print(f"[weakpose] pseudo-labels for {data.name}: {len(rows)} images, {100 * frac:.1f}% joints above tau")
    model.train()
    return lab
