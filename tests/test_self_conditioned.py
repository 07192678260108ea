"""model.clusters: a self-conditioned GAN. The training images get k-means cluster labels, G and D are
conditioned on them, and G picks its cluster from z's first entry at the clusters' data frequencies."""

import numpy as np
import pytest
import torch

from conftest import assert_resume_is_exact, small_config
from ganforge.build import build_experiment
from ganforge.cli import main
from ganforge.choices import validate
from ganforge.data.clusters import (cluster_features, cluster_labels, kmeans, nearest_neighbours, sampled_clusters,
                                    spectral)
from ganforge.errors import GanforgeError
from ganforge.models.conditioning import ClusterConditioned, generator_conditional
from ganforge.sampling import load_generator_and_state
from ganforge.training.trainer import Trainer

SC = {"data": {"name": "mnist", "batch_size": 16},
      "model": {"conditioning": "acgan", "clusters": 6, "g_cbn": True,
                "g": {"hidden": [32], "output": "tanh", "norm": "batch"}, "d": {"hidden": [32]}},
      "log": {"n_samples": 12}}


def test_kmeans_finds_separated_blobs_and_is_seeded():
    g = torch.Generator().manual_seed(0)
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    truth = torch.arange(4).repeat_interleave(torch.tensor([50, 100, 150, 200]))
    x = centers[truth] + 0.5 * torch.randn(len(truth), 2, generator=g)
    assign, found = kmeans(x, 4, seed=3)
    # one found cluster per true blob, whatever its number
    pairs = set(zip(truth.tolist(), assign.tolist()))
    assert len(pairs) == 4 and len({a for _, a in pairs}) == 4
    for k in range(4):  # each centre is its members' mean
        assert torch.allclose(found[k], x[assign == k].mean(0), atol=1e-5)
    assert torch.equal(kmeans(x, 4, seed=3)[0], assign)
    with pytest.raises(GanforgeError, match="between 2 and the number of images"):
        kmeans(x, 1)


def test_kmeans_lowers_the_within_cluster_sum_against_its_start():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(300, 5, generator=g)
    assign, centers = kmeans(x, 8, seed=0, iters=30)
    wcss = ((x - centers[assign]) ** 2).sum()
    one_step = kmeans(x, 8, seed=0, iters=1)
    assert wcss < ((x - one_step[1][one_step[0]]) ** 2).sum()
    # every point sits with its nearest centre (Lloyd's fixed point)
    assert torch.equal(assign, torch.cdist(x, centers).argmin(1))


def _rings(n=200, seed=0):
    """Two concentric rings (radius 1 and 4) with a little noise: k-means cuts the outer ring, the
    nearest-neighbour graph keeps each ring whole."""
    g = torch.Generator().manual_seed(seed)
    angle = torch.linspace(0, 2 * torch.pi, n + 1)[:n].repeat(2)  # evenly spread: each ring one connected piece
    truth = torch.arange(2).repeat_interleave(n)
    radius = torch.tensor([1.0, 4.0])[truth]
    x = torch.stack([radius * angle.cos(), radius * angle.sin()], 1) + 0.05 * torch.randn(2 * n, 2, generator=g)
    return x, truth


def test_spectral_clustering_separates_rings_that_kmeans_cuts():
    x, truth = _rings()
    assign = spectral(x, 2, seed=0, neighbours=10, dims=2)
    assert len(set(zip(truth.tolist(), assign.tolist()))) == 2  # each ring exactly one cluster
    km = kmeans(x, 2, seed=0)[0]
    assert len(set(zip(truth.tolist(), km.tolist()))) > 2  # k-means cuts the outer ring and mixes the rings
    assert torch.equal(spectral(x, 2, seed=0, neighbours=10, dims=2), assign)  # seeded
    with pytest.raises(GanforgeError, match="between 2 and the number of images"):
        spectral(x, 1)


def test_nearest_neighbours_match_a_brute_force_search():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3000, 6, generator=g)  # more rows than one chunk
    got = nearest_neighbours(x, 5).sort(1).values
    d = torch.cdist(x, x)
    d.fill_diagonal_(float("inf"))
    assert torch.equal(got, d.topk(5, largest=False).indices.sort(1).values)


def test_nearest_neighbours_among_other_rows_match_a_brute_force_search():
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(2500, 4, generator=g), torch.randn(300, 4, generator=g)
    got = nearest_neighbours(x, 3, among=y).sort(1).values
    assert torch.equal(got, torch.cdist(x, y).topk(3, largest=False).indices.sort(1).values)


def test_sampled_spectral_clusters_separate_rings_through_the_sample():
    x, truth = _rings()
    assign = sampled_clusters(x, 2, seed=0, method="spectral", sample=len(x) // 2, dims=2)
    assert len(set(zip(truth.tolist(), assign.tolist()))) == 2  # the unsampled half follows its ring too
    assert torch.equal(sampled_clusters(x, 2, seed=0, method="spectral", sample=len(x) // 2, dims=2), assign)
    km = sampled_clusters(x, 2, seed=0, method="kmeans", sample=len(x) // 2)
    pick = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:len(x) // 2]
    assert torch.equal(km[pick], kmeans(x[pick], 2, seed=0)[0])  # the sample keeps its own k-means clusters
    with pytest.raises(GanforgeError, match="model.cluster_sample=10"):
        sampled_clusters(x, 2, seed=0, method="spectral", sample=10)


def test_cluster_labels_by_method_give_member_means_as_centres():
    g = torch.Generator().manual_seed(4)
    imgs = torch.randint(0, 256, (60, 1, 8, 8), generator=g, dtype=torch.uint8)
    imgs[30:] //= 4  # two groups by brightness
    for method in ("kmeans", "spectral"):
        assign, centers = cluster_labels(imgs, 2, seed=0, method=method)
        x = cluster_features(imgs)
        assert len(set(assign[:30].tolist())) == 1 and len(set(assign[30:].tolist())) == 1  # each group whole
        assert assign[0] != assign[30]
        for k in range(2):
            assert torch.allclose(centers[k], x[assign == k].mean(0), atol=1e-6)


def test_cluster_features_scale_and_downsample():
    imgs = torch.full((3, 3, 100, 100), 255, dtype=torch.uint8)
    f = cluster_features(imgs)
    assert f.shape == (3, 3 * 25 * 25) and torch.allclose(f, torch.ones_like(f))  # 100 -> 4x4 areas -> 25
    assert cluster_features(torch.zeros(2, 1, 28, 28, dtype=torch.uint8)).shape == (2, 784)


@pytest.mark.parametrize("dist", ["normal", "uniform"])
def test_g_draws_clusters_at_the_prior_from_z(dist):
    net = torch.nn.Identity()
    G = ClusterConditioned(net, 3, dist)
    G.set_clusters(torch.tensor([20, 50, 30]))
    assert torch.allclose(G.prior, torch.tensor([0.2, 0.5, 0.3]))
    gen = torch.Generator().manual_seed(0)
    n = 200_000
    z = torch.randn(n, 4, generator=gen) if dist == "normal" else torch.rand(n, 4, generator=gen) * 2 - 1
    k = G.clusters_of(z)
    freq = torch.bincount(k, minlength=3).double() / n
    se = (0.25 / n) ** 0.5
    assert torch.allclose(freq, torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64), atol=5 * se)
    assert torch.equal(G.clusters_of(z), k)  # a function of z
    # the cluster is monotone in z's first entry: the inverse CDF of the prior
    order = torch.argsort(z[:, 0])
    assert (k[order].diff() >= 0).all()
    with pytest.raises(GanforgeError, match="3 non-negative numbers"):
        G.set_clusters(torch.tensor([1, 2]))


def test_experiment_labels_data_with_clusters_and_g_is_unconditional(fake_mnist):
    cfg = small_config(**SC)
    assert not generator_conditional(cfg.model)
    exp = build_experiment(cfg, progress=False)
    want, centers = cluster_labels(exp.data.images, 6, cfg.seed)
    assert torch.equal(exp.data.labels, want) and exp.data.info.num_classes == 6
    assert torch.allclose(exp.G.prior, torch.bincount(want, minlength=6).float() / len(want))
    assert torch.equal(exp.G.centers, centers) and centers.shape == (6, 784)
    assert exp.D.head.aux.out_features == 6  # AC-GAN's class head predicts the cluster
    assert exp.G(torch.randn(5, cfg.model.latent_dim)).shape == (5, 1, 28, 28)  # no labels needed


def test_trainer_gives_g_and_d_the_clusters_z_picks(fake_mnist):
    cfg = small_config(**SC)
    exp = build_experiment(cfg, progress=False)
    trainer = Trainer(exp)
    seen = []
    orig = exp.loss.discriminator

    def spy(D, real, y_real, fake, y_fake):
        seen.append((y_real, y_fake))
        return orig(D, real, y_real, fake, y_fake)

    exp.loss.discriminator = spy
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    z = torch.randn(16, cfg.model.latent_dim, generator=gen)  # the trainer's latent stream, replayed
    trainer.train_step()
    y_real, y_fake = seen[0]
    assert torch.equal(y_fake, exp.G.clusters_of(z))
    assert y_real is not None and y_real.max() < 6  # real labels are clusters, not digits


def test_run_samples_evaluates_and_resumes_as_unconditional(fake_mnist, capsys):
    full, _ = assert_resume_is_exact(dict(SC, log={"n_samples": 12}), keys=("d_loss", "g_loss", "d_class_loss"))
    G, _, _ = load_generator_and_state(full)
    assert isinstance(G, ClusterConditioned) and abs(float(G.prior.sum()) - 1) < 1e-6
    assert main(["sample", "full", "--n", "8", "--out", "s.npz"]) == 0
    assert "labels" not in np.load("s.npz")  # unconditional to the user
    assert main(["sample", "full", "--n", "8", "--label", "2", "--out", "t.npz"]) == 2
    assert "needs a conditional run" in capsys.readouterr().err
    assert main(["eval", "full", "--n", "64", "--metrics", "fid,class_freq"]) == 0
    assert main(["eval", "full", "--n", "64"]) == 0  # the defaults include D's AGE: images get their nearest cluster
    assert main(["export", "full", "--out", "g.pt"]) == 0
    z = torch.randn(7, 4)
    with torch.no_grad():
        assert torch.allclose(torch.jit.load("g.pt")(z), G(z), atol=1e-5)  # the cluster choice travels with G


def test_periodic_age_of_a_projection_run_labels_images_by_their_nearest_cluster(fake_mnist, tmp_path):
    import json

    from ganforge.training.run import train

    model = dict(SC["model"], conditioning="projection", g_cbn=False)
    cfg = small_config(**dict(SC, model=model, train={"steps": 4}, eval={"every": 4, "n": 40, "metrics": ["age"]}))
    train(cfg, tmp_path / "r")  # the projection D needs a label: the callback gives it the nearest cluster
    rows = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    result = [r["eval"] for r in rows if "eval" in r][-1]
    assert all(0 < result[k] < 1 for k in ("d_real_train", "d_real_heldout", "d_fake"))


def test_config_errors():
    with pytest.raises(GanforgeError, match="set model.conditioning to acgan or projection"):
        validate(small_config(data={"name": "mnist"}, model={"clusters": 10}))
    with pytest.raises(GanforgeError, match="ring8 is not an image data set"):
        validate(small_config(model={"clusters": 10, "conditioning": "acgan"}))
    with pytest.raises(GanforgeError, match="2 or more"):
        validate(small_config(data={"name": "mnist"}, model={"clusters": 1, "conditioning": "acgan"}))
    with pytest.raises(GanforgeError, match="set model.latent_categories=0"):
        validate(small_config(data={"name": "mnist"}, model={"clusters": 10, "conditioning": "acgan",
                                                              "latent_dim": 12, "latent_categories": 4}))
    with pytest.raises(GanforgeError, match="model.cluster_method.*kmeans.*spectral"):
        validate(small_config(data={"name": "mnist"}, model={"clusters": 10, "conditioning": "acgan",
                                                              "cluster_method": "dbscan"}))


def test_evaluation_d_labels_images_by_their_nearest_cluster():
    from ganforge.config import ModelConfig, NetConfig
    from ganforge.data.batches import DataInfo
    from ganforge.data.clusters import nearest_cluster
    from ganforge.models import build_discriminator
    from ganforge.models.conditioning import ClusterLabelled

    torch.manual_seed(0)
    mcfg = ModelConfig(conditioning="projection", clusters=3, d=NetConfig(arch="dcgan", width=8))
    D = build_discriminator(mcfg, DataInfo("image", (1, 28, 28), 10)).eval()
    assert D.head.embed.num_embeddings == 3
    centers = torch.stack([torch.zeros(784), torch.ones(784), torch.full((784,), 0.5)])
    x = torch.stack([torch.full((1, 28, 28), v) for v in (-1.0, 1.0, 0.1, 0.9)])  # pixels 0, 1, 0.55, 0.95
    assert nearest_cluster(x, centers).tolist() == [0, 1, 2, 1]
    wrapped = ClusterLabelled(D, centers)
    with torch.no_grad():
        assert torch.equal(wrapped(x), D(x, torch.tensor([0, 1, 2, 1])))


# --- per-channel clusters (model.cluster_channels): stacked MNIST's three digits clustered one by one ---

SC3 = {"data": {"name": "stacked_mnist", "batch_size": 16, "num_samples": 400},
       "model": {"conditioning": "projection", "clusters": 3, "cluster_channels": True, "g_cbn": True,
                 "g": {"hidden": [32], "output": "tanh", "norm": "batch"}, "d": {"hidden": [32]}},
       "log": {"n_samples": 12}}


def test_factors_combine_as_stacked_mnist_mode_ids_and_split_back():
    from ganforge.data.clusters import combine_factors, split_factors

    digits = torch.tensor([[0, 0, 0], [1, 2, 3], [9, 9, 9], [4, 0, 7]])
    ids = combine_factors(digits, 10)
    assert ids.tolist() == [0, 123, 999, 407]  # 100 a + 10 b + c, the mode ids of ganforge.data.stacked
    assert torch.equal(split_factors(ids, 10, 3), digits)
    k5 = torch.randint(0, 5, (50, 4), generator=torch.Generator().manual_seed(0))
    assert torch.equal(split_factors(combine_factors(k5, 5), 5, 4), k5)
    assert combine_factors(k5, 5).max() < 5 ** 4


def test_channel_clusters_cluster_each_channel_alone_and_share_one_clustering():
    from ganforge.data.clusters import channel_cluster_labels, cluster_features, nearest_channel_clusters

    g = torch.Generator().manual_seed(5)
    pool = torch.randint(0, 256, (40, 1, 8, 8), generator=g, dtype=torch.uint8)
    pool[20:] //= 4  # one-channel images of two brightness groups
    pick = torch.randint(0, 40, (30, 3), generator=g)  # each image's 3 channels drawn from the pool, with repeats
    images = pool[pick].squeeze(2)
    labels, centers = channel_cluster_labels(images, 2, seed=0, method="spectral")
    assert labels.shape == (30, 3) and centers.shape == (2, 64)
    group = (pick >= 20).long()  # each channel's true group
    assert torch.equal(labels, group) or torch.equal(labels, 1 - group)
    flat = cluster_features(images.reshape(-1, 1, 8, 8))
    for k in range(2):  # centres: the mean of the distinct channel images in the cluster
        members = torch.unique(flat[labels.reshape(-1) == k], dim=0)
        assert torch.allclose(centers[k], members.mean(0), atol=1e-6)
    assert torch.equal(nearest_channel_clusters(images, centers), labels)


def test_factor_embedding_sums_one_row_per_channel():
    from ganforge.config import ModelConfig
    from ganforge.models.conditioning import FactorEmbedding, label_embedding

    torch.manual_seed(0)
    emb = FactorEmbedding(4, 3, 5)
    y = torch.tensor([0, 1 * 16 + 2 * 4 + 3, 63])
    t = emb.tables
    want = torch.stack([t[0, 0] + t[1, 0] + t[2, 0], t[0, 1] + t[1, 2] + t[2, 3], t[0, 3] + t[1, 3] + t[2, 3]])
    assert torch.allclose(emb(y), want)
    assert emb.weight.shape == (64, 5) and torch.allclose(emb.weight[y], want)
    mcfg = ModelConfig(conditioning="projection", clusters=4, cluster_channels=True)
    gain = label_embedding(mcfg, 64, 7, fill=1.0)
    assert isinstance(gain, FactorEmbedding) and torch.allclose(gain(y), torch.ones(3, 7))  # CBN gains start at 1
    big = label_embedding(mcfg, 64, 20_000, std=0.02)
    assert big(y[:1]).std().item() == pytest.approx(0.02, rel=0.05)  # the sum has the asked spread
    assert isinstance(label_embedding(ModelConfig(conditioning="projection"), 10, 7), torch.nn.Embedding)
    with pytest.raises(GanforgeError, match=r"4\^C labels, not 60"):
        label_embedding(mcfg, 60, 7)


def test_g_draws_each_channels_cluster_from_its_own_entry_of_z():
    from ganforge.data.clusters import split_factors

    G = ClusterConditioned(torch.nn.Identity(), 2, "normal", factors=3)
    shares = torch.tensor([[10, 90], [50, 50], [70, 30]])
    G.set_clusters(shares)
    assert torch.allclose(G.prior, shares.float() / 100)
    n = 100_000
    z = torch.randn(n, 5, generator=torch.Generator().manual_seed(0))
    per_channel = split_factors(G.clusters_of(z), 2, 3)
    se = (0.25 / n) ** 0.5
    assert torch.allclose(per_channel.double().mean(0), torch.tensor([0.9, 0.5, 0.3], dtype=torch.float64), atol=5 * se)
    for c in range(3):  # channel c's cluster is the inverse CDF of its shares at z's entry c
        order = torch.argsort(z[:, c])
        assert (per_channel[order, c].diff() >= 0).all()
    joint = (per_channel[:, 0] & per_channel[:, 1]).double().mean()  # independent channels
    assert float(joint) == pytest.approx(0.45, abs=5 * se)
    with pytest.raises(GanforgeError, match="3 x 2 non-negative"):
        G.set_clusters(torch.tensor([10, 90]))


def test_experiment_with_channel_clusters_labels_combinations_and_resumes(fake_mnist):
    from ganforge.data.clusters import channel_cluster_labels, combine_factors
    from ganforge.models.conditioning import FactorEmbedding

    cfg = small_config(**SC3)
    exp = build_experiment(cfg, progress=False)
    per_channel, centers = channel_cluster_labels(exp.data.images, 3, cfg.seed)
    assert torch.equal(exp.data.labels, combine_factors(per_channel, 3)) and exp.data.info.num_classes == 27
    counts = torch.stack([torch.bincount(col, minlength=3) for col in per_channel.T]).float()
    assert torch.allclose(exp.G.prior, counts / 400)
    assert torch.equal(exp.G.centers, centers) and centers.shape == (3, 784)  # one channel's pixels
    assert isinstance(exp.D.head.embed, FactorEmbedding) and exp.D.head.embed.tables.shape == (3, 3, 32)
    assert exp.G(torch.randn(5, cfg.model.latent_dim)).shape == (5, 3, 28, 28)
    full, _ = assert_resume_is_exact(SC3)
    assert main(["eval", "full", "--n", "48", "--metrics", "modes"]) == 0  # stacked MNIST's mode count
    assert main(["eval", "full", "--n", "48"]) == 0  # with D's AGE: each channel gets its nearest cluster


def test_evaluation_d_labels_each_channel_by_its_nearest_cluster():
    from ganforge.config import ModelConfig, NetConfig
    from ganforge.data.batches import DataInfo
    from ganforge.models import build_discriminator
    from ganforge.models.conditioning import ClusterLabelled

    torch.manual_seed(0)
    mcfg = ModelConfig(conditioning="projection", clusters=2, cluster_channels=True, d=NetConfig(arch="dcgan", width=8))
    D = build_discriminator(mcfg, DataInfo("image", (3, 28, 28), 1000)).eval()
    centers = torch.stack([torch.zeros(784), torch.ones(784)])
    x = torch.stack([torch.stack([torch.full((28, 28), v) for v in vals])
                     for vals in ((-1.0, 1.0, 1.0), (0.9, -0.8, 0.7))])  # channel clusters 011 and 101
    with torch.no_grad():
        assert torch.equal(ClusterLabelled(D, centers, channels=True)(x), D(x, torch.tensor([3, 5])))


def test_channel_cluster_config_errors():
    base = {"clusters": 10, "conditioning": "projection", "cluster_channels": True}
    with pytest.raises(GanforgeError, match="set model.clusters"):
        validate(small_config(data={"name": "stacked_mnist"}, model={"conditioning": "projection", "cluster_channels": True}))
    with pytest.raises(GanforgeError, match="set model.conditioning=projection"):
        validate(small_config(data={"name": "stacked_mnist"}, model=dict(base, conditioning="acgan")))
    with pytest.raises(GanforgeError, match="mnist images have one"):
        validate(small_config(data={"name": "mnist"}, model=base))
    with pytest.raises(GanforgeError, match="latent_dim must be at least 3"):
        validate(small_config(data={"name": "stacked_mnist"}, model=dict(base, latent_dim=2)))
