"""weakpose: weakly-supervised 3D human pose learning from multi-view images (Iqbal et al., CVPR 2020)."""
__version__ = "0.1.0"
