"""Sample-quality metrics as pure functions over feature arrays (numpy float64 in, floats out).

- :mod:`.fid`: Fréchet Inception Distance (Heusel et al. 2017).
- :mod:`.kid`: Kernel Inception Distance (Bińkowski et al. 2018).
- :mod:`.inception_score`: Inception Score (Salimans et al. 2016).
- :mod:`.prdc`: precision/recall (Kynkäänniemi et al. 2019), density/coverage (Naeem et al. 2020).
- :mod:`.modes`: mode counts and reverse KL on the toy mixtures and stacked MNIST (Lin et al. 2018).
- :mod:`.classes`: class accuracy and intra-class FID of labelled samples.

Torch tensors are accepted wherever arrays are. No feature network is imported here: features
come from :mod:`ganforge.features`, and :mod:`ganforge.evaluation` joins the two.
"""

from .classes import class_accuracy, class_frequencies, intra_class_fid
from .fid import feature_statistics, fid_from_features, frechet_distance
from .inception_score import inception_score
from .kid import kernel_inception_distance, polynomial_mmd2_unbiased
from .modes import stacked_mode_stats, toy_mode_stats
from .prdc import density_coverage, prdc, precision_recall

__all__ = [
    "feature_statistics",
    "frechet_distance",
    "fid_from_features",
    "kernel_inception_distance",
    "polynomial_mmd2_unbiased",
    "inception_score",
    "precision_recall",
    "density_coverage",
    "prdc",
    "toy_mode_stats",
    "stacked_mode_stats",
    "class_accuracy",
    "class_frequencies",
    "intra_class_fid",
]
