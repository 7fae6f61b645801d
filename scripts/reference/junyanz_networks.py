"""The reference networks: the module structure of junyanz/pytorch-CycleGAN-and-pix2pix
`models/networks.py` (ResNet and U-Net generators, the N-layer PatchGAN) and torchvision's
VGG19 feature stack, as the fixture scripts build them. Shared by `make_network_fixtures.py`,
`make_training_fixtures.py` and `make_nst_fixtures.py`; the Rust networks are checked against
the outputs of these classes.
"""

import collections
import functools

import torch
import torch.nn as nn

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def get_norm_layer(norm: str, affine: bool = False):
    """junyanz `get_norm_layer`; `affine` only for the instance norm variant some forks use."""
    if norm == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=affine, track_running_stats=False)
    if norm == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    raise ValueError(norm)


def uses_bias(norm_layer) -> bool:
    """junyanz: convs followed by a norm have a bias only with InstanceNorm."""
    return norm_layer.func == nn.InstanceNorm2d


class ResnetBlock(nn.Module):
    """junyanz ResnetBlock (reflect padding); `block_name` is `conv_block` officially, `block` in
    vintagify."""

    def __init__(self, dim, norm_layer, use_dropout, use_bias, block_name="conv_block"):
        super().__init__()
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, padding=0, bias=use_bias),
                  norm_layer(dim), nn.ReLU(True)]
        if use_dropout:
            layers += [nn.Dropout(0.5)]
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, padding=0, bias=use_bias),
                   norm_layer(dim)]
        self._block_name = block_name
        setattr(self, block_name, nn.Sequential(*layers))

    def forward(self, x):
        return x + getattr(self, self._block_name)(x)


class ResnetGenerator(nn.Module):
    """junyanz ResnetGenerator: c7s1-ngf, 2 stride-2 downsamplings, n_blocks residual blocks, 2
    ConvTranspose2d upsamplings, c7s1-output_nc (with bias), tanh."""

    def __init__(self, input_nc, output_nc, ngf, n_blocks, norm="instance", affine=False,
                 block_name="conv_block", use_dropout=False):
        super().__init__()
        norm_layer = get_norm_layer(norm, affine)
        use_bias = uses_bias(norm_layer)
        model = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, padding=0, bias=use_bias),
                 norm_layer(ngf), nn.ReLU(True)]
        for i in range(2):
            mult = 2 ** i
            model += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=use_bias),
                      norm_layer(ngf * mult * 2), nn.ReLU(True)]
        for _ in range(n_blocks):
            model += [ResnetBlock(ngf * 4, norm_layer, use_dropout, use_bias, block_name)]
        for i in range(2):
            mult = 2 ** (2 - i)
            model += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1,
                                         output_padding=1, bias=use_bias),
                      norm_layer(ngf * mult // 2), nn.ReLU(True)]
        model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        return self.model(x)


class UnetSkipConnectionBlock(nn.Module):
    """junyanz UnetSkipConnectionBlock: X -> [X, up(sub(down(X)))] (outermost: no concat)."""

    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False,
                 innermost=False, norm_layer=None, use_dropout=False):
        super().__init__()
        self.outermost = outermost
        use_bias = uses_bias(norm_layer)
        if input_nc is None:
            input_nc = outer_nc
        downconv = nn.Conv2d(input_nc, inner_nc, 4, stride=2, padding=1, bias=use_bias)
        downrelu = nn.LeakyReLU(0.2, True)
        downnorm = norm_layer(inner_nc)
        uprelu = nn.ReLU(True)
        upnorm = norm_layer(outer_nc)
        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, stride=2, padding=1)
            model = [downconv, submodule, uprelu, upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, 4, stride=2, padding=1, bias=use_bias)
            model = [downrelu, downconv, uprelu, upconv, upnorm]
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, stride=2, padding=1,
                                        bias=use_bias)
            model = [downrelu, downconv, downnorm, submodule, uprelu, upconv, upnorm]
            if use_dropout:
                model += [nn.Dropout(0.5)]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """junyanz UnetGenerator: num_downs stride-2 levels (unet_128: 7, unet_256: 8)."""

    def __init__(self, input_nc, output_nc, num_downs, ngf, norm="batch", use_dropout=False):
        super().__init__()
        nl = get_norm_layer(norm)
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, norm_layer=nl, innermost=True)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, norm_layer=nl,
                                            use_dropout=use_dropout)
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block, norm_layer=nl)
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block, norm_layer=nl)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block, norm_layer=nl)
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=block,
                                             outermost=True, norm_layer=nl)

    def forward(self, x):
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    """junyanz NLayerDiscriminator (PatchGAN): 4x4 convs, LeakyReLU(0.2), no sigmoid."""

    def __init__(self, input_nc, ndf, n_layers=3, norm="batch"):
        super().__init__()
        nl = get_norm_layer(norm)
        use_bias = uses_bias(nl)
        seq = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2 ** n, 8)
            seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2, padding=1, bias=use_bias),
                    nl(ndf * mult), nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2 ** n_layers, 8)
        seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1, bias=use_bias),
                nl(ndf * mult), nn.LeakyReLU(0.2, True)]
        seq += [nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*seq)

    def forward(self, x):
        return self.model(x)


class VGGFeatures(nn.Module):
    """torchvision `VGG.features` built by torchvision's own `make_layers` with the vgg19 cfg 'E'
    scaled to `widths`; with pool='avg' each MaxPool2d(2, 2) becomes AvgPool2d(2, 2) at the same
    index. Keys are `features.N.weight/bias`, N as in `torchvision.models.vgg19()`."""

    def __init__(self, widths, pool="max"):
        super().__init__()
        from torchvision.models import vgg as tv_vgg

        cfg, block = [], 0
        for v in tv_vgg.cfgs["E"]:
            if v == "M":
                cfg.append("M")
                block += 1
            else:
                cfg.append(widths[block])
        self.features = tv_vgg.make_layers(cfg)
        if pool == "avg":
            for i, m in enumerate(self.features):
                if isinstance(m, nn.MaxPool2d):
                    self.features[i] = nn.AvgPool2d(2, 2)
        # torchvision's VGG init (kaiming fan_out); bias random instead of 0 so it is exercised.
        for m in self.features:
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.uniform_(m.bias, -0.1, 0.1)

    def activations(self, image01):
        """Named activations for an image in [0, 1]: ImageNet-normalised, then every layer."""
        mean = torch.tensor(IMAGENET_MEAN, dtype=image01.dtype).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, dtype=image01.dtype).view(1, 3, 1, 1)
        x = (image01 - mean) / std
        out, b, i = collections.OrderedDict(), 1, 0
        for m in self.features:
            x = m(x)
            if isinstance(m, nn.Conv2d):
                i += 1
                out[f"conv{b}_{i}"] = x.clone()  # clone: the ReLUs work in place
            elif isinstance(m, nn.ReLU):
                out[f"relu{b}_{i}"] = x.clone()
            else:
                out[f"pool{b}"] = x.clone()
                b, i = b + 1, 0
        return out


def build(network: str, config: dict) -> nn.Module:
    c = config
    if network == "resnet":
        return ResnetGenerator(c["input_nc"], c["output_nc"], c["ngf"], c["n_blocks"], c["norm"],
                               c["affine"], c["block_name"], c["use_dropout"])
    if network == "unet":
        return UnetGenerator(c["input_nc"], c["output_nc"], c["num_downs"], c["ngf"], c["norm"],
                             c["use_dropout"])
    if network == "patchgan":
        return NLayerDiscriminator(c["input_nc"], c["ndf"], c["n_layers"], c["norm"])
    if network == "vgg19":
        return VGGFeatures(c["widths"], c["pool"])
    raise ValueError(network)
