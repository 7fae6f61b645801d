"""junyanz/pytorch-CycleGAN-and-pix2pix's training pieces, as the reference scripts use them:
`init_weights` (normal, gain 0.02), `set_requires_grad`, the LSGAN loss (`GANLoss` with
`gan_mode="lsgan"`), the 50-image history pool (`util/image_pool.py`), Adam 2e-4 with
beta1 0.5, and the networks of `junyanz_networks.py` built from a config dict. Shared by
`make_training_fixtures.py` (the parity fixtures) and `bench_train.py` (the benchmark).
"""

import random
import warnings

import torch
import torch.nn as nn

from junyanz_networks import NLayerDiscriminator, ResnetGenerator, UnetGenerator

LR, BETA1, BETA2, EPS = 2e-4, 0.5, 0.999, 1e-8
INIT_GAIN = 0.02


def init_weights(net: nn.Module, gain: float = INIT_GAIN):
    """junyanz networks.init_weights(net, 'normal', gain)."""

    def init_func(m):
        classname = m.__class__.__name__
        if hasattr(m, "weight") and (classname.find("Conv") != -1 or classname.find("Linear") != -1):
            nn.init.normal_(m.weight.data, 0.0, gain)
            if hasattr(m, "bias") and m.bias is not None:
                nn.init.constant_(m.bias.data, 0.0)
        elif classname.find("BatchNorm2d") != -1:
            nn.init.normal_(m.weight.data, 1.0, gain)
            nn.init.constant_(m.bias.data, 0.0)

    net.apply(init_func)
    return net


def set_requires_grad(nets, requires_grad: bool):
    """junyanz BaseModel.set_requires_grad."""
    for net in nets if isinstance(nets, list) else [nets]:
        for p in net.parameters():
            p.requires_grad = requires_grad


def gan_loss(prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    """junyanz GANLoss('lsgan'): MSE against 1.0 / 0.0 expanded to the prediction's shape."""
    target = torch.tensor(1.0 if target_is_real else 0.0, dtype=prediction.dtype)
    return nn.functional.mse_loss(prediction, target.expand_as(prediction))


class ImagePool:
    """junyanz util/image_pool.py ImagePool."""

    def __init__(self, pool_size: int, rng: random.Random):
        self.pool_size, self.num_imgs, self.images, self.rng = pool_size, 0, [], rng
        self.random_branch_taken = False

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.pool_size == 0:
            return images
        out = []
        for image in images:
            image = torch.unsqueeze(image.data, 0)
            if self.num_imgs < self.pool_size:
                self.num_imgs += 1
                self.images.append(image)
                out.append(image)
            else:
                self.random_branch_taken = True
                if self.rng.uniform(0, 1) > 0.5:
                    rid = self.rng.randint(0, self.pool_size - 1)
                    tmp = self.images[rid].clone()
                    self.images[rid] = image
                    out.append(tmp)
                else:
                    out.append(image)
        return torch.cat(out, 0)


def adam(params):
    return torch.optim.Adam(params, lr=LR, betas=(BETA1, BETA2), eps=EPS)


def build_net(cfg: dict) -> nn.Module:
    if cfg["class"] == "UnetGenerator":
        return UnetGenerator(cfg["input_nc"], cfg["output_nc"], cfg["num_downs"], cfg["ngf"],
                             cfg["norm"], cfg["use_dropout"])
    if cfg["class"] == "ResnetGenerator":
        return ResnetGenerator(cfg["input_nc"], cfg["output_nc"], cfg["ngf"], cfg["n_blocks"],
                               cfg["norm"], use_dropout=cfg["use_dropout"])
    if cfg["class"] == "NLayerDiscriminator":
        return NLayerDiscriminator(cfg["input_nc"], cfg["ndf"], cfg["n_layers"], cfg["norm"])
    raise ValueError(cfg["class"])


def lr_schedule(s: dict) -> dict:
    """The lr each epoch trains with, from a real LambdaLR stepped as train.py steps it."""

    def lambda_rule(epoch):  # networks.get_scheduler, lr_policy 'linear'
        return 1.0 - max(0, epoch + s["epoch_count"] - s["n_epochs"]) / float(s["n_epochs_decay"] + 1)

    epochs = list(range(s["epoch_count"], s["n_epochs"] + s["n_epochs_decay"] + 1))
    result = {}
    warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step")
    for mode in ("end_of_epoch", "start_of_epoch"):
        opt = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=s["lr"], betas=(BETA1, BETA2))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda=lambda_rule)
        lrs = []
        for _ in epochs:
            if mode == "start_of_epoch":
                sched.step()
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()  # (the epoch's iterations)
            if mode == "end_of_epoch":
                sched.step()
        result[mode] = lrs
    return {
        **s, "epochs": epochs,
        "lambda_rule": "1 - max(0, e + epoch_count - n_epochs) / (n_epochs_decay + 1)",
        "lambda_at": {str(e): lambda_rule(e) for e in range(0, len(epochs) + 1)},
        "lr_per_epoch": result,
        "notes": "lr_per_epoch[mode][i] = the lr used by every iteration of epoch epochs[i]. "
                 "LambdaLR sets lr = base_lr * lambda_rule(k) after its k-th step() (k = 0 at "
                 "construction). end_of_epoch: scheduler.step() after each epoch (train.py until "
                 "2020, and the convention asked for): epoch e uses lambda_rule(e - 1): constant for "
                 "n_epochs epochs, then linear decay, last epoch lr/(n_epochs_decay+1), never 0. "
                 "start_of_epoch: junyanz master calls model.update_learning_rate() at the start of "
                 "every epoch (so also before the first one): epoch e uses lambda_rule(e): one "
                 "constant epoch fewer and lr exactly 0 in the last epoch.",
    }
