"""Every architecture is built the same way, ``cls(mcfg, info)``, and its state dict keys (the
checkpoint format) stay as they were: existing checkpoints and the shipped results must load.

FINGERPRINTS was computed from the code before the constructors were made uniform: per
configuration, the first 16 hex digits of the sha256 of the sorted ``key:shape`` lines of G's and
of D's state dict. A change to a fingerprint breaks every saved checkpoint of that configuration.
"""

import hashlib
import inspect

import pytest

from ganforge.config import ModelConfig, NetConfig
from ganforge.data.batches import DataInfo
from ganforge.models import DISCRIMINATORS, GENERATORS, build_discriminator, build_generator
from ganforge.models.conv import ConvDiscriminator, ConvGenerator
from ganforge.models.dcgan import DCGANDiscriminator, DCGANGenerator
from ganforge.models.mlp import MLPDiscriminator, MLPGenerator
from ganforge.models.resnet import ResNetDiscriminator, ResNetGenerator

IMG, RGB32, POINTS = (1, 28, 28), (3, 32, 32), (2,)

CONV_G = dict(channels=[8, 4], up=[2, 2], kernel=3, upsample="nearest", norm="batch", norm_after_activation=True)
CONV_D = dict(channels=[4, 8], strides=[2, 2], kernel=3, norm="batch", dropout=0.25)

# name: (arch, sample shape, conditioning, other ModelConfig fields, G's NetConfig, D's NetConfig)
CASES = {
    "mlp-points": ("mlp", POINTS, "none", {}, {}, {}),
    "mlp-none": ("mlp", IMG, "none", {}, dict(norm="batch"), dict(norm="layer", dropout=0.3)),
    "mlp-acgan": ("mlp", IMG, "acgan", {}, dict(norm="batch"), {}),
    "mlp-projection": ("mlp", IMG, "projection", {}, {}, {}),
    "mlp-acgan-concat-cbn": ("mlp", IMG, "acgan", dict(g_label="concat", g_cbn=True), dict(norm="batch"),
                             dict(norm="batch")),
    "mlp-projection-cbn": ("mlp", IMG, "projection", dict(g_cbn=True), dict(norm="batch"), {}),
    "mlp-sn-pack": ("mlp", IMG, "none", {}, dict(spectral_norm=True), dict(spectral_norm=True, pack=2)),
    "dcgan-none": ("dcgan", IMG, "none", {}, dict(norm="batch"), dict(norm="batch", activation="leaky_relu")),
    "dcgan-none-rgb32": ("dcgan", RGB32, "none", {}, dict(norm="batch"), dict(norm="layer", dropout=0.2)),
    "dcgan-acgan": ("dcgan", IMG, "acgan", {}, dict(norm="batch"), dict(norm="batch")),
    "dcgan-projection": ("dcgan", RGB32, "projection", {}, dict(norm="batch"), {}),
    "dcgan-acgan-concat-cbn": ("dcgan", IMG, "acgan", dict(g_label="concat", g_cbn=True), dict(norm="batch"), {}),
    "dcgan-projection-cbn": ("dcgan", RGB32, "projection", dict(g_cbn=True), dict(norm="batch"), dict(norm="batch")),
    "dcgan-sn-pack": ("dcgan", IMG, "none", dict(channels_last=True), dict(spectral_norm=True),
                      dict(spectral_norm=True, norm="batch", pack=2)),
    "resnet-none": ("resnet", IMG, "none", {}, dict(norm="batch"), {}),
    "resnet-acgan": ("resnet", IMG, "acgan", {}, dict(norm="batch"), {}),
    "resnet-projection-cbn-rgb32": ("resnet", RGB32, "projection", dict(g_cbn=True), dict(norm="batch"),
                                    dict(norm="layer")),
    "resnet-sn-pack-mbstd": ("resnet", IMG, "none", dict(channels_last=True), dict(spectral_norm=True),
                             dict(spectral_norm=True, pack=2, mbstd_group=4, mbstd_channels=2)),
    "conv-none": ("conv", IMG, "none", {}, CONV_G, CONV_D),
    "conv-acgan": ("conv", IMG, "acgan", {}, CONV_G, dict(CONV_D, pool=["max", "avg"], lrn=True)),
    "conv-projection-cbn-rgb32": ("conv", RGB32, "projection", dict(g_cbn=True),
                                  dict(CONV_G, base=8, up=[2, 2], upsample="transposed", kernel=5),
                                  dict(CONV_D, pad_after=[1, 0])),
}

FINGERPRINTS = {  # name: (G, D)
    "mlp-points": ("c8e563e31682cd6c", "b33f1cd270e094c4"),
    "mlp-none": ("d96013d908f49016", "a45fca2082ee89c5"),
    "mlp-acgan": ("731ae8a08acc3c26", "1e6519ff2b7ce032"),
    "mlp-projection": ("5d1b20e81899c989", "631c5b6bd6d6c06a"),
    "mlp-acgan-concat-cbn": ("ff8582ad88eabb3a", "f7795fcdef780e0e"),
    "mlp-projection-cbn": ("262b718ea0100618", "631c5b6bd6d6c06a"),
    "mlp-sn-pack": ("12860d67e1e39307", "3d9d5e54b373e7b2"),
    "dcgan-none": ("bfd5e109a32760f1", "0173c41d58811e3e"),
    "dcgan-none-rgb32": ("4a0a29f8847b7f05", "e8bf9fd7b2518d1d"),
    "dcgan-acgan": ("a9a772f75fc7a7cb", "e2d58e3fe536aa20"),
    "dcgan-projection": ("75528c04c0236b30", "4005960846038a77"),
    "dcgan-acgan-concat-cbn": ("d0e5207b00857b9e", "c7b592f6b6a4a7dc"),
    "dcgan-projection-cbn": ("ac281662183dcd82", "b8610e82375388a6"),
    "dcgan-sn-pack": ("4ae11a3a129276e5", "6e2d2937f36c9e42"),
    # resnet: pinned when the architecture was added (the first resnet checkpoint format)
    "resnet-none": ("294d14ed66c57cea", "122dbb57d75e82b5"),
    "resnet-acgan": ("55f66caa2a3305fb", "75626758d37f9268"),
    "resnet-projection-cbn-rgb32": ("81584952da8008e0", "36577678cd1e2c45"),
    "resnet-sn-pack-mbstd": ("99b2d9762d097c50", "93732f2d6c27fabd"),
    # conv: pinned when the architecture was added (issue 27)
    "conv-none": ("50102409a33e25c6", "5e77688679b6e396"),
    "conv-acgan": ("1945c33bb0785d06", "a8f458a658bbdc85"),
    "conv-projection-cbn-rgb32": ("652b71a18058ff75", "ecefe5e607c19e7b"),
}


def case_config(name):
    arch, shape, conditioning, extra, g, d = CASES[name]
    net = dict(arch=arch, hidden=[16, 8], width=4)
    mcfg = ModelConfig(latent_dim=8, conditioning=conditioning, g=NetConfig(output="tanh", **{**net, **g}),
                       d=NetConfig(**{**net, **d}), **extra)
    info = DataInfo("image" if len(shape) == 3 else "points", shape,
                    num_classes=10 if conditioning != "none" else 0)
    return mcfg, info


def fingerprint(model):
    lines = sorted(f"{k}:{tuple(v.shape)}" for k, v in model.state_dict().items())
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def test_every_registered_architecture_has_cases():
    archs = {arch for arch, *_ in CASES.values()}
    assert set(GENERATORS.names()) <= archs and set(DISCRIMINATORS.names()) <= archs
    assert {c for _, _, c, *_ in CASES.values()} == {"none", "acgan", "projection"}
    assert set(FINGERPRINTS) == set(CASES)


@pytest.mark.parametrize("name", list(CASES))
def test_state_dict_keys_and_shapes_unchanged(name):
    mcfg, info = case_config(name)
    G, D = build_generator(mcfg, info), build_discriminator(mcfg, info)
    assert (fingerprint(G), fingerprint(D)) == FINGERPRINTS[name]


def _takes_mcfg_and_info(factory) -> bool:
    params = list(inspect.signature(factory).parameters.values())
    return ([p.name for p in params] == ["mcfg", "info"]
            and all(p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD for p in params))


@pytest.mark.parametrize("registry", [GENERATORS, DISCRIMINATORS], ids=["G", "D"])
def test_registered_constructors_take_exactly_mcfg_and_info(registry):
    for arch in registry.names():
        assert _takes_mcfg_and_info(registry.get(arch)), arch


@pytest.mark.parametrize("cls", [MLPGenerator, MLPDiscriminator, DCGANGenerator, DCGANDiscriminator,
                                 ResNetGenerator, ResNetDiscriminator, ConvGenerator, ConvDiscriminator])
def test_architecture_classes_take_exactly_mcfg_and_info(cls):
    assert _takes_mcfg_and_info(cls)


@pytest.mark.parametrize("arch", ["mlp", "dcgan", "resnet", "conv"])
def test_registry_entry_called_directly_equals_build(arch):
    mcfg, info = case_config(f"{arch}-acgan")
    G = GENERATORS.get(arch)(mcfg, info)
    D = DISCRIMINATORS.get(arch)(mcfg, info)
    assert fingerprint(G) == FINGERPRINTS[f"{arch}-acgan"][0] and fingerprint(D) == FINGERPRINTS[f"{arch}-acgan"][1]
